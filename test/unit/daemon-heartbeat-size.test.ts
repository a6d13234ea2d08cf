// Heartbeats carry every VIP's held and draining buckets: as bitmaps they stay one datagram for
// 40 VIPs of 1,024 buckets (as number lists they passed 64 KiB and the send timer threw), and a
// configuration that could not fit is found before anything starts.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_BODY, worstCaseBody } from '../../src/daemon/heartbeat.js';
import { factsOf } from '../../src/membership/agreement.js';
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../../src/membership/wire.js';

const nodes = [1, 2, 3];
const vips = (n: number) => Array.from({ length: n }, (_, k) => ({ key: `198.18.${Math.floor(k / 250)}.${k % 250}`, buckets: 1024 }));
const facts = (v: { key: string }[]) =>
  factsOf(
    nodes.map((id) => ({ id, weight: 1 })),
    Object.fromEntries(v.map((x) => [x.key, 'f'.repeat(16)])),
  );

describe('heartbeat size', () => {
  it('fits 40 VIPs of 1,024 buckets, all draining, in one datagram', () => {
    const v = vips(40);
    expect(worstCaseBody('web', nodes, v, facts(v))).toBeLessThan(MAX_BODY);
  });
  it('finds a configuration whose heartbeat cannot fit', () => {
    const v = vips(120);
    expect(worstCaseBody('web', nodes, v, facts(v))).toBeGreaterThan(MAX_BODY);
  });
  it('round-trips 1,024 draining buckets as a bitmap', () => {
    const all = Array.from({ length: 1024 }, (_, k) => k + 1);
    const hb: Heartbeat = {
      cluster: 'web',
      from: 2,
      incarnation: 1,
      seq: 1,
      live: [1, 2],
      epoch: 1,
      view: 'q',
      quorate: true,
      weights: [],
      heard: [],
      draining: { '198.18.0.100': all },
      holding: {},
    };
    const key = randomBytes(32);
    const packet = encodeHeartbeat(hb, key);
    expect(packet.length).toBeLessThan(1400);
    const r = decodeHeartbeat(packet, key, 'web');
    expect(r.ok && r.heartbeat.draining['198.18.0.100']).toEqual(all);
  });
});
