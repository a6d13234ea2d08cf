// Shared checks (`lvs.checks: shared`): the live nodes split the real servers between them the
// way they split buckets, each checks its share once per interval, and the heartbeat carries its
// verdicts to the others, so the real servers see one check per interval, not one per director.
// Pure: who checks which real, what a heartbeat says of them, and which verdicts a node takes.
import { createHash } from 'node:crypto';
import { bucketBitmap, bucketsOfBitmap, type CheckVerdicts } from '../membership/wire.js';

export type { CheckVerdicts } from '../membership/wire.js';

/** A real server of a virtual service, as every node names it: `virtualId realKey`. */
export type RealId = string;

/** Where a node stands: its id, its view, and whether every live peer checks the same reals. */
export interface ShareView {
  mode: 'shared' | 'local';
  local: number;
  live: readonly number[];
  quorate: boolean;
  /** Every live peer announced the same real ids (configs differ during a rolling change). */
  agreed: boolean;
}

const score = (id: RealId, node: number) => createHash('sha256').update(`${id}|${node}`).digest('hex');

/** Which live node checks a real: rendezvous hashing, so a node's death moves only its own reals. */
export function checkerOf(id: RealId, live: readonly number[]): number | undefined {
  let best: number | undefined;
  let bestScore = '';
  for (const n of live) {
    const s = score(id, n);
    if (s > bestScore) [best, bestScore] = [n, s];
  }
  return best;
}

/**
 * Whether a node shares the checking at all: not with `local`, not alone, not without quorum (a
 * partition's other side may be checking nothing), and not while the live nodes' configs differ.
 */
export const sharing = (v: ShareView) => v.mode === 'shared' && v.quorate && v.agreed && v.live.length > 1 && v.live.includes(v.local);

export const realIdsDigest = (ids: readonly RealId[]) => createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);

/**
 * Who checks what, worked out once per view and list of reals (every interval): the heartbeats,
 * many per interval, only look it up.
 */
export interface Share {
  view: ShareView;
  /** The checked reals' ids, sorted, and their digest. */
  ids: readonly RealId[];
  digest: string;
  sharing: boolean;
  /** While sharing: each real's checker. */
  checker: ReadonlyMap<RealId, number | undefined>;
}

export function planShare(ids: readonly RealId[], view: ShareView, digest = realIdsDigest(ids)): Share {
  const on = sharing(view);
  return { view, ids, digest, sharing: on, checker: new Map(on ? ids.map((id) => [id, checkerOf(id, view.live)]) : []) };
}

/** Whether this node checks a real itself (one the plan does not know yet, a reload's, is placed the same way). */
export const checksHere = (s: Share, id: RealId) => !s.sharing || (s.checker.has(id) ? s.checker.get(id) : checkerOf(id, s.view.live)) === s.view.local;

/** The heartbeat's account of the verdicts this node vouches for. */
export function encodeVerdicts(s: Share, verdicts: ReadonlyMap<RealId, boolean>): CheckVerdicts {
  const checked: number[] = [];
  const up: number[] = [];
  s.ids.forEach((id, k) => {
    const v = verdicts.get(id);
    if (v === undefined) return;
    checked.push(k + 1);
    if (v) up.push(k + 1);
  });
  return { of: s.digest, checked: bucketBitmap(checked, s.ids.length), up: bucketBitmap(up, s.ids.length) };
}

/**
 * The verdicts of a peer's heartbeat this node takes: only against the same real ids, only for
 * reals it does not check itself, and only from the node that checks them in its own view.
 */
export function verdictsToAdopt(s: Share, msg: CheckVerdicts | undefined, from: number): Map<RealId, boolean> {
  const out = new Map<RealId, boolean>();
  if (!msg || !s.sharing || msg.of !== s.digest || from === s.view.local) return out;
  const up = bucketsOfBitmap(msg.up);
  for (const k of bucketsOfBitmap(msg.checked)) {
    const id = s.ids[k - 1];
    if (id !== undefined && s.checker.get(id) === from) out.set(id, up.has(k));
  }
  return out;
}
