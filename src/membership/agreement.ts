// Agreement on what decides owners. Every node computes owners on its own, so the facts behind
// them — the nodes' configured weights and each VIP's hashing parameters — must be the same
// everywhere. A reload on one node only (a changed weight, a VIP with another bucket count) would
// otherwise make nodes compute different owners: buckets served twice, or by nobody.
//
// Each heartbeat carries its sender's facts. Among the live nodes the facts held by the most
// nodes win (a tie goes to the facts of the lowest node id), and every node computes owners from
// the winning facts, so all agree while they disagree. A node whose parameters for a VIP differ
// from the winning ones hashes that VIP differently, so it is left out of that VIP (owns none of
// its buckets, as if drained) until it agrees.
import { createHash } from 'node:crypto';
import type { Member } from '../assignment/assign.js';

export interface ClusterFacts {
  /** [node id, configured weight], sorted by id. */
  weights: [number, number][];
  /** Per VIP (its key in heartbeats), a digest of what its rules hash with. */
  vips: Record<string, string>;
}

export const factsDigest = (f: ClusterFacts): string =>
  createHash('sha256')
    .update(JSON.stringify([f.weights, Object.entries(f.vips).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]))
    .digest('hex')
    .slice(0, 16);

/** Digest of a VIP's hashing parameters (what makes two nodes put a packet in the same bucket). */
export const vipDigest = (parts: readonly (string | number)[]): string => createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 16);

export function factsOf(nodes: readonly Member[], vips: Record<string, string>): ClusterFacts {
  return { weights: [...nodes].sort((a, b) => a.id - b.id).map((n) => [n.id, n.weight]), vips: { ...vips } };
}

export interface Agreement {
  facts: ClusterFacts;
  digest: string;
  /** Live nodes whose facts differ from the winning ones (empty when all agree). */
  dissenters: number[];
  /** Per VIP of the winning facts, the live nodes left out of it (their parameters differ). */
  excluded: Record<string, number[]>;
}

/**
 * The facts every node uses, from the facts of each live node (`byNode` must hold the local
 * node's; a live peer whose facts are unknown — an older daemon — counts as agreeing).
 */
export function agree(live: readonly number[], byNode: ReadonlyMap<number, ClusterFacts>, local: number): Agreement {
  const mine = byNode.get(local);
  if (!mine) throw new Error("the local node's facts are required");
  const votes = new Map<string, { facts: ClusterFacts; count: number; lowest: number }>();
  const digestOf = new Map<number, string>();
  for (const id of [...live].sort((a, b) => a - b)) {
    const facts = byNode.get(id) ?? mine;
    const d = factsDigest(facts);
    digestOf.set(id, d);
    const v = votes.get(d);
    if (v) v.count++;
    else votes.set(d, { facts, count: 1, lowest: id });
  }
  const [digest, winner] = [...votes].sort(([, a], [, b]) => b.count - a.count || a.lowest - b.lowest)[0];
  const dissenters = [...digestOf].filter(([, d]) => d !== digest).map(([id]) => id);
  const excluded: Record<string, number[]> = {};
  for (const [vip, want] of Object.entries(winner.facts.vips)) {
    const out = live.filter((id) => (byNode.get(id) ?? mine).vips[vip] !== want);
    if (out.length) excluded[vip] = [...out].sort((a, b) => a - b);
  }
  return { facts: winner.facts, digest, dissenters, excluded };
}

/** The winning configured weights as members (node ids the facts do not name keep weight 0). */
export const agreedMembers = (a: Agreement, ids: readonly number[]): Member[] =>
  ids.map((id) => ({ id, weight: a.facts.weights.find(([n]) => n === id)?.[1] ?? 0 }));
