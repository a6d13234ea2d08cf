// Three (or more) real daemons in a simulated world (world.ts), and the two invariants every
// ownership scenario is judged by: at most one node takes a bucket's new connections at any
// moment ("never two owners"), and a bucket goes without one only within the takeover bound
// ("never none").
import { randomBytes } from 'node:crypto';
import type { ClusterConfig } from '../../../src/config/cluster.js';
import { Daemon, type DaemonDeps } from '../../../src/daemon/daemon.js';
import type { VipSpec } from '../../../src/dataplane/types.js';
import { formatAddress, parseAddress } from '../../../src/hash/flow.js';
import { log } from '../../../src/log.js';
import { World } from './world.js';

export const VIP = '198.18.0.100';
export const BUCKETS = 256;
// Deadtime five intervals: what a lease needs to ride out a lost round or two (lease.ts).
export const INTERVAL = 60;
export const DEADTIME = 300;

export interface SimOptions {
  nodes?: number;
  weights?: number[];
  quorum?: 'majority' | 'ignore';
  buckets?: number;
  intervalMs?: number;
  deadtimeMs?: number;
  /** Replaces parts of a daemon's deps (a deliberately broken rule, for instance). */
  deps?: Partial<DaemonDeps>;
}

export const nodeName = (i: number) => `node${i}`;
export const addressOf = (i: number) => `198.18.1.${i}`;

export function vipSpec(buckets = BUCKETS, seed = 0x1234): VipSpec {
  return { address: parseAddress(VIP)!, prefixLength: 24, interface: 'eth0', mac: '01:00:5e:12:00:64', hashmode: 'sourceip', seed, buckets, backend: 'nft' };
}

export function clusterConfig(local: number, o: SimOptions = {}, key = randomBytes(32)): ClusterConfig {
  const n = o.nodes ?? 3;
  return {
    file: `/sim/${nodeName(local)}/cluster.yaml`,
    name: 'sim',
    nodes: Array.from({ length: n }, (_, k) => ({ id: k + 1, name: nodeName(k + 1), address: addressOf(k + 1), weight: o.weights?.[k] ?? 1 })),
    local,
    heartbeat: { port: 5405, intervalMs: o.intervalMs ?? INTERVAL, deadtimeMs: o.deadtimeMs ?? DEADTIME, copies: 2, restartGraceMs: 2000 },
    authkeyFile: '/sim/authkey',
    authkey: key,
    quorum: o.quorum ?? 'majority',
    drainTimeoutMs: 2000,
    controlSocket: `/sim/${nodeName(local)}.sock`,
    vips: [vipSpec(o.buckets)],
  } as ClusterConfig;
}

const quiet = log.child({});
quiet.level = 'silent';

export class SimCluster {
  readonly world = new World();
  readonly daemons = new Map<number, Daemon>();
  readonly key = randomBytes(32);
  private incarnations = 0;
  readonly ids: number[];
  /** Total ms during which some bucket had two nodes taking new connections. */
  twoOwnerMs = 0;
  /** The longest spell (ms) any bucket went with no node taking new connections, and which. */
  longestUnserved = { ms: 0, bucket: 0, at: 0 };
  private unservedSince = new Map<number, number>();
  /** The longest unserved spell (ms) of each bucket that had one. */
  readonly unservedByBucket = new Map<number, number>();
  private lastSample = 0;
  /** Unserved spells are not counted while this is set (a partition without quorum, by design). */
  exempt = false;

  constructor(readonly o: SimOptions = {}) {
    this.ids = Array.from({ length: o.nodes ?? 3 }, (_, k) => k + 1);
  }

  config(id: number): ClusterConfig {
    return clusterConfig(id, this.o, this.key);
  }

  async start(id: number, config = this.config(id), deps: Partial<DaemonDeps> = {}): Promise<Daemon> {
    const w = this.world;
    const node = addressOf(id);
    const kernel = w.kernel(node);
    const d = new Daemon(config, {
      clock: w.clock(node),
      transport: w.transport(node),
      dataplane: async () => kernel.dataplane((s) => formatAddress(s.address)),
      openFlows: async (s) => new Map(kernel.flows.get(formatAddress(s.address)) ?? []),
      incarnation: 1_000 + ++this.incarnations,
      log: quiet,
      ...this.o.deps,
      ...deps,
    });
    const vips = [];
    for (const spec of config.vips) vips.push(await d.addVip(spec));
    await d.start(vips);
    this.daemons.set(id, d);
    return d;
  }

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.start(id);
  }

  kill(id: number): void {
    this.world.kill(addressOf(id));
    this.daemons.delete(id);
  }
  freeze(id: number): void {
    this.world.freeze(addressOf(id));
  }
  thaw(id: number): void {
    this.world.thaw(addressOf(id));
  }
  kernel(id: number) {
    return this.world.kernel(addressOf(id));
  }

  /** Nodes whose kernel takes new connections in bucket b now (dead daemons' kernels included). */
  servers(b: number, vip = VIP): number[] {
    return this.ids.filter((id) => this.world.kernel(addressOf(id)).takesNew(vip, b));
  }

  private sample = (now: number): void => {
    const dt = now - this.lastSample;
    this.lastSample = now;
    const buckets = this.o.buckets ?? BUCKETS;
    let two = false;
    for (let b = 1; b <= buckets; b++) {
      const n = this.servers(b).length;
      if (n > 1) two = true;
      if (n === 0 && !this.exempt) {
        if (!this.unservedSince.has(b)) this.unservedSince.set(b, now);
      } else this.endSpell(b, now);
    }
    if (two) this.twoOwnerMs += dt;
  };

  private endSpell(b: number, now: number): void {
    const since = this.unservedSince.get(b);
    if (since === undefined) return;
    this.unservedSince.delete(b);
    this.unservedByBucket.set(b, Math.max(this.unservedByBucket.get(b) ?? 0, now - since));
    if (now - since > this.longestUnserved.ms) this.longestUnserved = { ms: now - since, bucket: b, at: since };
  }

  /** Runs the world for ms, sampling the invariants every 10 ms. */
  async run(ms: number): Promise<void> {
    await this.world.run(ms, this.sample, 10);
    for (const b of [...this.unservedSince.keys()]) this.endSpell(b, this.world.now);
  }

  /** Buckets per node, by the kernels (owned or incoming). */
  shares(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const id of this.ids) out[id] = 0;
    for (let b = 1; b <= (this.o.buckets ?? BUCKETS); b++) for (const id of this.servers(b)) out[id]++;
    return out;
  }

  async stopAll(): Promise<void> {
    // Updates still on their way to a slow kernel land first (they wait on the world's time).
    for (const k of this.world.kernels.values()) k.commitMs = 0;
    await this.world.run(1000);
    for (const d of this.daemons.values()) await d.stop().catch(() => undefined);
  }
}
