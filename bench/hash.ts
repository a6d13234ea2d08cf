// The hash-distribution benchmark: how evenly each mechanism × hashmode × bucket count spreads
// the flow populations users meet, how fast the models run, and how many flows change owner
// when a node leaves and returns under each assignment strategy.
import { assign, moves, STRATEGIES, type Member, type Owners, type Strategy } from '../src/assignment/assign.js';
import { HASHMODES, type Hashmode } from '../src/hash/hashmode.js';
import { bucketsOfColumns, LIMITS, MECHANISMS, type FlowColumns, type HashParams, type Mechanism } from '../src/hash/mechanisms.js';
import { xorshift32 } from '../src/hash/random.js';
import { nativeBucketsOfColumns } from '../src/native.js';
import { chiSquareUniform } from '../src/stats/chisquare.js';

export const POPULATIONS = {
  uniform: 'clients spread over the whole IPv4 space, random source ports',
  nat: '8 clients behind NAT, many random source ports each',
  sequential: 'one client opening connections on sequential source ports',
  busy24: 'a single busy /24 (254 hosts), random source ports',
} as const;
export type Population = keyof typeof POPULATIONS;

export function makePopulation(kind: Population, n: number, seed = 0x5eed): FlowColumns {
  const next = xorshift32(seed);
  const saddr = new Uint32Array(n);
  const sport = new Uint16Array(n);
  const dport = new Uint16Array(n);
  const ephemeral = () => 1024 + (next() % 64512);
  const services = [80, 443, 8080, 53];
  const nat = Array.from({ length: 8 }, () => next());
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'uniform':
        saddr[i] = next();
        sport[i] = ephemeral();
        break;
      case 'nat':
        saddr[i] = nat[next() % nat.length];
        sport[i] = ephemeral();
        break;
      case 'sequential':
        saddr[i] = 0xc6120102;
        sport[i] = 1024 + (i % 64512);
        break;
      case 'busy24':
        saddr[i] = (0xc6130000 | (1 + (next() % 254))) >>> 0;
        sport[i] = ephemeral();
        break;
    }
    dport[i] = kind === 'sequential' ? 443 : services[next() % services.length];
  }
  return { saddr, sport, dport };
}

export interface HashBenchOptions {
  flows: number;
  mechanisms: readonly Mechanism[];
  hashmodes: readonly Hashmode[];
  buckets: readonly number[];
  populations: readonly Population[];
  nodes: number;
  seed: number;
}

/** How one mechanism × hashmode × bucket count spreads a set of flows: a row of the report. */
export interface Distribution {
  mechanism: Mechanism;
  hashmode: Hashmode;
  /** The population's name, or for a flows file its name. */
  population: string;
  buckets: number;
  nodes: number;
  flows: number;
  /** Share of all flows per node (buckets assigned to nodes by the sticky strategy). */
  nodeShares: number[];
  maxMinShare: number;
  /** Largest over smallest bucket count (Infinity if a bucket is empty). */
  bucketMaxMin: number;
  chiSquare: number;
  chiSquareP: number;
}

export interface HashBenchResult extends Distribution {
  population: Population;
  flowsPerSecTs: number;
  flowsPerSecNative: number;
  /** TypeScript speed as a fraction of native speed. */
  tsToNativeRatio: number;
}

export interface DisruptionResult {
  strategy: Strategy | 'rehash';
  buckets: number;
  nodes: number;
  /** Share of all flows whose owner changes when the last node leaves. */
  movedOnLeave: number;
  /** Share of all flows whose owner changes when it returns. */
  movedOnReturn: number;
  /** Survivors' largest over smallest share while it is away. */
  maxMinAfterLeave: number;
}

export interface HashBenchReport {
  options: HashBenchOptions;
  results: HashBenchResult[];
  disruption: DisruptionResult[];
  seconds: number;
}

const ratio = (xs: number[]) => Math.max(...xs) / Math.min(...xs);

/** Best of three runs, in seconds: the machine's other work only ever adds time. */
function timed(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}

function nodeSharesOf(counts: Uint32Array | number[], owners: Owners, nodes: number, total: number): number[] {
  const per = new Array(nodes).fill(0);
  owners.forEach((node, b) => {
    if (node) per[node - 1] += counts[b];
  });
  return per.map((c) => c / total);
}

/** Per-bucket flow counts (index b-1 for bucket b). */
function countBuckets(out: Uint32Array, buckets: number): Uint32Array {
  const counts = new Uint32Array(buckets);
  for (let i = 0; i < out.length; i++) counts[out[i] - 1]++;
  return counts;
}

export function combinations(o: Pick<HashBenchOptions, 'mechanisms' | 'hashmodes' | 'buckets' | 'seed'>): HashParams[] {
  const out: HashParams[] = [];
  for (const mechanism of o.mechanisms)
    for (const hashmode of o.hashmodes)
      for (const buckets of o.buckets) {
        const lim = LIMITS[mechanism];
        if (!lim.hashmodes.includes(hashmode) || buckets > lim.maxBuckets) continue;
        out.push({ mechanism, hashmode, buckets, seed: o.seed });
      }
  return out;
}

/** Equal-weight members 1..nodes, as the benchmark assigns buckets to them. */
export function benchMembers(nodes: number): Member[] {
  return Array.from({ length: nodes }, (_, i) => ({ id: i + 1, weight: 1 }));
}

/** The spread of flows whose buckets (1-based, one a flow) are `perFlow`, over `nodes` equal nodes. */
export function distributionOf(p: HashParams, population: string, perFlow: Uint32Array, nodes: number): Distribution {
  const members = benchMembers(nodes);
  const counts = countBuckets(perFlow, p.buckets);
  const shares = nodeSharesOf(counts, assign(members, new Set(members.map((m) => m.id)), p.buckets), nodes, perFlow.length);
  const chi = chiSquareUniform(counts);
  return {
    mechanism: p.mechanism,
    hashmode: p.hashmode,
    population,
    buckets: p.buckets,
    nodes,
    flows: perFlow.length,
    nodeShares: shares,
    maxMinShare: ratio(shares),
    bucketMaxMin: ratio(Array.from(counts)),
    chiSquare: chi.statistic,
    chiSquareP: chi.p,
  };
}

export function runHashBench(o: HashBenchOptions, progress: (done: number, total: number, what: string) => void = () => {}): HashBenchReport {
  const t0 = performance.now();
  const combos = combinations(o);
  const total = combos.length * o.populations.length + 1;
  const results: HashBenchResult[] = [];
  const ts = new Uint32Array(o.flows);
  const nat = new Uint32Array(o.flows);
  let done = 0;
  for (const population of o.populations) {
    const flows = makePopulation(population, o.flows);
    for (const p of combos) {
      progress(done++, total, `${population} ${p.mechanism} ${p.hashmode} ${p.buckets}`);
      // Warm both paths up on a slice first so the timing measures steady-state code, not the JIT.
      const slice = { saddr: flows.saddr.subarray(0, 65536), sport: flows.sport.subarray(0, 65536), dport: flows.dport.subarray(0, 65536) };
      for (let w = 0; w < 3; w++) {
        bucketsOfColumns(p, slice, ts);
        nativeBucketsOfColumns(p, slice, nat);
      }
      const tsSeconds = timed(() => bucketsOfColumns(p, flows, ts));
      const nativeSeconds = timed(() => nativeBucketsOfColumns(p, flows, nat));
      for (let i = 0; i < o.flows; i++) if (ts[i] !== nat[i]) throw new Error(`model and native disagree on flow ${i} (${JSON.stringify(p)})`);
      const flowsPerSecTs = o.flows / tsSeconds;
      const flowsPerSecNative = o.flows / nativeSeconds;
      results.push({
        ...distributionOf(p, population, ts, o.nodes),
        population,
        flowsPerSecTs,
        flowsPerSecNative,
        tsToNativeRatio: flowsPerSecTs / flowsPerSecNative,
      });
    }
  }
  progress(done++, total, 'disruption');
  const uniform = makePopulation('uniform', o.flows);
  const disruption = measureDisruption(o.nodes, o.buckets, (buckets) => hashAll(uniform, buckets));
  progress(total, total, 'done');
  return { options: o, results, disruption, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Flow-weighted share of owner changes when node N leaves and comes back, for flows whose bucket
 * among B is `hashAll(B)` (one a flow). "rehash" is the naive alternative: change the bucket
 * count to the number of live nodes (CLUSTERIP's total_nodes), one bucket per node.
 */
export function measureDisruption(nodes: number, bucketCounts: readonly number[], hashAll: (buckets: number) => Uint32Array): DisruptionResult[] {
  const members = benchMembers(nodes);
  const out: DisruptionResult[] = [];
  const all = new Set(members.map((m) => m.id));
  const survivors = new Set([...all].filter((id) => id !== nodes));
  const bucketsList = [...new Set([nodes, ...bucketCounts.filter((b) => b >= nodes && b <= LIMITS.nft.maxBuckets)])].sort((a, b) => a - b);
  let flows = 0;
  for (const buckets of bucketsList) {
    const perFlow = hashAll(buckets);
    flows = perFlow.length;
    const counts = countBuckets(perFlow, buckets);
    for (const strategy of STRATEGIES) {
      const before = assign(members, all, buckets, strategy);
      const during = assign(members, survivors, buckets, strategy);
      const moved = (a: Owners, b: Owners) => moves(a, b, all).reduce((s, m) => s + counts[m.bucket - 1], 0) / flows;
      const shares = nodeSharesOf(counts, during, nodes, flows).slice(0, nodes - 1);
      out.push({ strategy, buckets, nodes, movedOnLeave: moved(before, during), movedOnReturn: moved(during, before), maxMinAfterLeave: ratio(shares) });
    }
  }
  // rehash: owner = bucket of (flow, live count); compare flow by flow.
  const full = hashAll(nodes);
  const fewer = hashAll(nodes - 1);
  let changed = 0;
  const perSurvivor = new Array(nodes - 1).fill(0);
  for (let i = 0; i < flows; i++) {
    if (full[i] !== fewer[i]) changed++;
    perSurvivor[fewer[i] - 1]++;
  }
  out.push({ strategy: 'rehash', buckets: nodes, nodes, movedOnLeave: changed / flows, movedOnReturn: changed / flows, maxMinAfterLeave: ratio(perSurvivor) });
  return out;
}

/** The hash the disruption figures use: nft sourceip-sourceport, as a VIP hashes by default. */
export const DISRUPTION_HASH = { mechanism: 'nft', hashmode: 'sourceip-sourceport' } as const;

function hashAll(flows: FlowColumns, buckets: number): Uint32Array {
  const out = new Uint32Array(flows.saddr.length);
  nativeBucketsOfColumns({ ...DISRUPTION_HASH, seed: 0x1234, buckets }, flows, out);
  return out;
}

export const DEFAULTS: HashBenchOptions = {
  flows: 1_000_000,
  mechanisms: MECHANISMS,
  hashmodes: HASHMODES,
  buckets: [3, 16, 256],
  populations: Object.keys(POPULATIONS) as Population[],
  nodes: 3,
  seed: 0x1234,
};
