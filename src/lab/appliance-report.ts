// The appliance lab's judgement, pure: the client's attempts, the nodes' IPVS connection tables
// and the bucket owners in, per-node and per-real-server figures and must-show 1's checks out.
import type { Owners } from '../assignment/assign.js';
import { bucketsOf } from '../assignment/assign.js';
import { parseIpvsConnections } from '../lvs/ipvs/conn-table.js';
import type { Attempt } from './client.js';

/** One row of /proc/net/ip_vs_conn_sync: a connection in a director's IPVS table and where it came from. */
export interface IpvsConn {
  client: string;
  virtual: string;
  real: string;
  state: string;
  /** LOCAL: this director scheduled it; SYNC: learnt from a peer's sync daemon. */
  origin: 'LOCAL' | 'SYNC';
}

/** /proc/net/ip_vs_conn_sync's rows, endpoints as address:port (the lab is IPv4). */
export function parseIpvsConnSync(text: string): IpvsConn[] {
  return parseIpvsConnections(text).map((c) => ({
    client: `${c.client}:${c.cport}`,
    virtual: `${c.vaddr}:${c.vport}`,
    real: `${c.raddr}:${c.rport}`,
    state: c.state,
    origin: c.origin,
  }));
}

export interface RealServerInfo {
  name: string;
  address: string;
  weight: number;
}

export interface ApplianceInput {
  attempts: Attempt[];
  /** Node id → every connection seen in its IPVS table during and after the run. */
  tables: Map<number, IpvsConn[]>;
  owners: Owners;
  /** The node that owns the bucket of a client endpoint (the hash model and the assignment). */
  ownerOf: (src: string, sport: number) => number;
  reals: RealServerInfo[];
  /** Node id → the virtual service's connection counter (ipvsadm -Ln --stats). */
  scheduled: Map<number, number>;
  nodeName: (i: number) => string;
}

export interface ApplianceReport {
  connections: number;
  failed: number;
  failures: Record<string, number>;
  /** For the first failed connections: what every node and real server held for them (appliance-diagnose.ts). */
  explained?: string[];
  /**
   * Answered connections (all closed by the client) that some node's IPVS still held as
   * ESTABLISHED once the burst was over: their end never reached it, so the entry would outlive
   * them by 15 minutes and swallow a later connection from the same port.
   */
  openAfterClose?: number;
  perNode: { node: string; buckets: number; directed: number; scheduled: number; synced: number }[];
  perReal: { name: string; address: string; weight: number; served: number; share: number; weightedShare: number }[];
  /** Answered connections whose scheduling (LOCAL) entry is missing, on another node than the bucket's owner, or on several. */
  notOnOwner: number;
  missingEntry: number;
  onSeveral: number;
  checks: { noneFailed: boolean; entriesOnOwners: boolean; sharesWithin10Percent: boolean };
  ok: boolean;
}

export function judgeAppliance(x: ApplianceInput): ApplianceReport {
  const answered = x.attempts.filter((a) => a.node);
  const failures: Record<string, number> = {};
  for (const a of x.attempts) if (!a.node) failures[a.error ?? 'unknown'] = (failures[a.error ?? 'unknown'] ?? 0) + 1;
  // Which nodes scheduled each client endpoint (LOCAL entries), and how many synced copies each holds.
  const schedulers = new Map<string, Set<number>>();
  const synced = new Map<number, Set<string>>();
  for (const [node, conns] of x.tables) {
    for (const c of conns) {
      if (c.origin === 'LOCAL') {
        if (!schedulers.has(c.client)) schedulers.set(c.client, new Set());
        schedulers.get(c.client)!.add(node);
      } else {
        if (!synced.has(node)) synced.set(node, new Set());
        synced.get(node)!.add(c.client);
      }
    }
  }
  let notOnOwner = 0;
  let missingEntry = 0;
  let onSeveral = 0;
  const directed = new Map<number, number>();
  for (const a of answered) {
    const on = schedulers.get(`${a.src}:${a.sport}`);
    const owner = x.ownerOf(a.src, a.sport);
    if (!on) missingEntry++;
    else if (on.size > 1) onSeveral++;
    else if (!on.has(owner)) notOnOwner++;
    for (const n of on ?? []) directed.set(n, (directed.get(n) ?? 0) + 1);
  }
  const totalWeight = x.reals.reduce((s, r) => s + r.weight, 0);
  const perReal = x.reals.map((r) => {
    const served = answered.filter((a) => a.node === r.name).length;
    return { ...r, served, share: answered.length ? served / answered.length : 0, weightedShare: r.weight / totalWeight };
  });
  const nodes = [...x.tables.keys()].sort((a, b) => a - b);
  const perNode = nodes.map((n) => ({
    node: x.nodeName(n),
    buckets: bucketsOf(x.owners, n).length,
    directed: directed.get(n) ?? 0,
    scheduled: x.scheduled.get(n) ?? 0,
    synced: synced.get(n)?.size ?? 0,
  }));
  const failed = x.attempts.length - answered.length;
  const checks = {
    noneFailed: failed === 0 && x.attempts.length > 0,
    entriesOnOwners: notOnOwner + missingEntry + onSeveral === 0,
    sharesWithin10Percent: perReal.every((r) => Math.abs(r.share - r.weightedShare) <= 0.1 * r.weightedShare),
  };
  return {
    connections: x.attempts.length,
    failed,
    failures,
    perNode,
    perReal,
    notOnOwner,
    missingEntry,
    onSeveral,
    checks,
    ok: Object.values(checks).every(Boolean),
  };
}
