// The failover benchmark: `aavip lab failover` (src/lab/failover.ts) run as a benchmark, printing
// its JSON. Run as root: node dist/bench/failover.js [--rounds N] [--deadtime MS] [--interval MS] [--copies N]
import { runFailover } from '../src/lab/failover.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

const result = await runFailover({
  prefix: 'mbbench',
  intervalMs: arg('interval', 60),
  deadtimeMs: arg('deadtime', 300),
  copies: arg('copies', 2),
  buckets: arg('buckets', 256),
  longLived: arg('long-lived', 200),
  rounds: arg('rounds', 3),
  progress: (m) => process.stderr.write(`${m}\n`),
});
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
