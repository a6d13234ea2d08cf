// `aavip bench hash`: the hash-distribution benchmark (bench/hash.ts) from the command line.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { DEFAULTS, POPULATIONS, runHashBench, type Population } from '../../bench/hash.js';
import { hashBenchSvg } from '../../bench/hash-svg.js';
import { hashmodeOption, listOf, mechanismOption, positiveInt, seedOption } from './options.js';
import { progressBar, table } from './progress.js';

function populationOption(text: string): Population {
  if (!(text in POPULATIONS)) throw new InvalidArgumentError(`one of ${Object.keys(POPULATIONS).join(', ')}`);
  return text as Population;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'inf');

export function register(program: Command): void {
  const bench = program.command('bench').description('benchmarks');
  bench
    .command('hash')
    .description('hash distribution, speed and disruption for every mechanism × hashmode × bucket count × flow population')
    .option('--flows <n>', 'synthetic flows per population', positiveInt, DEFAULTS.flows)
    .option('--mechanism <list>', 'comma-separated: clusterip,xt_cluster,nft', listOf(mechanismOption), [...DEFAULTS.mechanisms])
    .option('--hashmode <list>', 'comma-separated hashmodes', listOf(hashmodeOption), [...DEFAULTS.hashmodes])
    .option('--buckets <list>', "comma-separated bucket counts (combinations over a mechanism's limit are skipped)", listOf(positiveInt), [...DEFAULTS.buckets])
    .option('--population <list>', `comma-separated: ${Object.keys(POPULATIONS).join(',')}`, listOf(populationOption), [...DEFAULTS.populations])
    .option('--nodes <n>', 'nodes sharing the buckets', positiveInt, DEFAULTS.nodes)
    .option('--seed <n>', 'hash seed', seedOption, DEFAULTS.seed)
    .option('--json', 'print the report as JSON')
    .option('--svg <file>', 'write a chart of shares and disruption')
    .action((o) => {
      if (o.nodes < 2) throw new InvalidArgumentError('--nodes must be at least 2');
      const bar = progressBar('hashing');
      const report = runHashBench(
        { flows: o.flows, mechanisms: o.mechanism, hashmodes: o.hashmode, buckets: o.buckets, populations: o.population, nodes: o.nodes, seed: o.seed },
        (d, t, what) => bar.update(d, t, what),
      );
      bar.finish();
      if (o.svg) writeFileSync(o.svg, hashBenchSvg(report));
      if (o.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        table(
          ['population', 'mechanism', 'hashmode', 'buckets', 'node shares', 'max/min', 'chi² p', 'TS flows/s', 'native flows/s', 'TS/native'],
          report.results.map((r) => [
            r.population,
            r.mechanism,
            r.hashmode,
            r.buckets,
            r.nodeShares.map(pct).join(' '),
            num(r.maxMinShare),
            r.chiSquareP.toPrecision(3),
            Math.round(r.flowsPerSecTs).toLocaleString('en-US'),
            Math.round(r.flowsPerSecNative).toLocaleString('en-US'),
            r.tsToNativeRatio.toFixed(2),
          ]),
        ) + '\n\n',
      );
      process.stdout.write(
        table(
          ['strategy', 'buckets', 'moved on leave', 'moved on return', 'survivors max/min'],
          report.disruption.map((d) => [d.strategy, d.buckets, pct(d.movedOnLeave), pct(d.movedOnReturn), num(d.maxMinAfterLeave)]),
        ) + `\n\n${report.results.length} results in ${report.seconds.toFixed(1)} s\n`,
      );
    });
}
