// The fault run's judge: what a node's kernel serves, read from `nft list map`, and when two
// nodes certainly took a bucket's new connections at one moment.
import { describe, expect, it } from 'vitest';
import { nftDurationMs, overlapsPerBucket, parseBucketMap, type Listing } from '../../src/lab/kernel-buckets.js';

const listing = `table ip aavip_198_18_0_100 {
	map buckets {
		typeof numgen inc mod 2 : verdict
		flags timeout
		elements = { 1 timeout 472ms expires 452ms : goto own, 4 timeout 1s472ms expires 1s2ms : goto incoming,
			     7 : goto draining, 10 timeout 5s expires 4s999ms : goto own }
	}
}`;

describe('kernel bucket maps', () => {
  it('reads chains and leases to the millisecond', () => {
    expect(nftDurationMs('1s472ms')).toBe(1472);
    expect(nftDurationMs('2m')).toBe(120_000);
    expect([...parseBucketMap(listing)]).toEqual([
      [1, { chain: 'own', expiresMs: 452 }],
      [4, { chain: 'incoming', expiresMs: 1002 }],
      [7, { chain: 'draining' }],
      [10, { chain: 'own', expiresMs: 4999 }],
    ]);
    expect(parseBucketMap('Error: No such file or directory').size).toBe(0);
  });

  it('counts an overlap only while both elements are alive at the later listing', () => {
    const at = (t: number, bucket: number, expiresMs?: number, chain: 'own' | 'draining' = 'own'): Listing => ({
      at: t,
      map: new Map([[bucket, { chain, expiresMs }]]),
    });
    // Node 1's lease lapses at 1020; node 2 lists the bucket at 1030: a takeover after the lapse.
    expect(
      overlapsPerBucket(
        new Map([
          [1, at(1000, 3, 20)],
          [2, at(1030, 3, 200)],
        ]),
        4,
      ),
    ).toEqual([0, 0, 0, 0]);
    // Still alive at 1030: two owners.
    expect(
      overlapsPerBucket(
        new Map([
          [1, at(1000, 3, 50)],
          [2, at(1030, 3, 200)],
        ]),
        4,
      ),
    ).toEqual([0, 0, 1, 0]);
    // A draining element takes no new connections.
    expect(
      overlapsPerBucket(
        new Map([
          [1, at(1000, 3, 500, 'draining')],
          [2, at(1000, 3)],
        ]),
        4,
      ),
    ).toEqual([0, 0, 0, 0]);
  });
});
