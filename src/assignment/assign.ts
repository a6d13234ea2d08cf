// Who owns which bucket. Pure and deterministic: every node computes the same owners from the
// same view, with no history to agree on.
//
// Strategy "sticky" (the default): every configured node has a home set of buckets (its weighted
// share, interleaved over the bucket range). A live node always keeps its home buckets; the home
// buckets of dead nodes are spread over the survivors so that each ends at its weighted share of
// the whole range. So a death moves only the dead node's buckets, evenly; a return moves only
// those buckets back; nothing else ever moves.
//
// Strategy "modulo" is what CLUSTERIP under Pacemaker amounts to (a dead node's whole share lands
// on one survivor) and exists so the benchmark can compare the two.
import { jhash2words } from '../hash/jhash.js';

export interface Member {
  id: number;
  /** Relative share of the buckets; 1 unless configured. 0 = owns nothing (drained). */
  weight: number;
}

/** owners[b - 1] is the node id owning bucket b (1-based buckets); 0 = nobody. */
export type Owners = number[];

export const STRATEGIES = ['sticky', 'modulo'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Integer shares of `total` proportional to weights, by largest remainder; ties to lower id. */
export function shares(members: readonly Member[], total: number): Map<number, number> {
  const out = new Map<number, number>();
  const sum = members.reduce((s, m) => s + m.weight, 0);
  if (sum <= 0) {
    members.forEach((m) => out.set(m.id, 0));
    return out;
  }
  const exact = members.map((m) => ({ id: m.id, q: (total * m.weight) / sum }));
  let given = 0;
  for (const e of exact) {
    out.set(e.id, Math.floor(e.q));
    given += Math.floor(e.q);
  }
  const byRemainder = [...exact].sort((a, b) => b.q - Math.floor(b.q) - (a.q - Math.floor(a.q)) || a.id - b.id);
  for (let i = 0; given < total; i++, given++) out.set(byRemainder[i].id, out.get(byRemainder[i].id)! + 1);
  return out;
}

/**
 * Home buckets: each member's share, interleaved (smooth weighted round-robin), so that any
 * prefix of the range is shared fairly too.
 */
export function homeOwners(configured: readonly Member[], buckets: number): Owners {
  const members = [...configured].sort((a, b) => a.id - b.id);
  const quota = shares(members, buckets);
  const given = new Map(members.map((m) => [m.id, 0]));
  const owners: Owners = [];
  for (let b = 0; b < buckets; b++) {
    let best = 0;
    let bestLag = -Infinity;
    for (const m of members) {
      const q = quota.get(m.id)!;
      if (given.get(m.id)! >= q) continue;
      const lag = (q * (b + 1)) / buckets - given.get(m.id)!;
      if (lag > bestLag) {
        best = m.id;
        bestLag = lag;
      }
    }
    owners.push(best);
    if (best) given.set(best, given.get(best)! + 1);
  }
  return owners;
}

/** Owners of every bucket when the nodes in `live` are up. */
export function assign(configured: readonly Member[], live: ReadonlySet<number>, buckets: number, strategy: Strategy = 'sticky'): Owners {
  return strategy === 'modulo' ? assignModulo(configured, live, buckets) : assignSticky(configured, live, buckets);
}

function assignSticky(configured: readonly Member[], live: ReadonlySet<number>, buckets: number): Owners {
  const home = homeOwners(configured, buckets);
  const alive = configured.filter((m) => live.has(m.id) && m.weight > 0).sort((a, b) => a.id - b.id);
  if (alive.length === 0) return home.map(() => 0);
  const target = shares(alive, buckets);
  const have = new Map(alive.map((m) => [m.id, 0]));
  const owners: Owners = home.map(() => 0);
  const orphans: number[] = [];
  home.forEach((id, b) => {
    // Keep a home bucket while under target (a node over target can only happen by rounding).
    if (have.has(id) && have.get(id)! < target.get(id)!) {
      owners[b] = id;
      have.set(id, have.get(id)! + 1);
    } else orphans.push(b);
  });
  for (const b of orphans) {
    // The survivor furthest below its target takes it; ties are broken by a per-bucket hash so
    // that consecutive orphans do not pile on one node.
    let best = alive[0].id;
    let bestKey = -Infinity;
    for (const m of alive) {
      const deficit = target.get(m.id)! - have.get(m.id)!;
      if (deficit <= 0) continue;
      const key = deficit * 0x100000000 + jhash2words(b, m.id, 0x61617669);
      if (key > bestKey) {
        best = m.id;
        bestKey = key;
      }
    }
    owners[b] = best;
    have.set(best, have.get(best)! + 1);
  }
  return owners;
}

function assignModulo(configured: readonly Member[], live: ReadonlySet<number>, buckets: number): Owners {
  // CLUSTERIP clone instances: bucket b belongs to instance b; a dead node's instances all
  // restart on the first survivor (Pacemaker picks one node for the whole instance).
  const home = homeOwners(configured, buckets);
  const alive = configured
    .filter((m) => live.has(m.id))
    .map((m) => m.id)
    .sort((a, b) => a - b);
  if (alive.length === 0) return home.map(() => 0);
  return home.map((id) => (live.has(id) ? id : alive[id % alive.length]));
}

export interface Move {
  bucket: number;
  from: number;
  to: number;
  /** handover: both owners alive, the old one drains; takeover: the old owner is gone. */
  kind: 'handover' | 'takeover';
}

/** The buckets that change owner between two assignments. */
export function moves(before: Owners, after: Owners, live: ReadonlySet<number>): Move[] {
  const out: Move[] = [];
  after.forEach((to, i) => {
    const from = before[i] ?? 0;
    if (from !== to) out.push({ bucket: i + 1, from, to, kind: from !== 0 && live.has(from) ? 'handover' : 'takeover' });
  });
  return out;
}

/** The 1-based buckets owned by `node`. */
export function bucketsOf(owners: Owners, node: number): number[] {
  const out: number[] = [];
  owners.forEach((id, i) => {
    if (id === node) out.push(i + 1);
  });
  return out;
}
