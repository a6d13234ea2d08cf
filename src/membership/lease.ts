// How long the kernel may go on serving this node's buckets without hearing from the daemon
// again. Rules carry a lease (nft element timeouts) that the daemon renews every heartbeat
// interval, so a daemon killed, crashed or frozen stops serving on its own — and it must stop
// before any peer takes its buckets over, which a peer does a deadtime after it last heard it.
// Peers echo in their heartbeats the latest of our heartbeats they heard (or heard of through
// another peer), and we know when we sent it, so the lease never runs past the earliest moment
// any of them could declare us dead: a one-sided cut (they no longer hear us, we still hear them)
// lets our buckets lapse before they take them.
export interface LeaseInput {
  now: number;
  deadtimeMs: number;
  intervalMs: number;
  /**
   * Per live peer heard directly, when we sent the latest heartbeat it is known to have had news
   * of (undefined: none).
   */
  heardUsAt: ReadonlyMap<number, number | undefined>;
  /** How many peers must still hear us (confirmationsNeeded). */
  needed: number;
}

/** A lease shorter than this is not worth a kernel update: the buckets are let go instead. */
export const MIN_LEASE_MS = 20;

/** Kept off the bound for the peers' and our own timer granularity. */
const SLACK_MS = 5;

/**
 * How many peers must confirm they hear us for our buckets to be safe. A node takes our buckets
 * only from a quorate view without us, and a peer that hears any node that hears us learns of us
 * by hearsay — so the nodes that could take over are those outside the confirming ones, and they
 * must be too few for a majority. With `quorum: ignore` any one node may take over: every live
 * peer must confirm.
 */
export function confirmationsNeeded(nodes: number, quorum: 'majority' | 'ignore', livePeers: number): number {
  if (quorum === 'ignore') return livePeers;
  const majority = Math.floor(nodes / 2) + 1;
  return Math.max(0, nodes - majority);
}

/**
 * The lease to grant now, in ms (0: grant none, let the buckets lapse). At most a deadtime less
 * one interval (the renewal period, so a renewal that runs late still ends before a peer's
 * takeover), and ending before the moment the `needed`-th best-informed peer could judge us dead:
 * a deadtime after the sending of the latest heartbeat of ours it is known to have had news of.
 */
export function leaseMs(i: LeaseInput): number {
  let until = i.now + i.deadtimeMs - i.intervalMs;
  if (i.needed > 0) {
    const bounds = [...i.heardUsAt.values()].map((at) => (at === undefined ? -Infinity : at + i.deadtimeMs - SLACK_MS)).sort((a, b) => b - a);
    until = Math.min(until, bounds.length >= i.needed ? bounds[i.needed - 1] : -Infinity);
  }
  const ms = Math.floor(until - i.now);
  return ms >= MIN_LEASE_MS ? ms : 0;
}

/**
 * Whether a lease granted at `grantedAt` for `ms` may have run out in the kernel by `now`. A
 * lapsed lease is never renewed: peers may have taken the buckets meanwhile, so the VIP joins
 * again as a returning node does (handover from whoever holds its buckets now).
 */
export const lapsed = (now: number, grantedAt: number, ms: number): boolean => now >= grantedAt + ms;
