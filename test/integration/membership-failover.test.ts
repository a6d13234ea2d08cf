// The failover experiment on the real kernel with real daemons (see src/lab/failover.ts).
// Timing targets are reported by `aavip lab failover` / bench/failover.ts; this test holds the
// behaviour: every dead bucket comes back, survivors lose nothing, nobody is reset on the rejoin.
import { describe, expect, it } from 'vitest';
import { runFailover } from '../../src/lab/failover.js';

describe('failover and rejoin with three daemons', () => {
  it("takes a dead node's buckets over, spreads them evenly, and hands them back without resets", async () => {
    const r = await runFailover({ prefix: 'mbfo', intervalMs: 60, deadtimeMs: 300, copies: 2, buckets: 256, longLived: 200 });
    expect(r.deadBucketsProbed).toBeGreaterThan(10);
    // Every probed dead bucket answered again, within a few deadtimes.
    expect(r.outageMsMax).toBeLessThan(5 * r.deadtimeMs);
    expect(r.survivorFailed).toBe(0);
    expect(r.maxMinShareAfter).toBeLessThanOrEqual(1.1);
    expect(r.longLivedHeld).toBeGreaterThanOrEqual(200);
    expect(r.rejoinResets).toBe(0);
    expect(r.rejoinMispredicted).toBe(0);
    expect(r.rejoinedShare).toBeGreaterThan(0.25);
  });
});
