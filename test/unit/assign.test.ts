import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assign, bucketsOf, homeOwners, moves, shares, type Member } from '../../src/assignment/assign.js';

const three: Member[] = [
  { id: 1, weight: 1 },
  { id: 2, weight: 1 },
  { id: 3, weight: 1 },
];
const counts = (owners: number[]) => owners.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<number, number>());

describe('assignment', () => {
  it('splits 256 buckets 86/85/85 when all are up', () => {
    const c = counts(assign(three, new Set([1, 2, 3]), 256));
    expect([...c.values()].sort()).toEqual([85, 85, 86]);
  });

  it("moves only the dead node's buckets, and spreads them evenly", () => {
    const before = assign(three, new Set([1, 2, 3]), 256);
    const after = assign(three, new Set([1, 2]), 256);
    const m = moves(before, after, new Set([1, 2]));
    expect(m.every((x) => x.from === 3 && x.kind === 'takeover')).toBe(true);
    expect(m.length).toBe(bucketsOf(before, 3).length);
    const c = counts(after);
    expect(Math.max(c.get(1)!, c.get(2)!) / Math.min(c.get(1)!, c.get(2)!)).toBeLessThanOrEqual(1.02);
  });

  it("gives back exactly the returning node's home buckets", () => {
    const all = new Set([1, 2, 3]);
    const degraded = assign(three, new Set([1, 3]), 256);
    const healed = assign(three, all, 256);
    const m = moves(degraded, healed, all);
    expect(m.every((x) => x.to === 2 && x.kind === 'handover')).toBe(true);
    expect(healed).toEqual(homeOwners(three, 256));
  });

  it('honours weights', () => {
    const c = counts(
      assign(
        [
          { id: 1, weight: 2 },
          { id: 2, weight: 1 },
          { id: 3, weight: 1 },
        ],
        new Set([1, 2, 3]),
        256,
      ),
    );
    expect(c.get(1)).toBe(128);
    expect(c.get(2)).toBe(64);
  });

  it("modulo piles a dead node's share onto one survivor", () => {
    const c = counts(assign(three, new Set([1, 2]), 255, 'modulo'));
    expect(Math.max(c.get(1)!, c.get(2)!) / Math.min(c.get(1)!, c.get(2)!)).toBeCloseTo(2, 0);
  });

  it('holds its invariants for any view (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 1024 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 8, maxLength: 8 }),
        (n, buckets, up, weights) => {
          const members = Array.from({ length: n }, (_, i) => ({ id: i + 1, weight: weights[i] }));
          const live = new Set(members.filter((_, i) => up[i]).map((m) => m.id));
          const owners = assign(members, live, buckets);
          expect(owners.length).toBe(buckets);
          if (live.size === 0) {
            expect(owners.every((o) => o === 0)).toBe(true);
            return;
          }
          // Every bucket has one live owner; each owner is within one bucket of its exact share.
          expect(owners.every((o) => live.has(o))).toBe(true);
          const want = shares(
            members.filter((m) => live.has(m.id)),
            buckets,
          );
          const c = counts(owners);
          for (const [id, s] of want) expect(c.get(id) ?? 0).toBe(s);
          // Live nodes keep their home buckets up to their share (which, with few buckets, can round
          // below their home count: 5 buckets, live weights 4,4,1,3 give the weight-1 node none).
          const home = homeOwners(members, buckets);
          for (const id of live) {
            const kept = home.filter((o, b) => o === id && owners[b] === id).length;
            expect(kept).toBe(Math.min(home.filter((o) => o === id).length, want.get(id)!));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps home buckets up to the share when the share rounds below the home count', () => {
    const members = [4, 2, 4, 1, 1, 3].map((weight, i) => ({ id: i + 1, weight }));
    const owners = assign(members, new Set([1, 3, 4, 6]), 5);
    expect(homeOwners(members, 5)).toEqual([1, 2, 3, 4, 6]);
    expect(owners.filter((o) => o === 4)).toEqual([]); // its share of 5 is 0
    expect([owners[0], owners[2], owners[4]]).toEqual([1, 3, 6]);
  });

  it('all nodes compute the same owners (no hidden state)', () => {
    expect(assign(three, new Set([3, 1]), 64)).toEqual(assign([...three].reverse(), new Set([1, 3]), 64));
  });
});
