// Reconciling IPVS: the difference between the table we want and the table the kernel has, as a
// list of operations. Pure. Services we never managed are left alone.
import type { IpvsDestination, IpvsServiceState } from '../config/desired.js';

export type IpvsOp =
  | { op: 'add-service'; service: IpvsServiceState }
  | { op: 'edit-service'; service: IpvsServiceState }
  | { op: 'delete-service'; service: IpvsServiceState }
  | { op: 'add-dest'; service: IpvsServiceState; dest: IpvsDestination }
  | { op: 'edit-dest'; service: IpvsServiceState; dest: IpvsDestination }
  | { op: 'delete-dest'; service: IpvsServiceState; dest: IpvsDestination };

/** A service's identity in the kernel: protocol, family and address:port or mark. */
export const serviceKey = (s: Pick<IpvsServiceState, 'protocol' | 'family' | 'address'>) => `${s.protocol}/${s.family}/${s.address}`;

const sameService = (a: IpvsServiceState, b: IpvsServiceState) =>
  a.scheduler === b.scheduler && a.persistent === b.persistent && (a.persistent === null || (a.netmask ?? '') === (b.netmask ?? ''));

const sameDest = (a: IpvsDestination, b: IpvsDestination) =>
  a.weight === b.weight && a.forwarding === b.forwarding && a.lower === b.lower && a.upper === b.upper;

/**
 * Operations taking `live` to `desired`. `managed` are the keys of services this director owns:
 * those absent from `desired` are deleted; all others not in `desired` are left as they are.
 */
export function planIpvs(desired: IpvsServiceState[], live: IpvsServiceState[], managed: ReadonlySet<string> = new Set()): IpvsOp[] {
  const ops: IpvsOp[] = [];
  const liveByKey = new Map(live.map((s) => [serviceKey(s), s]));
  const wanted = new Set(desired.map(serviceKey));
  for (const s of desired) {
    const cur = liveByKey.get(serviceKey(s));
    if (!cur) {
      ops.push({ op: 'add-service', service: s });
      for (const d of s.realServers) ops.push({ op: 'add-dest', service: s, dest: d });
      continue;
    }
    if (!sameService(s, cur)) ops.push({ op: 'edit-service', service: s });
    const curDests = new Map(cur.realServers.map((d) => [d.address, d]));
    const wantDests = new Set(s.realServers.map((d) => d.address));
    // Removals first, so a fallback leaves before a real server it replaced comes back in full.
    for (const d of cur.realServers) if (!wantDests.has(d.address)) ops.push({ op: 'delete-dest', service: s, dest: d });
    for (const d of s.realServers) {
      const c = curDests.get(d.address);
      if (!c) ops.push({ op: 'add-dest', service: s, dest: d });
      else if (!sameDest(c, d)) ops.push({ op: 'edit-dest', service: s, dest: d });
    }
  }
  for (const s of live) if (managed.has(serviceKey(s)) && !wanted.has(serviceKey(s))) ops.push({ op: 'delete-service', service: s });
  return ops;
}

/** The table after applying `ops` to `live` (used by the in-memory table and to check plans). */
export function applyOps(live: IpvsServiceState[], ops: IpvsOp[]): IpvsServiceState[] {
  const table = new Map(live.map((s) => [serviceKey(s), { ...s, realServers: [...s.realServers] }]));
  for (const o of ops) {
    const key = serviceKey(o.service);
    const cur = table.get(key);
    switch (o.op) {
      case 'add-service':
        if (cur) throw new Error(`service ${key} exists`);
        table.set(key, { ...o.service, realServers: [] });
        break;
      case 'edit-service':
        if (!cur) throw new Error(`no service ${key}`);
        table.set(key, { ...o.service, realServers: cur.realServers });
        break;
      case 'delete-service':
        table.delete(key);
        break;
      case 'add-dest':
        if (!cur) throw new Error(`no service ${key}`);
        if (cur.realServers.some((d) => d.address === o.dest.address)) throw new Error(`destination ${o.dest.address} exists`);
        cur.realServers.push({ ...o.dest });
        break;
      case 'edit-dest': {
        if (!cur) throw new Error(`no service ${key}`);
        const i = cur.realServers.findIndex((d) => d.address === o.dest.address);
        if (i < 0) throw new Error(`no destination ${o.dest.address}`);
        cur.realServers[i] = { ...o.dest };
        break;
      }
      case 'delete-dest':
        if (!cur) throw new Error(`no service ${key}`);
        cur.realServers = cur.realServers.filter((d) => d.address !== o.dest.address);
        break;
    }
  }
  return [...table.values()];
}
