// The hash benchmark on the user's own flows (a capture, `conntrack -L` output or CSV): the same
// distribution rows and disruption figures as the synthetic populations, hashed flow by flow
// with the reference models (any family, any protocol), as `aavip hash owner` hashes them.
import type { Flow } from '../src/hash/flow.js';
import type { Hashmode } from '../src/hash/hashmode.js';
import { bucketOf, LIMITS, type HashParams, type Mechanism } from '../src/hash/mechanisms.js';
import { combinations, DISRUPTION_HASH, type DisruptionResult, type Distribution, distributionOf, measureDisruption } from './hash.js';

export interface FlowsBenchOptions {
  /** How many flows the file gave. */
  flows: number;
  mechanisms: readonly Mechanism[];
  hashmodes: readonly Hashmode[];
  buckets: readonly number[];
  nodes: number;
  seed: number;
}

export interface FlowsBenchReport {
  options: FlowsBenchOptions;
  /** The file and what was read from it (format, packets or lines, what was passed over). */
  source: { file: string; format: string; summary: string };
  results: Distribution[];
  /** Mechanisms left out because they cannot hash some of the flows (CLUSTERIP and IPv6). */
  skippedMechanisms: { mechanism: Mechanism; reason: string }[];
  disruption: DisruptionResult[];
  seconds: number;
}

/** The bucket of every flow under `p`. */
export function bucketsOfFlows(p: HashParams, flows: readonly Flow[]): Uint32Array {
  const out = new Uint32Array(flows.length);
  for (let i = 0; i < flows.length; i++) out[i] = bucketOf(p, flows[i]);
  return out;
}

export function runFlowsBench(
  flows: readonly Flow[],
  source: FlowsBenchReport['source'],
  o: Omit<FlowsBenchOptions, 'flows'>,
  progress: (done: number, total: number, what: string) => void = () => {},
): FlowsBenchReport {
  const t0 = performance.now();
  const options = { ...o, flows: flows.length };
  const families = [...new Set(flows.map((f) => f.src.family))];
  const skippedMechanisms = o.mechanisms
    .filter((m) => families.some((f) => !LIMITS[m].families.includes(f)))
    .map((mechanism) => ({ mechanism, reason: `${mechanism} does not hash IPv${families.find((f) => !LIMITS[mechanism].families.includes(f))}` }));
  const combos = combinations({ ...o, mechanisms: o.mechanisms.filter((m) => !skippedMechanisms.some((s) => s.mechanism === m)) });
  const results: Distribution[] = [];
  combos.forEach((p, i) => {
    progress(i, combos.length + 1, `${p.mechanism} ${p.hashmode} ${p.buckets}`);
    results.push(distributionOf(p, source.file, bucketsOfFlows(p, flows), o.nodes));
  });
  progress(combos.length, combos.length + 1, 'disruption');
  const disruption = measureDisruption(o.nodes, o.buckets, (buckets) => bucketsOfFlows({ ...DISRUPTION_HASH, seed: o.seed, buckets }, flows));
  progress(combos.length + 1, combos.length + 1, 'done');
  return { options, source, results, skippedMechanisms, disruption, seconds: (performance.now() - t0) / 1000 };
}
