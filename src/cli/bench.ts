// `aavip bench hash`: the hash-distribution benchmark (bench/hash.ts) from the command line, on
// synthetic populations or, with --flows-file, on the user's own flows (bench/hash-flows.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { runFlowsBench } from '../../bench/hash-flows.js';
import { DEFAULTS, type DisruptionResult, type Distribution, POPULATIONS, runHashBench, type Population } from '../../bench/hash.js';
import { type ChartedReport, hashBenchSvg } from '../../bench/hash-svg.js';
import { InputError } from '../errors.js';
import { describeRead, FLOW_FORMATS, type FlowFormat, readFlows } from '../flows/read.js';
import { hashmodeOption, listOf, mechanismOption, positiveInt, seedOption } from './options.js';
import { progressBar, table } from './progress.js';

function populationOption(text: string): Population {
  if (!(text in POPULATIONS)) throw new InvalidArgumentError(`one of ${Object.keys(POPULATIONS).join(', ')}`);
  return text as Population;
}

function flowFormatOption(text: string): FlowFormat {
  if (!(FLOW_FORMATS as readonly string[]).includes(text)) throw new InvalidArgumentError(`one of ${FLOW_FORMATS.join(', ')}`);
  return text as FlowFormat;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const num = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'inf');

const DISTRIBUTION_COLUMNS = ['mechanism', 'hashmode', 'buckets', 'node shares', 'max/min', 'chi² p'];
const distributionCells = (r: Distribution) => [
  r.mechanism,
  r.hashmode,
  r.buckets,
  r.nodeShares.map(pct).join(' '),
  num(r.maxMinShare),
  r.chiSquareP.toPrecision(3),
];

function disruptionTable(disruption: readonly DisruptionResult[]): string {
  return table(
    ['strategy', 'buckets', 'moved on leave', 'moved on return', 'survivors max/min'],
    disruption.map((d) => [d.strategy, d.buckets, pct(d.movedOnLeave), pct(d.movedOnReturn), num(d.maxMinAfterLeave)]),
  );
}

/** The report as JSON, or as the two tables; and the chart when asked for. */
function emit(report: ChartedReport & { seconds: number }, o: { json?: boolean; svg?: string }, distribution: string): void {
  if (o.svg) writeFileSync(o.svg, hashBenchSvg(report));
  if (o.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  process.stdout.write(`${distribution}\n\n${disruptionTable(report.disruption)}\n\n${report.results.length} results in ${report.seconds.toFixed(1)} s\n`);
}

interface BenchOptions {
  flows: number;
  mechanism: (typeof DEFAULTS.mechanisms)[number][];
  hashmode: (typeof DEFAULTS.hashmodes)[number][];
  buckets: number[];
  population: Population[];
  nodes: number;
  seed: number;
  json?: boolean;
  svg?: string;
  flowsFile?: string;
  flowsFormat?: FlowFormat;
}

function benchPopulations(o: BenchOptions): void {
  const bar = progressBar('hashing');
  const report = runHashBench(
    { flows: o.flows, mechanisms: o.mechanism, hashmodes: o.hashmode, buckets: o.buckets, populations: o.population, nodes: o.nodes, seed: o.seed },
    (d, t, what) => bar.update(d, t, what),
  );
  bar.finish();
  const rows = report.results.map((r) => [
    r.population,
    ...distributionCells(r),
    Math.round(r.flowsPerSecTs).toLocaleString('en-US'),
    Math.round(r.flowsPerSecNative).toLocaleString('en-US'),
    r.tsToNativeRatio.toFixed(2),
  ]);
  emit(report, o, table(['population', ...DISTRIBUTION_COLUMNS, 'TS flows/s', 'native flows/s', 'TS/native'], rows));
}

function benchFile(o: BenchOptions & { flowsFile: string }, cmd: Command): void {
  const usage = (message: string) => new InputError(message, { field: 'options' });
  for (const name of ['flows', 'population'])
    if (cmd.getOptionValueSource(name) === 'cli') throw usage(`--${name} is for the synthetic populations: leave it out with --flows-file`);
  const file = o.flowsFile;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file });
  }
  const read = readFlows(bytes, file, o.flowsFormat);
  const summary = describeRead(read);
  process.stderr.write(`${file}: ${summary}\n`);
  const bar = progressBar('hashing');
  const report = runFlowsBench(
    read.flows,
    { file, format: read.format, summary },
    { mechanisms: o.mechanism, hashmodes: o.hashmode, buckets: o.buckets, nodes: o.nodes, seed: o.seed },
    (d, t, what) => bar.update(d, t, what),
  );
  bar.finish();
  for (const s of report.skippedMechanisms) process.stderr.write(`${s.mechanism} left out: ${s.reason} (the file has such flows)\n`);
  if (report.results.length === 0) throw usage('no mechanism × hashmode × bucket count asked for can hash these flows');
  emit(report, o, table(DISTRIBUTION_COLUMNS, report.results.map(distributionCells)));
}

export function register(program: Command): void {
  const bench = program.command('bench').description('benchmarks');
  bench
    .command('hash')
    .description(
      'hash distribution, speed and disruption for every mechanism × hashmode × bucket count × flow population; with ' +
        '--flows-file, the distribution and disruption of your own flows instead: a pcap or pcapng capture (a TCP flow counted ' +
        'by its SYN, a UDP flow by its first packet), `conntrack -L` output, or CSV src_ip,src_port,dst_ip,dst_port,proto',
    )
    .option('--flows <n>', 'synthetic flows per population', positiveInt, DEFAULTS.flows)
    .option('--mechanism <list>', 'comma-separated: clusterip,xt_cluster,nft', listOf(mechanismOption), [...DEFAULTS.mechanisms])
    .option('--hashmode <list>', 'comma-separated hashmodes', listOf(hashmodeOption), [...DEFAULTS.hashmodes])
    .option('--buckets <list>', "comma-separated bucket counts (combinations over a mechanism's limit are skipped)", listOf(positiveInt), [...DEFAULTS.buckets])
    .option('--population <list>', `comma-separated: ${Object.keys(POPULATIONS).join(',')}`, listOf(populationOption), [...DEFAULTS.populations])
    .option('--nodes <n>', 'nodes sharing the buckets', positiveInt, DEFAULTS.nodes)
    .option('--seed <n>', 'hash seed', seedOption, DEFAULTS.seed)
    .option('--flows-file <file>', 'hash the flows of this file instead of the synthetic populations')
    .option('--flows-format <format>', `${FLOW_FORMATS.join(' | ')} (default: told by the file's first bytes or line)`, flowFormatOption)
    .option('--json', 'print the report as JSON')
    .option('--svg <file>', 'write a chart of shares and disruption')
    .action((o: BenchOptions, cmd: Command) => {
      if (o.nodes < 2) throw new InvalidArgumentError('--nodes must be at least 2');
      if (o.flowsFormat && !o.flowsFile) throw new InputError('--flows-format needs --flows-file', { field: 'options' });
      if (o.flowsFile !== undefined) benchFile(o as BenchOptions & { flowsFile: string }, cmd);
      else benchPopulations(o);
    });
}
