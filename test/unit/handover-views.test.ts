// Handover when views keep changing (a loaded machine): a pending bucket waits for its old
// owner's word from the same view, but one the old owner no longer holds at all (its heartbeat's
// bitmap, sent only once it has joined) is served by nobody and is taken outright — NEVER NONE —
// while one the old owner still holds stays pending — NEVER TWO OWNERS.
import { describe, expect, it } from 'vitest';
import { BucketKeeper } from '../../src/membership/handover.js';
import { viewKey, type View } from '../../src/membership/membership.js';
import { bucketBitmap, type Heartbeat } from '../../src/membership/wire.js';

const nodes = [{ id: 1, weight: 1 }, { id: 2, weight: 1 }, { id: 3, weight: 1 }];
const VIP = '198.18.0.100';
const view = (live: number[], epoch = 1): View => ({ epoch, live, quorate: true, members: nodes });
const hb = (from: number, v: View, holding?: number[]): Heartbeat => ({
  cluster: 'web', from, incarnation: 1, seq: 1, live: v.live, epoch: v.epoch, view: viewKey(v), quorate: true, weights: [], heard: [],
  draining: {}, holding: holding ? { [VIP]: bucketBitmap(holding, 12) } : {},
});

describe('handover across differing views', () => {
  function returning() {
    const k = new BucketKeeper({ local: 3, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    const survivors = view([1, 2], 1);
    const owners = new BucketKeeper({ local: 1, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    owners.onView(survivors, 0);
    k.onView(view([1, 2, 3], 2), 0, owners.currentOwners.map((id) => id));
    return k;
  }

  it('keeps a bucket pending while its old owner, in another view, still holds it', () => {
    const k = returning();
    const pending = k.ownership().draining;
    expect(pending.length).toBeGreaterThan(0);
    const from1 = pending.filter((b) => b % 3 !== 2); // taken from node 1 (the rest from node 2)
    expect(k.onHeartbeat(hb(1, view([1, 2], 9), [...from1]))).toEqual([]);
    expect(k.ownership().owned.filter((b) => from1.includes(b))).toEqual([]);
  });

  it('takes a bucket its old owner, in another view, no longer holds', () => {
    const k = returning();
    const pending = k.ownership().draining;
    const promoted = k.onHeartbeat(hb(1, view([1, 2], 9), []));
    expect(promoted.length).toBeGreaterThan(0);
    expect(promoted.every((b) => pending.includes(b))).toBe(true);
    expect(k.ownership().owned).toEqual(expect.arrayContaining(promoted));
  });

  it('believes nothing from an old owner that has not joined (announces no holding)', () => {
    const k = returning();
    expect(k.onHeartbeat(hb(1, view([1, 2], 9)))).toEqual([]);
  });
});
