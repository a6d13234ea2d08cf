// The daemon's side of tracked services (track/): a change of the node's verdict changes its
// weight in its next view at once, and its heartbeats tell the peers, which then compute the same
// view. Losing weight is a handover like a drain: this node stops taking new connections in the
// buckets it gives up, and keeps their existing ones — a check that failed on a busy service
// should not cut what still works — while the others take the new ones.
import type { Logger } from '../log.js';
import { type TrackSpec, tracksOf } from '../track/settings.js';
import { Tracker } from '../track/tracker.js';
import type { Daemon } from './daemon.js';

function newTracker(d: Daemon, tracks: TrackSpec[], log: Logger): Tracker {
  const tracker = new Tracker(tracks, {
    clock: d.deps.clock,
    log: log.child({ role: 'track' }),
    onChange: (v) => {
      d.membership.localTrack = v;
      d.deps.events?.track?.(v);
      d.tick();
      d.sendHeartbeats();
    },
  });
  tracker.start();
  return tracker;
}

/** Starts the node's tracks, if it has any. */
export function startTracking(d: Daemon, log: Logger): void {
  const tracks = tracksOf(d.config);
  if (tracks.length) d.tracker = newTracker(d, tracks, log);
}

/** After a reload: the tracks as the new configuration has them (a track left alike keeps its state). */
export function reloadTracking(d: Daemon, before: readonly TrackSpec[], log: Logger): string[] {
  const after = tracksOf(d.config);
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (!after.length) {
    d.tracker?.stop();
    d.tracker = undefined;
    d.membership.localTrack = undefined;
    d.tick();
    d.sendHeartbeats();
  } else if (d.tracker) d.tracker.reconfigure(after);
  else d.tracker = newTracker(d, after, log);
  return [after.length ? `tracked services: ${after.map((t) => t.name).join(', ')}` : 'tracked services removed'];
}

export function stopTracking(d: Daemon): void {
  d.tracker?.stop();
}
