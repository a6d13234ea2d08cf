// The membership's pure parts: the wire format, liveness and quorum, and handover bookkeeping.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assign, bucketsOf } from '../../src/assignment/assign.js';
import { BucketKeeper, ownersOfView } from '../../src/membership/handover.js';
import { Membership, viewKey, type View } from '../../src/membership/membership.js';
import { bucketBitmap, bucketsOfBitmap, decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../../src/membership/wire.js';

const key = randomBytes(32);
const nodes = [
  { id: 1, weight: 1 },
  { id: 2, weight: 1 },
  { id: 3, weight: 1 },
];
const hb = (from: number, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat => ({
  cluster: 'web',
  from,
  incarnation: 1000,
  seq,
  live: [1, 2, 3],
  epoch: 1,
  view: 'q/1,2,3/1:1,2:1,3:1',
  quorate: true,
  weights: [],
  heard: [],
  draining: {},
  holding: { '198.18.0.100': bucketBitmap([1, 4, 256], 256) },
  ...extra,
});

describe('wire', () => {
  it('round-trips an authenticated heartbeat', () => {
    const r = decodeHeartbeat(encodeHeartbeat(hb(2, 1), key), key, 'web');
    expect(r).toEqual({ ok: true, heartbeat: hb(2, 1) });
  });
  it('refuses forged, truncated, tampered and foreign packets', () => {
    const packet = encodeHeartbeat(hb(2, 1), key);
    expect(decodeHeartbeat(encodeHeartbeat(hb(2, 1), randomBytes(32)), key, 'web')).toEqual({ ok: false, reason: 'bad-mac' });
    expect(decodeHeartbeat(packet.subarray(0, packet.length - 1), key, 'web')).toEqual({ ok: false, reason: 'truncated' });
    expect(decodeHeartbeat(packet.subarray(0, 10), key, 'web')).toEqual({ ok: false, reason: 'truncated' });
    const tampered = Buffer.from(packet);
    tampered[12] ^= 1;
    expect(decodeHeartbeat(tampered, key, 'web')).toEqual({ ok: false, reason: 'bad-mac' });
    expect(decodeHeartbeat(packet, key, 'db')).toEqual({ ok: false, reason: 'wrong-cluster' });
    expect(decodeHeartbeat(Buffer.from('hello world, this is not a heartbeat at all....'), key, 'web')).toEqual({ ok: false, reason: 'bad-magic' });
  });
  it('refuses authenticated heartbeats whose fields are not what they must be', () => {
    const bad: Partial<Record<keyof Heartbeat, unknown>>[] = [
      { seq: 1.5 },
      { live: ['1'] },
      { view: 3 },
      { weights: [{ node: 1, weight: -1, stamp: 1, by: 1 }] },
      { weights: {} },
      { heard: [{ node: 2, ageMs: -5, paused: false }] },
      { heard: [{ node: 2, ageMs: 5 }] },
      { holding: { x: 'zz' } },
      { leaving: 'yes' },
    ];
    for (const b of bad) {
      expect(decodeHeartbeat(encodeHeartbeat({ ...hb(2, 1), ...b } as Heartbeat, key), key, 'web')).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});

describe('bucket bitmaps', () => {
  it('round-trip any bucket set', () => {
    for (const set of [[], [1], [8, 9], [1, 4, 256], Array.from({ length: 1024 }, (_, i) => i + 1)]) {
      expect([...bucketsOfBitmap(bucketBitmap(set, 1024))].sort((a, b) => a - b)).toEqual(set);
    }
    expect(bucketBitmap([1, 9], 16)).toBe('0101');
  });
});

describe('membership', () => {
  const m = () => new Membership({ cluster: 'web', local: 1, nodes, deadtimeMs: 500, quorum: 'majority' });

  it('sees peers live until their deadtime passes', () => {
    const ms = m();
    expect(ms.view().live).toEqual([1]);
    expect(ms.view().quorate).toBe(false);
    ms.receive(hb(2, 1), 0);
    ms.receive(hb(3, 1), 0);
    const v = ms.tick(0)!;
    expect(v.live).toEqual([1, 2, 3]);
    expect(v.quorate).toBe(true);
    expect(v.epoch).toBe(1);
    expect(ms.tick(400)).toBeUndefined();
    ms.receive(hb(2, 2), 450);
    const v2 = ms.tick(501)!;
    expect(v2.live).toEqual([1, 2]);
    expect(v2.epoch).toBe(2);
    expect(v2.quorate).toBe(true);
    expect(ms.tick(1000)!.quorate).toBe(false);
  });

  it('refuses replays and old incarnations, accepts a restarted peer', () => {
    const ms = m();
    expect(ms.receive(hb(2, 5), 0)).toBe('accepted');
    expect(ms.receive(hb(2, 5), 1)).toBe('replayed');
    expect(ms.receive(hb(2, 4), 1)).toBe('replayed');
    expect(ms.receive(hb(2, 9, { incarnation: 999 }), 1)).toBe('replayed');
    expect(ms.receive(hb(2, 1, { incarnation: 2000 }), 2)).toBe('accepted');
    expect(ms.receive(hb(7, 1), 2)).toBe('unknown-sender');
    expect(ms.receive(hb(1, 1), 2)).toBe('unknown-sender');
    expect(ms.counters).toMatchObject({ accepted: 2, replayed: 3, unknownSender: 2 });
  });

  it('follows weights set anywhere in the cluster, the latest setting winning despite clock skew', () => {
    const ms = m();
    ms.receive(hb(2, 1, { weights: [{ node: 3, weight: 0, stamp: 50_000, by: 2 }] }), 0);
    expect(ms.tick(0)!.members).toEqual([
      { id: 1, weight: 1 },
      { id: 2, weight: 1 },
      { id: 3, weight: 0 },
    ]);
    // Set here a moment later by a clock 40 s behind node 2's: still later than what it saw.
    const s = ms.setWeight(3, null, 10_000);
    expect(s.stamp).toBeGreaterThan(50_000);
    expect(ms.tick(1)!.members.find((x) => x.id === 3)!.weight).toBe(1);
    // An older setting arriving late changes nothing.
    ms.receive(hb(2, 2, { weights: [{ node: 3, weight: 0, stamp: 50_000, by: 2 }] }), 2);
    expect(ms.tick(2)).toBeUndefined();
    // Equal stamps: the higher node id wins, on every node alike.
    ms.receive(
      hb(2, 3, {
        weights: [
          { node: 1, weight: 2, stamp: 60_000, by: 2 },
          { node: 1, weight: 3, stamp: 60_000, by: 3 },
        ],
      }),
      3,
    );
    expect(ms.weightOf(1)).toBe(3);
    expect(
      ms
        .weightSettings()
        .map((x) => x.node)
        .sort(),
    ).toEqual([1, 3]);
  });

  it('keeps a peer live on hearsay when its own heartbeats are lost, and not a moment longer', () => {
    const ms = m();
    ms.receive(hb(2, 1), 0);
    ms.receive(hb(3, 1), 0);
    ms.tick(0);
    // Node 3's own heartbeats stop reaching us; node 2 keeps saying it heard 3 recently.
    for (let t = 100; t <= 2000; t += 100) {
      ms.receive(hb(2, t, { heard: [{ node: 3, ageMs: 40, paused: false }] }), t);
      expect(ms.tick(t)).toBeUndefined();
    }
    // Node 3 dies at 2000 - 40: node 2's hearing of it ages, and so does our evidence.
    ms.receive(hb(2, 3000, { heard: [{ node: 3, ageMs: 440, paused: false }] }), 2400);
    expect(ms.tick(2400)).toBeUndefined();
    expect(ms.tick(2461)!.live).toEqual([1, 2]);
    // Hearsay is passed on only as heard directly.
    expect(ms.hearsay(2461).map((h) => h.node)).toEqual([2]);
  });

  it('takes a leaving peer out at once, and hearsay does not bring it back', () => {
    const ms = m();
    ms.receive(hb(2, 1), 0);
    ms.receive(hb(3, 1), 0);
    ms.tick(0);
    ms.receive(hb(3, 2, { leaving: true }), 10);
    expect(ms.tick(10)!.live).toEqual([1, 2]);
    ms.receive(hb(2, 2, { heard: [{ node: 3, ageMs: 0, paused: false }] }), 20);
    expect(ms.tick(20)).toBeUndefined();
    // A new daemon on node 3 is heard directly.
    ms.receive(hb(3, 1, { incarnation: 2000 }), 30);
    expect(ms.tick(30)!.live).toEqual([1, 2, 3]);
  });

  it('keeps a paused (restarting) peer live for the restart grace, not the deadtime', () => {
    const ms = new Membership({ cluster: 'web', local: 1, nodes, deadtimeMs: 500, restartGraceMs: 5000, quorum: 'majority' });
    ms.receive(hb(2, 1), 0);
    ms.receive(hb(3, 1, { paused: true }), 0);
    ms.tick(0);
    expect(ms.tick(1000)!.live).toEqual([1, 3]);
    expect(ms.tick(4999)).toBeUndefined();
    expect(ms.tick(5001)!.live).toEqual([1]);
  });

  it('learns of a pause by hearsay when it missed the paused heartbeats themselves', () => {
    const ms = new Membership({ cluster: 'web', local: 1, nodes, deadtimeMs: 500, restartGraceMs: 5000, quorum: 'majority' });
    ms.receive(hb(2, 1), 0);
    ms.receive(hb(3, 1), 0);
    ms.tick(0);
    ms.receive(hb(2, 2, { heard: [{ node: 3, ageMs: 10, paused: true }] }), 100);
    for (let t = 200; t < 5000; t += 200) ms.receive(hb(2, t, { heard: [{ node: 3, ageMs: t - 90, paused: true }] }), t);
    expect(ms.tick(4000)).toBeUndefined();
    expect(ms.tick(5091)!.live).toEqual([1, 2]);
  });

  it('ignores quorum when told to', () => {
    const ms = new Membership({ cluster: 'web', local: 1, nodes: nodes.slice(0, 2), deadtimeMs: 500, quorum: 'ignore' });
    expect(ms.view().quorate).toBe(true);
  });
});

describe('handover', () => {
  const view = (live: number[], epoch = 1, quorate = true, members = nodes): View => ({ epoch, live, quorate, members });
  const keeper = (local: number) => new BucketKeeper({ local, nodes, buckets: 12, vip: '198.18.0.100', drainTimeoutMs: 10_000 });

  it("takes a dead node's buckets over at once", () => {
    const k = keeper(1);
    k.onView(view([1, 2, 3]), 0);
    const before = k.ownership().owned.length;
    const c = k.onView(view([1, 2]), 1);
    expect(c.gained.length).toBe(2);
    expect(k.ownership().incoming).toEqual([]);
    expect(k.ownership().owned.length).toBe(before + 2);
  });

  it('hands a bucket back to a returning node: old owner drains, new owner takes new connections only', () => {
    const survivor = keeper(1);
    survivor.onView(view([1, 2, 3]), 0);
    survivor.onView(view([1, 2]), 1);
    const change = survivor.onView(view([1, 2, 3], 3), 2);
    expect(change.drainingStarted.length).toBeGreaterThan(0);
    const drained = survivor.ownership().draining;
    expect(drained).toEqual(change.drainingStarted);

    const returning = keeper(3);
    // At start-up the previous owners are what the others did without node 3.
    const prev = new BucketKeeper({ local: 1, nodes, buckets: 12, vip: 'x', drainTimeoutMs: 0 });
    prev.onView(view([1, 2]), 0);
    returning.onView(view([1, 2, 3], 3), 2, prev.currentOwners);
    // Pending: nothing new is taken while the old owners may still take new connections.
    expect(returning.ownership().owned).toEqual([]);
    expect(returning.ownership().incoming).toEqual([]);
    const pending = returning.ownership().draining;
    expect(pending.length).toBe(4);

    // Node 1 announces it drains them: they become incoming here (new connections welcome).
    expect(returning.onHeartbeat({ ...hbFrom(1), draining: { '198.18.0.100': drained } })).toEqual(drained);
    expect(returning.ownership().incoming).toEqual(drained);
    // A heartbeat from another view changes nothing.
    expect(returning.onHeartbeat({ ...hbFrom(2), live: [1, 2], view: viewKey(view([1, 2])), draining: {} })).toEqual([]);
    // Node 1 finishes draining (no flows left): node 3 owns them on node 1's next heartbeat.
    expect(survivor.settleDraining(5, new Set(drained))).toEqual(drained);
    const promoted = returning.onHeartbeat({ ...hbFrom(1), seq: 2, draining: { '198.18.0.100': survivor.drainingBuckets() } });
    expect(promoted).toEqual(drained);
    // Node 2 never drained its share (it lists nothing): owned at once.
    returning.onHeartbeat({ ...hbFrom(2), draining: {} });
    expect(returning.ownership()).toEqual({ owned: pending, incoming: [], draining: [] });
  });

  it('ends draining at the deadline, and at once when quorum is lost', () => {
    const k = keeper(1);
    k.onView(view([1, 2]), 0);
    k.onView(view([1, 2, 3], 2), 0);
    expect(k.drainingBuckets().length).toBeGreaterThan(0);
    expect(k.settleDraining(9_999, new Set())).toEqual([]);
    expect(k.settleDraining(10_000, new Set()).length).toBeGreaterThan(0);
    k.onView(view([1, 2]), 20_000);
    k.onView(view([1, 2, 3]), 20_001);
    k.onView(view([1], 4, false), 20_002);
    expect(k.ownership()).toEqual({ owned: [], incoming: [], draining: [] });
  });

  it('drains a node by moving only its buckets, evenly, and confirms only from the same view', () => {
    const drained = [
      { id: 1, weight: 1 },
      { id: 2, weight: 1 },
      { id: 3, weight: 0 },
    ];
    const before = ownersOfView(view([1, 2, 3]), nodes, 256);
    const after = ownersOfView(view([1, 2, 3], 2, true, drained), nodes, 256);
    expect(before).toEqual(assign(nodes, new Set([1, 2, 3]), 256));
    const moved = after.map((o, i) => (o !== before[i] ? i + 1 : 0)).filter(Boolean);
    expect(moved).toEqual(bucketsOf(before, 3));
    expect([bucketsOf(after, 1).length, bucketsOf(after, 2).length]).toEqual([128, 128]);
    // Undrained, every bucket goes home.
    expect(ownersOfView(view([1, 2, 3], 3), nodes, 256)).toEqual(before);

    // Node 1 takes some of node 3's buckets: node 3's heartbeat from before the drain (same
    // live nodes, other weights) must not count as "not draining them any more".
    const k = keeper(1);
    k.onView(view([1, 2, 3]), 0);
    k.onView(view([1, 2, 3], 2, true, drained), 1);
    const pending = k.ownership().draining;
    expect(pending.length).toBeGreaterThan(0);
    expect(k.onHeartbeat({ ...hbFrom(3), draining: {} })).toEqual([]);
    expect(k.onHeartbeat({ ...hbFrom(3), view: viewKey(view([1, 2, 3], 2, true, drained)), draining: { '198.18.0.100': pending } })).toEqual(pending);
    expect(k.ownership().incoming).toEqual(pending);
  });

  function hbFrom(from: number): Heartbeat {
    return {
      cluster: 'web',
      from,
      incarnation: 1,
      seq: 1,
      live: [1, 2, 3],
      epoch: 3,
      view: viewKey(view([1, 2, 3])),
      quorate: true,
      weights: [],
      heard: [],
      draining: {},
      holding: {},
    };
  }
});
