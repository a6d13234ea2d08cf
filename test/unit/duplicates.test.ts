// The split-brain rule (membership/duplicates.ts): which overlaps of the buckets nodes' kernels
// take are raised as duplicates (never two owners: the alarm for when it is broken), and which
// passing ones a late heartbeat produces are not. Each round goes out in COPIES datagrams.
import { describe, expect, it } from 'vitest';
import { DuplicateWatch } from '../../src/membership/duplicates.js';

const V = '198.18.0.100';
const COPIES = 2;
const dup = (bucket: number, nodes: number[]) => ({ vip: V, bucket, nodes });

describe('DuplicateWatch', () => {
  it('raises a bucket two live nodes take once each has sent a later round still showing it, and clears it when one lets go', () => {
    const w = new DuplicateWatch(3, COPIES);
    w.observe(1, 10, { [V]: [4, 5] });
    w.observe(2, 20, { [V]: [5, 6] });
    expect(w.evaluate([1, 2, 3])).toEqual({ raised: [], cleared: [] });
    // The other copy of each round: not a later round.
    w.observe(1, 11, { [V]: [4, 5] });
    w.observe(2, 21, { [V]: [5, 6] });
    expect(w.evaluate([1, 2, 3])).toEqual({ raised: [], cleared: [] });
    w.observe(1, 12, { [V]: [4, 5] });
    expect(w.evaluate([1, 2, 3]).raised).toEqual([]);
    w.observe(2, 22, { [V]: [5, 6] });
    expect(w.evaluate([1, 2, 3])).toEqual({ raised: [dup(5, [1, 2])], cleared: [] });
    expect(w.current()).toEqual([dup(5, [1, 2])]);
    expect(w.evaluate([1, 2, 3]).raised).toEqual([]);
    w.observe(2, 24, { [V]: [6] });
    expect(w.evaluate([1, 2, 3])).toEqual({ raised: [], cleared: [dup(5, [1, 2])] });
    expect(w.current()).toEqual([]);
    expect(w.raisedTotal).toBe(1);
  });

  it("does not raise a late word: the old owner's next round no longer has the bucket", () => {
    const w = new DuplicateWatch(3, COPIES);
    w.observe(1, 10, { [V]: [5] });
    w.observe(2, 20, { [V]: [5] });
    w.evaluate([1, 2, 3]);
    w.observe(2, 22, { [V]: [5] });
    w.observe(1, 12, { [V]: [] });
    expect(w.evaluate([1, 2, 3])).toEqual({ raised: [], cleared: [] });
    // Shown again later: counted afresh from there, not from the first sighting.
    w.observe(1, 14, { [V]: [5] });
    w.evaluate([1, 2, 3]);
    w.observe(2, 24, { [V]: [5] });
    expect(w.evaluate([1, 2, 3]).raised).toEqual([]);
    expect(w.raisedTotal).toBe(0);
  });

  it('compares only live nodes, ignores a replayed older heartbeat, and takes the local reading as always fresh', () => {
    const w = new DuplicateWatch(1, COPIES);
    w.observe(1, 0, { [V]: [7] });
    w.observe(2, 5, { [V]: [7] });
    expect(w.evaluate([1]).raised).toEqual([]);
    w.evaluate([1, 2]);
    w.observe(2, 3, { [V]: [7, 8] }); // older than what was heard: dropped
    w.observe(2, 6, { [V]: [7] });
    expect(w.evaluate([1, 2]).raised).toEqual([]);
    w.observe(2, 7, { [V]: [7] });
    expect(w.evaluate([1, 2]).raised).toEqual([dup(7, [1, 2])]);
    // Node 2 leaves the view: nothing to compare it with, the alarm clears.
    expect(w.evaluate([1]).cleared).toEqual([dup(7, [1, 2])]);
  });
});
