// The fault run for the record (npm run bench:chaos [-- --minutes M --seed N]): what the
// README's fault-run table reports. Timings depend on the machine, so they live here, not in a test.
import { runChaos } from '../src/lab/chaos.js';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const r = await runChaos({
  prefix: 'chbench',
  minutes: arg('minutes', 10),
  seed: arg('seed', 1),
  deadtimeMs: arg('deadtime', 300),
  progress: (m) => process.stderr.write(`${m}\n`),
});
process.stdout.write(JSON.stringify(r, null, 1) + '\n');
