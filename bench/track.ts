// The tracked-service benchmark: `aavip lab track` (src/lab/track-lab.ts) over several rounds,
// reporting how soon the other nodes answer a node's buckets after its HAProxy is killed, against
// fall × interval + 200 ms (p99 over the rounds). Run as root:
//   node dist/bench/track.js [--rounds N] [--interval MS] [--fall N] [--rise N]
import { runTrackLab, TRACK_LAB_DEFAULTS } from '../src/lab/track-lab.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

const result = await runTrackLab({
  ...TRACK_LAB_DEFAULTS,
  prefix: 'trbench',
  rounds: Math.max(3, arg('rounds', 6)),
  intervalMs: arg('interval', TRACK_LAB_DEFAULTS.intervalMs),
  fall: arg('fall', TRACK_LAB_DEFAULTS.fall),
  rise: arg('rise', TRACK_LAB_DEFAULTS.rise),
  flap: false,
  progress: (m) => process.stderr.write(`${m}\n`),
});
const served = result.rounds.map((r) => r.servedAgainMs ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
// p99 of a handful of rounds is their maximum: nearest rank.
const p99 = served[Math.min(served.length - 1, Math.ceil(0.99 * served.length) - 1)];
const summary = {
  rounds: served.length,
  servedAgainMs: { min: served[0], median: served[Math.floor(served.length / 2)], p99 },
  targetMs: result.targetMs,
  withinTarget: p99 <= result.targetMs,
  othersFailed: result.rounds.reduce((n, r) => n + r.othersFailed, 0),
  othersAttempts: result.rounds.reduce((n, r) => n + r.othersAttempts, 0),
  overlaps: result.rounds.reduce((n, r) => n + r.overlaps, 0),
  resets: result.rounds.reduce((n, r) => n + r.resets, 0),
  longLived: result.rounds.reduce((n, r) => n + r.longLived, 0),
};
process.stdout.write(JSON.stringify({ summary, ...result }, null, 2) + '\n');
if (!summary.withinTarget) process.exitCode = 1;
