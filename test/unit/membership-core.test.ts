// The membership's pure parts: the wire format, liveness and quorum, and handover bookkeeping.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BucketKeeper } from '../../src/membership/handover.js';
import { Membership, type View } from '../../src/membership/membership.js';
import { bucketBitmap, bucketsOfBitmap, decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../../src/membership/wire.js';

const key = randomBytes(32);
const nodes = [{ id: 1, weight: 1 }, { id: 2, weight: 1 }, { id: 3, weight: 1 }];
const hb = (from: number, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat => ({
  cluster: 'web', from, incarnation: 1000, seq, live: [1, 2, 3], epoch: 1, quorate: true, weight: 1, draining: {}, holding: { '198.18.0.100': bucketBitmap([1, 4, 256], 256) }, ...extra,
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

  it('follows announced weights', () => {
    const ms = m();
    ms.receive(hb(2, 1, { weight: 0 }), 0);
    expect(ms.tick(0)!.members.find((x) => x.id === 2)!.weight).toBe(0);
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

  it('ignores quorum when told to', () => {
    const ms = new Membership({ cluster: 'web', local: 1, nodes: nodes.slice(0, 2), deadtimeMs: 500, quorum: 'ignore' });
    expect(ms.view().quorate).toBe(true);
  });
});

describe('handover', () => {
  const view = (live: number[], epoch = 1, quorate = true): View => ({ epoch, live, quorate, members: nodes });
  const keeper = (local: number) => new BucketKeeper({ local, buckets: 12, vip: '198.18.0.100', drainTimeoutMs: 10_000 });

  it('takes a dead node\'s buckets over at once', () => {
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
    const prev = new BucketKeeper({ local: 1, buckets: 12, vip: 'x', drainTimeoutMs: 0 });
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
    expect(returning.onHeartbeat({ ...hbFrom(2), live: [1, 2], draining: {} })).toEqual([]);
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

  function hbFrom(from: number): Heartbeat {
    return { cluster: 'web', from, incarnation: 1, seq: 1, live: [1, 2, 3], epoch: 3, quorate: true, weight: 1, draining: {}, holding: {} };
  }
});
