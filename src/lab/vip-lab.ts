// A three-node active/active VIP in a namespace lab: the building block of `aavip lab demo` and of
// the integration tests. Each node runs the real `aavip vip apply` on its own kernel namespace and a
// responder; the client's connections are checked against the hash model's prediction.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { assign, bucketsOf, type Owners } from '../assignment/assign.js';
import { mechanismOf } from '../dataplane/backend.js';
import type { Ownership } from '../dataplane/types.js';
import { parseVipSpec } from '../dataplane/vipspec.js';
import type { VipSpec } from '../dataplane/types.js';
import { formatAddress, parseAddress } from '../hash/flow.js';
import { bucketOf } from '../hash/mechanisms.js';
import type { Hashmode } from '../hash/hashmode.js';
import type { Attempt, BurstOptions } from './client.js';
import { LAB_PREFIX_LENGTH, LAB_PREFIX_LENGTH6, NetnsLab } from './netns.js';
import { built } from '../paths.js';

export const CLI = built('cli/main.js');
const RESPONDER = built('lab/responder.js');
const CLIENT = built('lab/client.js');

export const VIP_ADDRESS = '198.18.0.100';
/** The lab's IPv6 VIP (labs created with family 6). */
export const VIP_ADDRESS6 = '2001:db8::100';
export const SERVICE_PORT = 8080;

export interface VipLabOptions {
  prefix: string;
  nodes?: number;
  hashmode?: Hashmode;
  buckets?: number;
  seed?: number;
  backend?: 'nft' | 'xt_cluster' | 'clusterip';
  clientAddresses?: number;
  /** 6: the VIP is IPv6 (2001:db8::100/64) and the client connects from IPv6 sources. */
  family?: 4 | 6;
}

export interface Tuple {
  src: string;
  sport: number;
}

export const nodeName = (i: number) => `node${i}`;

export class VipLab {
  owners: Owners = [];

  private constructor(
    readonly lab: NetnsLab,
    public vip: VipSpec,
  ) {}

  static async create(o: VipLabOptions): Promise<VipLab> {
    const v6 = o.family === 6;
    const lab = await NetnsLab.create({ prefix: o.prefix, nodes: o.nodes ?? 3, clientAddresses: o.clientAddresses ?? 200, ipv6: v6 });
    try {
      const vip = parseVipSpec({
        address: v6 ? `${VIP_ADDRESS6}/${LAB_PREFIX_LENGTH6}` : `${VIP_ADDRESS}/${LAB_PREFIX_LENGTH}`,
        interface: 'eth0',
        hashmode: o.hashmode ?? 'sourceip-sourceport',
        buckets: o.buckets ?? (o.backend === 'xt_cluster' || o.backend === 'clusterip' ? 3 : 256),
        seed: o.seed ?? 0x5eed,
        backend: o.backend ?? 'nft',
      });
      const vl = new VipLab(lab, vip);
      await vl.setOwners(
        assign(
          lab.nodeIds.map((id) => ({ id, weight: 1 })),
          new Set(lab.nodeIds),
          vip.buckets,
        ),
      );
      for (const i of lab.nodeIds) {
        const child = lab.spawn(lab.nodeNs(i), [process.execPath, RESPONDER, nodeName(i), String(SERVICE_PORT)]);
        await once(child.stdout!, 'data');
      }
      return vl;
    } catch (e) {
      await lab.destroy();
      throw e;
    }
  }

  vipArgs(): string[] {
    const v = this.vip;
    return [
      '--ip',
      `${formatAddress(v.address)}/${v.prefixLength}`,
      '--nic',
      v.interface,
      '--hashmode',
      v.hashmode,
      '--seed',
      String(v.seed),
      '--buckets',
      String(v.buckets),
      '--backend',
      v.backend,
      ...(v.fwmark !== undefined ? ['--fwmark', String(v.fwmark)] : []),
    ];
  }

  /** Runs `aavip vip apply` in node i's namespace. */
  async applyOwnership(i: number, o: Ownership): Promise<void> {
    await this.lab.exec(
      this.lab.nodeNs(i),
      [
        process.execPath,
        CLI,
        'vip',
        'apply',
        ...this.vipArgs(),
        '--own',
        o.owned.join(','),
        '--incoming',
        o.incoming.join(','),
        '--draining',
        o.draining.join(','),
      ],
      // Generous: under the VM lab's software emulation three of these at once take 10-20 s each.
      { timeoutMs: 180_000 },
    );
  }

  /** Static ownership: each node serves exactly its buckets of `owners`. */
  async setOwners(owners: Owners): Promise<void> {
    this.owners = owners;
    await Promise.all(this.lab.nodeIds.map((i) => this.applyOwnership(i, { owned: bucketsOf(owners, i), incoming: [], draining: [] })));
  }

  /** The VIP as the client dials it. */
  get target(): string {
    return formatAddress(this.vip.address);
  }
  /** The client's source addresses in the VIP's family. */
  get sources(): string[] {
    return this.vip.address.family === 6 ? this.lab.clientSources6 : this.lab.clientSources;
  }

  /** The node the hash model says serves this connection. */
  predictedNode(src: string, sport: number): number {
    return this.owners[this.bucketOfConnection(src, sport) - 1];
  }

  /** The bucket the hash model puts a client's TCP connection to the service in. */
  bucketOfConnection(src: string, sport: number): number {
    const flow = { src: parseAddress(src)!, srcPort: sport, dst: this.vip.address, dstPort: SERVICE_PORT, proto: 6 };
    const mechanism = mechanismOf(this.vip);
    return bucketOf({ mechanism, hashmode: this.vip.hashmode, seed: this.vip.seed, buckets: this.vip.buckets }, flow);
  }

  /**
   * `count` client tuples whose bucket passes `wanted`, from source ports 10000.. (below the
   * ephemeral range, so they never collide with the client's other connections), each used once.
   */
  tuplesWhere(wanted: (bucket: number) => boolean, count: number, firstPort = 10_000): Tuple[] {
    const out: Tuple[] = [];
    const sources = this.sources;
    for (let port = firstPort; port < 32_000 && out.length < count; port++) {
      const src = sources[port % sources.length];
      if (wanted(this.bucketOfConnection(src, port))) out.push({ src, sport: port });
    }
    return out;
  }

  /**
   * A burst of real connections from the client namespace: `count` from ephemeral ports, or
   * exactly the given tuples. `onProgress` sees (done, total) as connections finish.
   */
  async burst(count: number | Tuple[], concurrency = 32, timeoutMs = 3_000, onProgress?: (done: number, total: number) => void): Promise<Attempt[]> {
    const tuples = Array.isArray(count) ? count : undefined;
    const n = tuples?.length ?? (count as number);
    const opts: BurstOptions = {
      target: this.target,
      port: SERVICE_PORT,
      sources: this.sources,
      count: n,
      concurrency,
      timeoutMs,
      tuples,
      progress: !!onProgress,
    };
    const child = spawn('ip', ['netns', 'exec', this.lab.clientNs, process.execPath, CLIENT, '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(opts));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = line.match(/^progress (\d+) (\d+)$/);
      if (m) onProgress?.(Number(m[1]), Number(m[2]));
      else stderr += line + '\n';
    });
    // Bounded: every attempt has its own timeout, so the whole burst cannot take longer than this.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000 + Math.ceil(n / concurrency) * timeoutMs);
    const [status] = (await once(child, 'close')) as [number | null];
    clearTimeout(timer);
    if (status !== 0) throw new Error(`the lab client exited ${status}: ${stderr.trim()}`);
    return JSON.parse(stdout) as Attempt[];
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
  }
}

export interface BurstSummary {
  connections: number;
  failed: number;
  mispredicted: number;
  perNode: Record<string, number>;
  errors: Record<string, number>;
}

export function summarize(vl: VipLab, attempts: Attempt[]): BurstSummary {
  const perNode: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let failed = 0;
  let mispredicted = 0;
  for (const a of attempts) {
    if (!a.node) {
      failed++;
      errors[a.error ?? 'unknown'] = (errors[a.error ?? 'unknown'] ?? 0) + 1;
      continue;
    }
    perNode[a.node] = (perNode[a.node] ?? 0) + 1;
    if (a.node !== nodeName(vl.predictedNode(a.src, a.sport))) mispredicted++;
  }
  return { connections: attempts.length, failed, mispredicted, perNode, errors };
}
