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

/** Whether this node checks a real itself. */
export const checksHere = (v: ShareView, id: RealId) => !sharing(v) || checkerOf(id, v.live) === v.local;

export const realIdsDigest = (ids: readonly RealId[]) => createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16);

/** The heartbeat's account of the verdicts this node vouches for; `ids` sorted. */
export function encodeVerdicts(ids: readonly RealId[], verdicts: ReadonlyMap<RealId, boolean>): CheckVerdicts {
  const checked: number[] = [];
  const up: number[] = [];
  ids.forEach((id, k) => {
    const v = verdicts.get(id);
    if (v === undefined) return;
    checked.push(k + 1);
    if (v) up.push(k + 1);
  });
  return { of: realIdsDigest(ids), checked: bucketBitmap(checked, ids.length), up: bucketBitmap(up, ids.length) };
}

/**
 * The verdicts of a peer's heartbeat this node takes: only against the same real ids, only for
 * reals it does not check itself, and only from the node that checks them in its own view.
 */
export function verdictsToAdopt(ids: readonly RealId[], msg: CheckVerdicts | undefined, from: number, v: ShareView): Map<RealId, boolean> {
  const out = new Map<RealId, boolean>();
  if (!msg || !sharing(v) || msg.of !== realIdsDigest(ids)) return out;
  const up = bucketsOfBitmap(msg.up);
  for (const k of bucketsOfBitmap(msg.checked)) {
    const id = ids[k - 1];
    if (id !== undefined && checkerOf(id, v.live) === from && from !== v.local) out.set(id, up.has(k));
  }
  return out;
}
