// What this node says in each heartbeat (pure): its view, its weight settings, whom it hears, and
// per VIP what it holds and drains — so a joining node knows what to take over.
import { bodyBytes, bucketBitmap, type CheckVerdicts, MAX_BODY, type Heartbeat, type Hearsay, type WeightSetting } from '../membership/wire.js';
import type { ClusterFacts } from '../membership/agreement.js';
import type { TrackVerdict } from '../track/state.js';
import { viewKey, type View } from '../membership/membership.js';
import type { VipRuntime } from './vip-runtime.js';

export interface HeartbeatInput {
  cluster: string;
  from: number;
  incarnation: number;
  seq: number;
  view: View;
  weights: WeightSetting[];
  heard: Hearsay[];
  facts: ClusterFacts;
  vips: readonly VipRuntime[];
  /** Before joining, nothing is announced as held. */
  joined: boolean;
  /** Shared checks: the verdicts this node vouches for. */
  checks?: CheckVerdicts;
  /** Its tracked services, when it has any. */
  track?: TrackVerdict;
  /** Per VIP, the buckets its kernels take (split-brain.ts). */
  taking?: Record<string, string>;
  farewell?: 'paused' | 'leaving';
}

export function buildHeartbeat(i: HeartbeatInput): Heartbeat {
  return {
    cluster: i.cluster,
    from: i.from,
    incarnation: i.incarnation,
    seq: i.seq,
    live: i.view.live,
    epoch: i.view.epoch,
    view: viewKey(i.view),
    quorate: i.view.quorate,
    weights: i.weights,
    heard: i.heard,
    facts: i.facts,
    draining: Object.fromEntries(i.vips.map((v) => [v.key, announcedDraining(v)])),
    // Before joining nothing is announced: the kernel's leftovers are not yet ours to speak for.
    holding: i.joined
      ? Object.fromEntries(
          i.vips.map((v) => {
            // What the keeper wants and what the kernel still has (until an update lands, both).
            const held = [v.keeper.ownership(), v.applier.kernelOwnership].flatMap((o) => (o ? [...o.owned, ...o.incoming, ...o.draining] : []));
            return [v.key, bucketBitmap([...new Set(held)], v.spec.buckets)];
          }),
        )
      : {},
    ...(i.checks ? { checks: i.checks } : {}),
    ...(i.taking ? { taking: i.taking } : {}),
    ...(i.track ? { track: i.track } : {}),
    ...(i.farewell ? { [i.farewell]: true } : {}),
  };
}

/**
 * The draining buckets our kernel no longer takes new connections in. The new owner starts taking
 * a bucket's new connections when it hears that we drain it, so we say so only once the kernel
 * update is in: on a loaded machine an update takes 100 ms or more, and announcing the decision
 * instead would let both kernels take new connections meanwhile.
 */
function announcedDraining(v: VipRuntime): number[] {
  const k = v.applier.kernelOwnership;
  if (!k) return [];
  const taking = new Set([...k.owned, ...k.incoming]);
  return v.keeper.drainingBuckets().filter((b) => !taking.has(b));
}

/**
 * The largest heartbeat a configuration can produce (every bucket of every VIP held and
 * draining, every peer heard, a weight setting for every node), in bytes of body: a configuration
 * whose heartbeat cannot fit one datagram is refused before anything starts.
 */
export function worstCaseBody(
  cluster: string,
  nodes: readonly number[],
  vips: readonly { key: string; buckets: number }[],
  facts: ClusterFacts,
  reals = 0,
  tracks: readonly string[] = [],
): number {
  const all = (n: number) => Array.from({ length: n }, (_, k) => k + 1);
  const hb: Heartbeat = {
    cluster,
    from: Math.max(...nodes),
    incarnation: Number.MAX_SAFE_INTEGER,
    seq: Number.MAX_SAFE_INTEGER,
    live: [...nodes],
    epoch: Number.MAX_SAFE_INTEGER,
    view: `nq/${nodes.join(',')}/${nodes.map((n) => `${n}:1000000`).join(',')}/h${nodes.map((n) => `${n}:1000000`).join(',')}`,
    quorate: false,
    weights: nodes.map((n) => ({ node: n, weight: 1_000_000, stamp: Number.MAX_SAFE_INTEGER, by: n })),
    heard: nodes.map((n) => ({ node: n, ageMs: 1_000_000, paused: false, inc: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER })),
    facts,
    draining: Object.fromEntries(vips.map((v) => [v.key, all(v.buckets)])),
    holding: Object.fromEntries(vips.map((v) => [v.key, bucketBitmap(all(v.buckets), v.buckets)])),
    taking: Object.fromEntries(vips.map((v) => [v.key, bucketBitmap(all(v.buckets), v.buckets)])),
    checks: { of: 'x'.repeat(16), checked: bucketBitmap(all(reals), reals), up: bucketBitmap(all(reals), reals) },
    track: { down: [...tracks], out: true, drop: 65535 * tracks.length },
  };
  return bodyBytes(hb);
}

export { MAX_BODY };
