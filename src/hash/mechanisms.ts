// Bit-exact models of the three kernel bucket selectors. Each returns a 1-based bucket number:
// CLUSTERIP's "node number", xt_cluster's --cluster-local-node, nft's `... offset 1` value.
import type { Flow } from './flow.js';
import { ipv4Number } from './flow.js';
import { HASHMODE_FIELDS, nftFields, nftKeyBytes, type Hashmode } from './hashmode.js';
import { bswap16, jhash, jhash1word, jhash2words, jhash3words, reciprocalScale } from './jhash.js';

export const MECHANISMS = ['clusterip', 'xt_cluster', 'nft'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

export interface HashParams {
  mechanism: Mechanism;
  hashmode: Hashmode;
  /** CLUSTERIP's hash_init, xt_cluster's --cluster-hash-seed, nft's `seed`. */
  seed: number;
  /** Number of buckets: CLUSTERIP's total_nodes. */
  buckets: number;
}

export interface MechanismLimits {
  maxBuckets: number;
  hashmodes: readonly Hashmode[];
  families: readonly (4 | 6)[];
}

export const LIMITS: Readonly<Record<Mechanism, MechanismLimits>> = {
  // iptables userspace caps --total-nodes at 16 (CLUSTERIP_MAX_NODES).
  clusterip: { maxBuckets: 16, hashmodes: ['sourceip', 'sourceip-sourceport', 'sourceip-sourceport-destport'], families: [4] },
  // XT_CLUSTER_NODES_MAX; xt_cluster hashes the source address only.
  xt_cluster: { maxBuckets: 32, hashmodes: ['sourceip'], families: [4, 6] },
  // The dataplane's bucket sets are sized for this; the model itself would take up to 2^32-1.
  nft: { maxBuckets: 1024, hashmodes: ['sourceip', 'sourceip-sourceport', 'sourceip-sourceport-destport'], families: [4, 6] },
};

export function isMechanism(s: string): s is Mechanism {
  return (MECHANISMS as readonly string[]).includes(s);
}

/** Problems with a parameter set, as sentences naming the field; empty if it is usable. */
export function checkParams(p: HashParams): string[] {
  const lim = LIMITS[p.mechanism];
  const errors: string[] = [];
  if (!Number.isInteger(p.buckets) || p.buckets < 1 || p.buckets > lim.maxBuckets)
    errors.push(`buckets: ${p.buckets} is out of range 1..${lim.maxBuckets} for ${p.mechanism}`);
  if (!lim.hashmodes.includes(p.hashmode)) errors.push(`hashmode: ${p.mechanism} cannot hash ${p.hashmode} (it offers ${lim.hashmodes.join(', ')})`);
  if (!Number.isInteger(p.seed) || p.seed < 0 || p.seed > 0xffffffff) errors.push(`seed: ${p.seed} is not a 32-bit unsigned number`);
  return errors;
}

/** Parses a seed written in decimal or 0x hex; undefined if it is not a u32. */
export function parseSeed(text: string): number | undefined {
  const t = text.trim();
  if (!/^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(t)) return undefined;
  const n = Number(t);
  return n <= 0xffffffff ? n : undefined;
}

// CLUSTERIP reads two 16-bit words at the protocol's "ports offset" (include/linux/in.h);
// other protocols hash zero ports.
const CLUSTERIP_PORT_PROTOCOLS = new Set([6, 17, 136, 132, 33, 50, 51]);

/** ipt_CLUSTERIP: ntohl(saddr), raw (byte-swapped on LE) ports, jhash_Nwords, +1. */
export function clusteripBucket(flow: Flow, hashmode: Hashmode, seed: number, buckets: number): number {
  if (flow.src.family !== 4) throw new Error('CLUSTERIP hashes IPv4 only');
  const hasPorts = CLUSTERIP_PORT_PROTOCOLS.has(flow.proto);
  const sip = ipv4Number(flow.src);
  const spt = hasPorts ? bswap16(flow.srcPort) : 0;
  const dpt = hasPorts ? bswap16(flow.dstPort) : 0;
  const n = HASHMODE_FIELDS[hashmode].length;
  const h = n === 1 ? jhash1word(sip, seed) : n === 2 ? jhash2words(sip, spt, seed) : jhash3words(sip, spt, dpt, seed);
  return reciprocalScale(h, buckets) + 1;
}

/** xt_cluster: jhash of the first 32-bit word of the original source address, as a LE load. */
export function xtClusterBucket(flow: Flow, seed: number, buckets: number): number {
  const b = flow.src.bytes;
  const word = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  return reciprocalScale(jhash1word(word, seed), buckets) + 1;
}

/** nft `jhash <layout of hashmodes.ts> mod buckets seed S offset 1`. */
export function nftBucket(flow: Flow, hashmode: Hashmode, seed: number, buckets: number): number {
  const key = nftKeyBytes(nftFields(hashmode, flow.proto), flow);
  return reciprocalScale(jhash(key, seed), buckets) + 1;
}

export function bucketOf(p: HashParams, flow: Flow): number {
  switch (p.mechanism) {
    case 'clusterip':
      return clusteripBucket(flow, p.hashmode, p.seed, p.buckets);
    case 'xt_cluster':
      return xtClusterBucket(flow, p.seed, p.buckets);
    case 'nft':
      return nftBucket(flow, p.hashmode, p.seed, p.buckets);
  }
}

/**
 * Columnar IPv4 TCP flows, the shape the benchmark and the native cross-check use:
 * saddr as host-order numbers (10.0.0.1 = 0x0A000001), ports as numbers.
 */
export interface FlowColumns {
  saddr: Uint32Array;
  sport: Uint16Array;
  dport: Uint16Array;
}

/**
 * Buckets of many IPv4 TCP flows at once, without building Flow objects. Same results as
 * bucketOf (the unit tests hold them to it, and to the C twin in native/). This is the hot path
 * of the benchmark, so jhash's final() is written out inline on int32 values (`| 0`), which V8
 * keeps in registers; it is the same sequence as final() in jhash.ts.
 */
export function bucketsOfColumns(p: HashParams, flows: FlowColumns, out: Uint32Array): void {
  const { saddr, sport, dport } = flows;
  const buckets = p.buckets;
  const fields = p.mechanism === 'xt_cluster' ? 1 : HASHMODE_FIELDS[p.hashmode].length;
  // nft and xt_cluster load the network-order address as a LE word; CLUSTERIP uses ntohl.
  const swapAddr = p.mechanism !== 'clusterip';
  const init = (p.seed + 0xdeadbeef + 4 * fields) | 0;
  const n = saddr.length;
  for (let i = 0; i < n; i++) {
    const x = saddr[i];
    let a = ((swapAddr ? (x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24) : x) + init) | 0;
    let b = init;
    let c = init;
    if (fields > 1) {
      const s = sport[i];
      b = (b + (((s & 0xff) << 8) | (s >>> 8))) | 0;
    }
    if (fields > 2) {
      const d = dport[i];
      c = (c + (((d & 0xff) << 8) | (d >>> 8))) | 0;
    }
    c ^= b;
    c = (c - ((b << 14) | (b >>> 18))) | 0;
    a ^= c;
    a = (a - ((c << 11) | (c >>> 21))) | 0;
    b ^= a;
    b = (b - ((a << 25) | (a >>> 7))) | 0;
    c ^= b;
    c = (c - ((b << 16) | (b >>> 16))) | 0;
    a ^= c;
    a = (a - ((c << 4) | (c >>> 28))) | 0;
    b ^= a;
    b = (b - ((a << 14) | (a >>> 18))) | 0;
    c ^= b;
    c = (c - ((b << 24) | (b >>> 8))) | 0;
    out[i] = reciprocalScale(c >>> 0, buckets) + 1;
  }
}
