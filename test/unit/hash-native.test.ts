// The TypeScript models against the independent C implementation in native/, on many random flows.
import { describe, expect, it } from 'vitest';
import { ipv4FromNumber, parseAddress, type Flow } from '../../src/hash/flow.js';
import { HASHMODES } from '../../src/hash/hashmode.js';
import { jhash } from '../../src/hash/jhash.js';
import { bucketOf, bucketsOfColumns, MECHANISMS, type HashParams } from '../../src/hash/mechanisms.js';
import { xorshift32 } from '../../src/hash/random.js';
import { nativeBucketsOfColumns, nativeJhash } from '../../src/native.js';

const N = 1_000_000;

function randomColumns(n: number, seed: number) {
  const next = xorshift32(seed);
  const saddr = new Uint32Array(n);
  const sport = new Uint16Array(n);
  const dport = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    saddr[i] = next();
    sport[i] = next() & 0xffff;
    dport[i] = next() & 0xffff;
  }
  return { saddr, sport, dport };
}

describe('TypeScript models = native C on random flows', () => {
  const flows = randomColumns(N, 0xaa55);
  const cases: HashParams[] = [];
  for (const mechanism of MECHANISMS)
    for (const hashmode of mechanism === 'xt_cluster' ? (['sourceip'] as const) : HASHMODES)
      for (const buckets of mechanism === 'clusterip' ? [3, 16] : mechanism === 'xt_cluster' ? [3, 32] : [3, 256, 1024])
        cases.push({ mechanism, hashmode, buckets, seed: (buckets * 0x9e3779b9) >>> 0 });

  it.each(cases)('$mechanism $hashmode buckets=$buckets over 1,000,000 flows', (p) => {
    const ts = new Uint32Array(N);
    const c = new Uint32Array(N);
    bucketsOfColumns(p, flows, ts);
    nativeBucketsOfColumns(p, flows, c);
    let mismatches = 0;
    for (let i = 0; i < N; i++) if (ts[i] !== c[i]) mismatches++;
    expect(mismatches).toBe(0);
    // Sanity: every bucket is used (a constant result would agree with itself too).
    expect(new Set(ts.subarray(0, 100_000)).size).toBe(p.buckets);
  });

  it('the Flow-object path agrees with the columnar path', () => {
    const n = 50_000;
    for (const p of cases) {
      const out = new Uint32Array(n);
      bucketsOfColumns(p, { saddr: flows.saddr.subarray(0, n), sport: flows.sport.subarray(0, n), dport: flows.dport.subarray(0, n) }, out);
      const dst = parseAddress('198.18.0.100')!;
      for (let i = 0; i < n; i++) {
        const f: Flow = { src: ipv4FromNumber(flows.saddr[i]), srcPort: flows.sport[i], dst, dstPort: flows.dport[i], proto: 6 };
        if (bucketOf(p, f) !== out[i]) throw new Error(`flow ${i} differs for ${JSON.stringify(p)}`);
      }
    }
  });

  it('jhash over byte strings of every length 0..64 (tails and mixed blocks)', () => {
    const next = xorshift32(7);
    for (let round = 0; round < 2000; round++) {
      const len = round % 65;
      const key = Uint8Array.from({ length: len }, () => next() & 0xff);
      const seed = next();
      expect(jhash(key, seed)).toBe(nativeJhash(key, seed));
    }
  });
});
