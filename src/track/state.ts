// Pure: a tracked service's state from its check results (rise and fall, as keepalived and
// HAProxy count them), and what the node's failing tracks mean for its weight.
import type { TrackSpec } from './settings.js';

export interface TrackState {
  /** Undefined until the first result, which decides at once (nothing to flap from yet). */
  up?: boolean;
  /** When `up` last changed (wall ms). */
  since: number;
  /** Consecutive results against the current state. */
  against: number;
  lastMessage: string;
}

export const initialTrackState = (now: number): TrackState => ({ since: now, against: 0, lastMessage: 'not checked yet' });

/** The state after one result; `changed` when `up` flipped. */
export function observe(
  spec: Pick<TrackSpec, 'rise' | 'fall'>,
  s: TrackState,
  up: boolean,
  message: string,
  now: number,
): { state: TrackState; changed: boolean } {
  if (s.up === undefined) return { state: { up, since: now, against: 0, lastMessage: message }, changed: true };
  if (up === s.up) return { state: { ...s, against: 0, lastMessage: message }, changed: false };
  const against = s.against + 1;
  if (against >= (up ? spec.rise : spec.fall)) return { state: { up, since: now, against: 0, lastMessage: message }, changed: true };
  return { state: { ...s, against, lastMessage: message }, changed: false };
}

/** What a node tells its peers of its tracked services (the heartbeat's `track`). */
export interface TrackVerdict {
  /** Names of the tracks that are down. */
  down: string[];
  /** A failing track without a weight: the node takes no buckets. */
  out: boolean;
  /** The sum of the failing tracks' weight drops. */
  drop: number;
}

export function verdictOf(specs: readonly TrackSpec[], states: ReadonlyMap<string, TrackState>): TrackVerdict {
  const down = specs.filter((t) => states.get(t.name)?.up === false);
  return {
    down: down.map((t) => t.name),
    out: down.some((t) => t.weightDrop === undefined),
    drop: down.reduce((n, t) => n + (t.weightDrop ?? 0), 0),
  };
}

/** A node's weight with its failing tracks taken off. */
export const trackedWeight = (weight: number, v: TrackVerdict | undefined): number => (!v ? weight : v.out ? 0 : Math.max(0, weight - v.drop));
