// `aavip lab track`: the tracked-service run (src/lab/track-lab.ts) — HAProxy on every node,
// killed on one at a time under load; then a service that flaps faster than its fall count.
import type { Command } from 'commander';
import { runTrackLab, TRACK_LAB_DEFAULTS } from '../lab/track-lab.js';
import { prefixOption } from './lab-net.js';
import { positiveInt } from './options.js';
import { table } from './progress.js';

export function register(lab: Command): void {
  lab
    .command('track')
    .description(
      'three nodes with HAProxy on each, tracked by aavip (track: tcp); HAProxy killed with SIGKILL on one node per round under load: how soon the others answer its buckets, and whether it takes them back without resets; then a flapping service (--no-flap to leave out)',
    )
    .option('--rounds <n>', 'kill rounds (the victim rotates over the nodes)', positiveInt, TRACK_LAB_DEFAULTS.rounds)
    .option('--interval <ms>', "the HAProxy track's interval (and timeout)", positiveInt, TRACK_LAB_DEFAULTS.intervalMs)
    .option('--fall <n>', 'failed checks in a row before the node gives its buckets away', positiveInt, TRACK_LAB_DEFAULTS.fall)
    .option('--rise <n>', 'good checks in a row before it takes them back', positiveInt, TRACK_LAB_DEFAULTS.rise)
    .option('--no-flap', 'leave out the flapping-service phase')
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'track')
    .option('--json', 'print the result as JSON')
    .action(async (o: { rounds: number; interval: number; fall: number; rise: number; flap: boolean; prefix: string; json?: boolean }) => {
      const r = await runTrackLab({
        ...TRACK_LAB_DEFAULTS,
        prefix: o.prefix,
        rounds: o.rounds,
        intervalMs: o.interval,
        fall: o.fall,
        rise: o.rise,
        flap: o.flap,
        progress: (m) => process.stderr.write(`${m}\n`),
      });
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        const rows: (string | number)[][] = r.rounds.map((x) => [
          `HAProxy killed on ${x.victim}: its buckets answered by the others after`,
          `${x.servedAgainMs ?? 'never'} ms (target ${r.targetMs} ms); ${x.othersFailed} of ${x.othersAttempts} in the other buckets failed; ${x.overlaps} buckets with two owners in ${x.snapshots} snapshots; back: ${x.bucketsBack}/${x.bucketsExpected} buckets, ${x.resets} of ${x.longLived} long-lived reset`,
        ]);
        if (r.flap)
          rows.push(
            ['flapping 20 s (fall 3 at 200 ms): view epochs', `${r.flap.epochsBefore.join(',')} → ${r.flap.epochsAfter.join(',')}`],
            [
              'node2 buckets: before, after flapping, down for good, back',
              `${r.flap.bucketsBefore}, ${r.flap.bucketsAfterFlap}, ${r.flap.bucketsWhileDown}, ${r.flap.bucketsAfterUp}`,
            ],
            ['view changes when it stayed down', r.flap.viewChangesOnDown],
          );
        process.stdout.write(table(['measure', 'value'], rows) + '\n');
      }
      if (!trackLabHeld(r)) process.exitCode = 1;
    });
}

/** What the run must show, timing aside (that is bench/track.ts's): no failure, no overlap, no reset, no flap. */
export function trackLabHeld(r: Awaited<ReturnType<typeof runTrackLab>>): boolean {
  const rounds = r.rounds.every(
    (x) => x.servedAgainMs !== null && x.othersFailed === 0 && x.overlaps === 0 && x.resets === 0 && x.bucketsBack === x.bucketsExpected,
  );
  const f = r.flap;
  const flap =
    !f || (f.epochsAfter.join() === f.epochsBefore.join() && f.bucketsAfterFlap === f.bucketsBefore && f.bucketsWhileDown === 0 && f.viewChangesOnDown === 1);
  return rounds && flap;
}
