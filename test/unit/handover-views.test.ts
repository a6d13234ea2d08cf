// Handover when views keep changing (a loaded machine): a pending bucket waits for its old
// owner's word from the same view, but one the old owner no longer holds at all (its heartbeat's
// bitmap, sent only once it has joined) is served by nobody and is taken outright — NEVER NONE —
// while one the old owner still holds stays pending — NEVER TWO OWNERS.
import { describe, expect, it } from 'vitest';
import { BucketKeeper } from '../../src/membership/handover.js';
import { viewKey, type View } from '../../src/membership/membership.js';
import { bucketBitmap, type Heartbeat } from '../../src/membership/wire.js';

const nodes = [
  { id: 1, weight: 1 },
  { id: 2, weight: 1 },
  { id: 3, weight: 1 },
];
const VIP = '198.18.0.100';
const view = (live: number[], epoch = 1): View => ({ epoch, live, quorate: true, members: nodes });
const hb = (from: number, v: View, holding?: number[], draining: number[] = []): Heartbeat => ({
  cluster: 'web',
  from,
  incarnation: 1,
  seq: 1,
  live: v.live,
  epoch: v.epoch,
  view: viewKey(v),
  quorate: true,
  weights: [],
  heard: [],
  draining: { [VIP]: draining },
  holding: holding ? { [VIP]: bucketBitmap(holding, 12) } : {},
});

describe('handover across differing views', () => {
  function returning() {
    const k = new BucketKeeper({ local: 3, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    const survivors = view([1, 2], 1);
    const owners = new BucketKeeper({ local: 1, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    owners.onView(survivors, 0);
    k.onView(
      view([1, 2, 3], 2),
      0,
      owners.currentOwners.map((id) => id),
    );
    return k;
  }

  it('keeps a bucket pending while its old owner, in another view, still holds it', () => {
    const k = returning();
    const pending = k.ownership().draining;
    expect(pending.length).toBeGreaterThan(0);
    const from1 = pending.filter((b) => b % 3 !== 2); // taken from node 1 (the rest from node 2)
    expect(k.onHeartbeat(hb(1, view([1, 3], 9), [...from1]))).toEqual([]);
    expect(k.ownership().owned.filter((b) => from1.includes(b))).toEqual([]);
  });

  it('takes a bucket its old owner, in another view, no longer holds', () => {
    const k = returning();
    const pending = k.ownership().draining;
    const promoted = k.onHeartbeat(hb(1, view([1, 3], 9), []));
    expect(promoted.length).toBeGreaterThan(0);
    expect(promoted.every((b) => pending.includes(b))).toBe(true);
    expect(k.ownership().owned).toEqual(expect.arrayContaining(promoted));
  });

  it('believes nothing from an old owner that has not joined (announces no holding)', () => {
    const k = returning();
    expect(k.onHeartbeat(hb(1, view([1, 3], 9)))).toEqual([]);
  });

  it('takes nothing on the word of an old owner whose view does not have us live (it may be taking our buckets)', () => {
    const k = returning();
    expect(k.onHeartbeat(hb(1, view([1, 2], 9), []))).toEqual([]);
  });
});

describe("handover in one view, the old owner's kernel slower than its decisions", () => {
  // The old owner says it drains a bucket once its kernel refuses the bucket's new connections,
  // and holds it until its kernel has let it go entirely (heartbeat.ts).
  const same = view([1, 2, 3], 2);
  function returning() {
    const k = new BucketKeeper({ local: 3, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    const owners = new BucketKeeper({ local: 1, nodes, buckets: 12, vip: VIP, drainTimeoutMs: 10_000 });
    owners.onView(view([1, 2], 1), 0);
    k.onView(same, 0, owners.currentOwners);
    const from1 = k.ownership().draining.filter((b) => owners.currentOwners[b - 1] === 1);
    expect(from1.length).toBeGreaterThan(0);
    return { k, from1 };
  }

  it('keeps a bucket pending while the old owner holds it without draining it yet (NEVER TWO OWNERS)', () => {
    const { k, from1 } = returning();
    expect(k.onHeartbeat(hb(1, same, from1, []))).toEqual([]);
    expect(k.ownership().draining).toEqual(expect.arrayContaining(from1));
  });

  it('takes new connections once the old owner drains it, and all of it once the old owner holds it no more', () => {
    const { k, from1 } = returning();
    expect(k.onHeartbeat(hb(1, same, from1, from1))).toEqual(from1);
    expect(k.ownership().incoming).toEqual(expect.arrayContaining(from1));
    expect(k.onHeartbeat(hb(1, same, [], []))).toEqual(from1);
    expect(k.ownership().owned).toEqual(expect.arrayContaining(from1));
  });
});

describe('joining again after a lapse', () => {
  it('hands over, never grabs, buckets a peer that has not yet seen us live may be taking (NEVER TWO OWNERS)', async () => {
    const { ownersBeforeJoin } = await import('../../src/membership/join.js');
    const { ownersOfView } = await import('../../src/membership/handover.js');
    const all = view([1, 2, 3], 4);
    // Peers 1 and 2 still say live [1, 2] (they have not seen node 3 back) and hold only their own buckets so far.
    const peerView = view([1, 2], 3);
    const mine = ownersOfView(view([1, 2, 3]), nodes, 12)
      .map((id, k) => (id === 3 ? k + 1 : 0))
      .filter(Boolean);
    const theirs = (id: number) =>
      ownersOfView(view([1, 2, 3]), nodes, 12)
        .map((o, k) => (o === id ? k + 1 : 0))
        .filter(Boolean);
    const peers = [hb(1, peerView, theirs(1)), hb(2, peerView, theirs(2))];
    const before = ownersBeforeJoin({ local: 3, view: all, nodes, buckets: 12, vip: VIP, peers, leftover: new Set() });
    expect(mine.every((b) => before[b - 1] === 1 || before[b - 1] === 2)).toBe(true);
    // Once they list us live, what nobody holds is ours at once.
    const back = [hb(1, all, theirs(1)), hb(2, all, theirs(2))];
    const after = ownersBeforeJoin({ local: 3, view: all, nodes, buckets: 12, vip: VIP, peers: back, leftover: new Set() });
    expect(mine.every((b) => after[b - 1] === 0)).toBe(true);
  });
});
