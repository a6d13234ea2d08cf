// A three-node active/active VIP in a namespace lab: the building block of `aavip lab demo` and of
// the integration tests. Each node runs the real `aavip vip apply` on its own kernel namespace and a
// responder; the client's connections are checked against the hash model's prediction.
import { once } from 'node:events';
import { assign, bucketsOf, type Owners } from '../assignment/assign.js';
import type { Ownership } from '../dataplane/types.js';
import { parseVipSpec } from '../dataplane/vipspec.js';
import type { VipSpec } from '../dataplane/types.js';
import { formatAddress, parseAddress } from '../hash/flow.js';
import { bucketOf } from '../hash/mechanisms.js';
import type { Hashmode } from '../hash/hashmode.js';
import type { Attempt, BurstOptions } from './client.js';
import { LAB_PREFIX_LENGTH, NetnsLab } from './netns.js';
import { built } from '../paths.js';

export const CLI = built('cli/main.js');
const RESPONDER = built('lab/responder.js');
const CLIENT = built('lab/client.js');

export const VIP_ADDRESS = '198.18.0.100';
export const SERVICE_PORT = 8080;

export interface VipLabOptions {
  prefix: string;
  nodes?: number;
  hashmode?: Hashmode;
  buckets?: number;
  seed?: number;
  backend?: 'nft' | 'xt_cluster' | 'clusterip';
  clientAddresses?: number;
}

export const nodeName = (i: number) => `node${i}`;

export class VipLab {
  owners: Owners = [];

  private constructor(readonly lab: NetnsLab, readonly vip: VipSpec) {}

  static async create(o: VipLabOptions): Promise<VipLab> {
    const lab = await NetnsLab.create({ prefix: o.prefix, nodes: o.nodes ?? 3, clientAddresses: o.clientAddresses ?? 200 });
    try {
      const vip = parseVipSpec({
        address: `${VIP_ADDRESS}/${LAB_PREFIX_LENGTH}`, interface: 'eth0', hashmode: o.hashmode ?? 'sourceip-sourceport',
        buckets: o.buckets ?? (o.backend === 'xt_cluster' || o.backend === 'clusterip' ? 3 : 256), seed: o.seed ?? 0x5eed, backend: o.backend ?? 'nft',
      });
      const vl = new VipLab(lab, vip);
      await vl.setOwners(assign(lab.nodeIds.map((id) => ({ id, weight: 1 })), new Set(lab.nodeIds), vip.buckets));
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
    return ['--ip', `${formatAddress(v.address)}/${v.prefixLength}`, '--nic', v.interface, '--hashmode', v.hashmode,
      '--seed', String(v.seed), '--buckets', String(v.buckets), '--backend', v.backend];
  }

  /** Runs `aavip vip apply` in node i's namespace. */
  async applyOwnership(i: number, o: Ownership): Promise<void> {
    await this.lab.exec(this.lab.nodeNs(i), [process.execPath, CLI, 'vip', 'apply', ...this.vipArgs(),
      '--own', o.owned.join(','), '--incoming', o.incoming.join(','), '--draining', o.draining.join(',')]);
  }

  /** Static ownership: each node serves exactly its buckets of `owners`. */
  async setOwners(owners: Owners): Promise<void> {
    this.owners = owners;
    await Promise.all(this.lab.nodeIds.map((i) => this.applyOwnership(i, { owned: bucketsOf(owners, i), incoming: [], draining: [] })));
  }

  /** The node the hash model says serves this connection. */
  predictedNode(src: string, sport: number): number {
    const flow = { src: parseAddress(src)!, srcPort: sport, dst: this.vip.address, dstPort: SERVICE_PORT, proto: 6 };
    const mechanism = this.vip.backend === 'auto' ? 'nft' : this.vip.backend;
    const bucket = bucketOf({ mechanism, hashmode: this.vip.hashmode, seed: this.vip.seed, buckets: this.vip.buckets }, flow);
    return this.owners[bucket - 1];
  }

  bucketOfConnection(src: string, sport: number): number {
    const flow = { src: parseAddress(src)!, srcPort: sport, dst: this.vip.address, dstPort: SERVICE_PORT, proto: 6 };
    const mechanism = this.vip.backend === 'auto' ? 'nft' : this.vip.backend;
    return bucketOf({ mechanism, hashmode: this.vip.hashmode, seed: this.vip.seed, buckets: this.vip.buckets }, flow);
  }

  /** A burst of real connections from the client namespace. */
  async burst(count: number, concurrency = 32, timeoutMs = 3_000): Promise<Attempt[]> {
    const opts: BurstOptions = { target: VIP_ADDRESS, port: SERVICE_PORT, sources: this.lab.clientSources, count, concurrency, timeoutMs };
    const r = await this.lab.exec(this.lab.clientNs, [process.execPath, CLIENT, JSON.stringify(opts)], { timeoutMs: 60_000 + count * 50 });
    return JSON.parse(r.stdout) as Attempt[];
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
    if (!a.node) { failed++; errors[a.error ?? 'unknown'] = (errors[a.error ?? 'unknown'] ?? 0) + 1; continue; }
    perNode[a.node] = (perNode[a.node] ?? 0) + 1;
    if (a.node !== nodeName(vl.predictedNode(a.src, a.sport))) mispredicted++;
  }
  return { connections: attempts.length, failed, mispredicted, perNode, errors };
}
