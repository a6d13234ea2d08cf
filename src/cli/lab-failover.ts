// `aavip lab failover`: three real `aavip up` daemons in namespaces under client load; one node is
// killed (daemon and cable) and brought back, round after round (src/lab/failover.ts).
import type { Command } from 'commander';
import { runFailover } from '../lab/failover.js';
import { prefixOption } from './lab-net.js';
import { positiveInt } from './options.js';
import { table } from './progress.js';

export function register(lab: Command): void {
  lab
    .command('failover')
    .description(
      'three real daemons under client load: kill one (daemon and cable), measure the outage of its buckets, bring it back with long-lived connections open',
    )
    .option('--interval <ms>', 'heartbeat interval (a fifth of the deadtime lets the leases ride out lost heartbeats)', positiveInt, 60)
    .option('--deadtime <ms>', 'deadtime', positiveInt, 300)
    .option('--copies <n>', 'heartbeat copies per interval', positiveInt, 2)
    .option('--buckets <n>', 'buckets', positiveInt, 256)
    .option('--long-lived <n>', 'connections held open across each rejoin', positiveInt, 200)
    .option('--rounds <n>', 'kill-and-return rounds, each killing the next node', positiveInt, 3)
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'mbfail')
    .option('--json', 'print the result as JSON')
    .action(
      async (o: { interval: number; deadtime: number; copies: number; buckets: number; longLived: number; rounds: number; prefix: string; json?: boolean }) => {
        const r = await runFailover({
          prefix: o.prefix,
          intervalMs: o.interval,
          deadtimeMs: o.deadtime,
          copies: o.copies,
          buckets: o.buckets,
          longLived: o.longLived,
          rounds: o.rounds,
          progress: (m) => process.stderr.write(`${m}\n`),
        });
        const met = r.outageMsP99 <= 500 && r.survivorFailed === 0 && r.maxMinShareAfter <= 1.1 && r.rejoinResets === 0 && r.rejoinMispredicted === 0;
        if (o.json) process.stdout.write(JSON.stringify(r) + '\n');
        else {
          process.stdout.write(
            table(
              ['measure', 'value'],
              [
                [
                  `outage of the dead node's buckets p50 / p99 / max (ms, ${r.deadBucketsProbed} buckets probed)`,
                  `${r.outageMsP50} / ${r.outageMsP99} / ${r.outageMsMax}`,
                ],
                ["failed connections in the survivors' buckets", r.survivorFailed],
                ["survivors' max/min share of buckets (of connections)", `${r.maxMinShareAfter.toFixed(3)} (${r.maxMinConnectionShareAfter.toFixed(3)})`],
                [`resets among ${r.longLivedHeld} long-lived connections per rejoin (${r.longLivedInReturningBuckets} in returning buckets)`, r.rejoinResets],
                ["returning node's share of new connections", `${(r.rejoinedShare * 100).toFixed(1)}%`],
                ['connections answered by another node than predicted', r.rejoinMispredicted],
              ],
            ) + '\n',
          );
        }
        // Exit status 1 when a target is missed (outage p99 ≤ 500 ms, no failures, max/min ≤ 1.10, no resets).
        if (!met) process.exitCode = 1;
      },
    );
}
