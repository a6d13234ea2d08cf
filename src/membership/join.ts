// Who held each bucket before this node (re)joins a VIP: what makes a join a handover rather
// than a grab. Pure: it is given the view, the live peers' latest heartbeats and what this node's
// own previous run left in the kernel.
import type { Member, Owners } from '../assignment/assign.js';
import { ownersOfView } from './handover.js';
import type { View } from './membership.js';
import { bucketsOfBitmap, type Heartbeat } from './wire.js';

export interface JoinInput {
  local: number;
  view: View;
  nodes: readonly Member[];
  buckets: number;
  /** The VIP's key in heartbeats. */
  vip: string;
  /** The latest heartbeat of each live peer heard directly. */
  peers: readonly Heartbeat[];
  /** Buckets this node's rules in the kernel still serve (a quick restart). */
  leftover: ReadonlySet<number>;
  /**
   * Re-joining after our lease lapsed: the peers may be taking our buckets over at this very
   * moment, and their heartbeats in hand may predate it, so every live peer is taken to hold what
   * it would own without us (the next heartbeats then hand over, or give back at once, each bucket).
   */
  afterLapse?: boolean;
}

/**
 * Buckets a live peer holds (its heartbeat's bitmap) are the peer's, to be handed over without
 * resets; buckets only our leftover rules serve are ours. A live peer heard only by hearsay, or
 * one whose view does not have us live (it may be taking our buckets over right now: we are
 * re-joining after our lease lapsed), is taken to hold what it would hold without us — handed
 * over, never taken from under it.
 */
export function ownersBeforeJoin(i: JoinInput): Owners {
  const served = i.peers.map((h) => ({ id: h.from, buckets: bucketsOfBitmap(h.holding[i.vip] ?? '') }));
  const unheard = new Set(i.view.live.filter((id) => id !== i.local && (i.afterLapse || !i.peers.some((h) => h.from === id && h.live.includes(i.local)))));
  const without = ownersOfView({ ...i.view, live: i.view.live.filter((id) => id !== i.local) }, i.nodes, i.buckets, undefined, i.vip);
  return Array.from(
    { length: i.buckets },
    (_, k) => served.find((p) => p.buckets.has(k + 1))?.id ?? (i.leftover.has(k + 1) ? i.local : unheard.has(without[k]) ? without[k] : 0),
  );
}

/**
 * The previous owners for a view change: the keeper's, except that a bucket nobody owned in our
 * last view (we had no quorum, say) may be held by a live peer now, which had quorum meanwhile:
 * such a bucket is handed over by that peer, never grabbed from under its connections — and a
 * peer without a recent heartbeat that has us live is taken to hold what it would own without us.
 */
export function ownersBeforeView(current: Owners, i: Omit<JoinInput, 'leftover' | 'afterLapse'>): Owners {
  if (!current.includes(0)) return current;
  const fromPeers = ownersBeforeJoin({ ...i, leftover: new Set() });
  return current.map((id, k) => (id !== 0 ? id : fromPeers[k]));
}
