// `aavip lab chaos`: the fault run (src/lab/chaos.ts) — random faults against three real daemons
// for M minutes, with both ownership invariants sampled from the kernels every 100 ms.
import { InvalidArgumentError, type Command } from 'commander';
import { runChaos } from '../lab/chaos.js';
import { prefixOption } from './lab-net.js';
import { positiveInt } from './options.js';
import { table } from './progress.js';

const minutes = (text: string): number => {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 24 * 60) throw new InvalidArgumentError('minutes: a number above 0, at most 1440');
  return n;
};

export function register(lab: Command): void {
  lab
    .command('chaos')
    .description(
      'three real daemons under long-lived connections and a random fault every few seconds (SIGKILL, SIGTERM restart, SIGSTOP, link flap, one-sided heartbeat cut, a reload on one node, a broken reload, `down` beside the daemon, a clock step); reports how long any bucket had two owners or none',
    )
    .option('--minutes <m>', 'how long to run', minutes, 10)
    .option('--seed <n>', 'the fault sequence (same seed, same faults)', positiveInt, 1)
    .option('--deadtime <ms>', 'deadtime (the interval is a fifth of it)', positiveInt, 300)
    .option('--long-lived <n>', 'long-lived connections held at a time', positiveInt, 150)
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'chaos')
    .option('--json', 'print the result as JSON')
    .action(async (o: { minutes: number; seed: number; deadtime: number; longLived: number; prefix: string; json?: boolean }) => {
      const r = await runChaos({
        prefix: o.prefix,
        minutes: o.minutes,
        seed: o.seed,
        deadtimeMs: o.deadtime,
        longLived: o.longLived,
        progress: (m) => process.stderr.write(`${m}\n`),
      });
      if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
      else {
        process.stdout.write(
          table(
            ['measure', 'value'],
            [
              [
                'faults injected',
                Object.entries(r.faults)
                  .map(([k, n]) => `${k} ${n}`)
                  .join(', '),
              ],
              ['time any bucket had two nodes taking new connections', `${r.twoOwnersMs} ms`],
              [
                `time any bucket went unserved beyond the takeover bound (${r.takeoverBoundMs} ms)`,
                `${r.unservedBeyondBoundMs} ms (longest spell ${r.longestUnservedMs} ms)`,
              ],
              [`long-lived connections lost through nodes without a disruptive fault (of ${r.longLivedOpened})`, r.unexpectedResets],
              ['lost through a killed, frozen or cut-off node (expected)', r.expectedLosses],
              ['`aavip down` refused beside a running daemon', r.downRefused],
            ],
          ) + '\n',
        );
      }
      if (r.twoOwnersMs > 0 || r.unservedBeyondBoundMs > 0 || r.unexpectedResets > 0) process.exitCode = 1;
    });
}
