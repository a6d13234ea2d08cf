// Membership scenarios with the real daemon over a simulated network, clock and kernel
// (sim/world.ts): no root, milliseconds each. Every scenario checks both ownership invariants
// throughout, sampled every 10 ms of simulated time: NEVER TWO OWNERS (no moment with two nodes
// taking a bucket's new connections) and NEVER NONE (no bucket without such a node for longer
// than the takeover bound). The namespace tests with real daemons and nft cover the same ground
// on the real kernel.
import { afterEach, describe, expect, it } from 'vitest';
import { addressOf, DEADTIME, INTERVAL, SimCluster, VIP } from './sim/cluster.js';

/** A dead node's buckets are answered again within this (its lease lapses first, then the takeover). */
const TAKEOVER_BOUND = DEADTIME + 2 * INTERVAL;

let sim: SimCluster;
afterEach(async () => {
  await sim?.stopAll();
});

async function steady(o?: ConstructorParameters<typeof SimCluster>[0]): Promise<SimCluster> {
  sim = new SimCluster(o);
  await sim.startAll();
  sim.exempt = true; // the first join: nothing is served before the nodes have heard each other
  await sim.run(1500);
  sim.exempt = false;
  return sim;
}

describe('daemon scenarios (simulated network and kernel)', () => {
  it('deals every bucket to exactly one node once the nodes have heard each other', async () => {
    await steady();
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0);
    expect(sim.longestUnserved.ms).toBe(0); // never none: the leases are renewed in time
  });
});

describe('a node dies, returns, is cut off', () => {
  it("SIGKILL: the dead node's leases lapse before the survivors take its buckets, spread evenly", async () => {
    await steady();
    sim.kill(3); // its kernel keeps the rules it had, on their lease
    await sim.run(2000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBeGreaterThan(0);
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 128, 2: 128, 3: 0 });
  });

  it("a peer's death or one-sided cut costs the survivors nothing: their own buckets stay served throughout", async () => {
    for (const fault of ['kill', 'cut'] as const) {
      await steady();
      const own = [1, 2].flatMap((id) => Array.from({ length: 256 }, (_, k) => k + 1).filter((b) => sim.servers(b)[0] === id));
      if (fault === 'kill') sim.kill(3);
      else for (const id of [1, 2]) sim.world.cut(addressOf(3), addressOf(id), true);
      await sim.run(2000);
      expect(own.filter((b) => sim.unservedByBucket.has(b))).toEqual([]); // never none
      expect(sim.twoOwnerMs).toBe(0); // never two owners
      await sim.stopAll();
    }
  });

  it('the invariant check catches a broken lease rule (leases that outlive the deadtime)', async () => {
    await steady({ deps: { leaseRule: () => 10_000 } });
    sim.kill(3);
    await sim.run(2000);
    expect(sim.twoOwnerMs).toBeGreaterThan(1000); // two owners: node 3's kernel serves on while the others took over
  });

  it('a returning node takes its share back by handover, never beside the old owner', async () => {
    await steady();
    sim.kill(3);
    await sim.run(2000);
    await sim.start(3);
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  });

  it('the same with slow kernel updates on the old owners (100 ms commits, as on a loaded machine): the new owner waits for their kernels to let go', async () => {
    await steady();
    sim.kernel(1).commitMs = 100;
    sim.kernel(2).commitMs = 100;
    sim.kill(3);
    await sim.run(2000);
    await sim.start(3);
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners: a draining bucket is announced once the old owner's kernel refuses its new connections
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  });

  /** Cuts node 1 off (both ways, or only its own heartbeats), then heals; both invariants throughout. */
  async function cutOffNode1(cut: () => void, whileCut = () => {}): Promise<void> {
    await steady();
    cut();
    await sim.run(2000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 0, 2: 128, 3: 128 });
    whileCut();
    sim.world.heal();
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0);
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  }

  it('partition 2|1: the lone node serves nothing, the majority everything; healed, each its share', async () => {
    await cutOffNode1(
      () => sim.world.isolate(addressOf(1), sim.ids.map(addressOf)),
      () => expect(sim.daemons.get(1)!.membership.view().quorate).toBe(false),
    );
  });

  it('one-sided cut (the others no longer hear node 1, node 1 still hears them): node 1 lets go before they take over', async () => {
    // Before leases, node 1 served on beside the takeover.
    await cutOffNode1(() => {
      for (const id of [2, 3]) sim.world.cut(addressOf(1), addressOf(id), true);
    });
  });

  it('quorum ignore, node 2 deaf (hears no one, still heard) with slow kernel reads: the views move on while it re-joins, and it ends serving everything', async () => {
    // Its lease lapses (no peer confirms hearing it), it re-joins after reading its kernel, and the
    // views drop node 1 and node 3 during that read. A re-join that used the view it started
    // with left node 2 waiting for node 3's handover for ever: nobody served node 3's buckets.
    await steady({ quorum: 'ignore' });
    sim.kernel(2).readMs = 3 * INTERVAL;
    for (const id of [1, 3]) sim.world.cut(addressOf(id), addressOf(2), true);
    await sim.run(4000);
    expect(sim.daemons.get(2)!.membership.view().live).toEqual([2]);
    expect(sim.twoOwnerMs).toBe(0); // never two owners: node 1 and node 3 let their buckets lapse first
    expect(sim.shares()[2]).toBe(256); // never none: the lone node serves every bucket
    // ... and within the takeover bound and its slow read (the re-join waits for it).
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND + sim.kernel(2).readMs);
  });

  it('30% heartbeat loss on every path: no view change, every bucket served throughout', async () => {
    await steady();
    const epochs = sim.ids.map((id) => sim.daemons.get(id)!.membership.view().epoch);
    for (const a of sim.ids) for (const b of sim.ids) if (a !== b) sim.world.lossy(addressOf(a), addressOf(b), 0.3);
    await sim.run(10_000);
    expect(sim.ids.map((id) => sim.daemons.get(id)!.membership.view().epoch)).toEqual(epochs);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBe(0); // never none
  });
});

describe('held up, restarted, clocks stepped', () => {
  it("SIGSTOP longer than the deadtime: the frozen node's leases lapse before the takeover; thawed, it takes its share back by handover", async () => {
    await steady();
    sim.freeze(1);
    await sim.run(1500);
    expect(sim.twoOwnerMs).toBe(0); // never two owners, while frozen
    expect(sim.shares()).toEqual({ 1: 0, 2: 128, 3: 128 });
    sim.thaw(1);
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners, after the thaw (its old view said it owned its buckets)
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  });

  it('a pause shorter than the deadtime but longer than the lease: served again at once, no view change', async () => {
    await steady();
    const epoch = sim.daemons.get(2)!.membership.view().epoch;
    sim.freeze(1);
    await sim.run(DEADTIME - INTERVAL / 2);
    sim.thaw(1);
    await sim.run(2000);
    expect(sim.daemons.get(2)!.membership.view().epoch).toBe(epoch);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  });

  it('SIGTERM restart: the leases stretch to the restart grace, the new daemon carries on, nothing unserved', async () => {
    await steady();
    await sim.daemons.get(2)!.stop();
    sim.kill(2);
    await sim.run(500);
    await sim.start(2);
    await sim.run(3000);
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBe(0); // never none: a restart loses nothing
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
  });

  it('SIGTERM restart while handing buckets over: the new daemon goes on draining them, their connections carry on', async () => {
    await steady();
    const k3 = sim.kernel(3);
    const mine = Array.from({ length: 256 }, (_, k) => k + 1).filter((b) => sim.servers(b)[0] === 3);
    k3.flows.set(VIP, new Map(mine.map((b) => [b, 5]))); // long-lived connections in every bucket of node 3
    sim.daemons.get(1)!.setWeight('node3', 0);
    await sim.run(1000);
    expect(mine.every((b) => k3.state(VIP, b) === 'draining')).toBe(true);
    await sim.daemons.get(3)!.stop();
    sim.kill(3);
    await sim.run(300);
    await sim.start(3);
    await sim.run(1500);
    expect(mine.filter((b) => k3.state(VIP, b) !== 'draining')).toEqual([]); // before: dropped at the join, connections reset
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND); // never none beyond the takeover
  });

  it('a wall clock stepped back a minute on one node neither hides a death nor fakes one', async () => {
    await steady();
    sim.world.wallOffset.set(addressOf(1), -60_000);
    await sim.run(1000);
    expect(sim.daemons.get(1)!.membership.view().live).toEqual([1, 2, 3]);
    sim.kill(3);
    await sim.run(1000);
    expect(sim.daemons.get(1)!.membership.view().live).toEqual([1, 2]);
    expect(sim.twoOwnerMs).toBe(0);
    expect(sim.longestUnserved.ms).toBeLessThanOrEqual(TAKEOVER_BOUND);
  });
});

describe('hostile and broken input', () => {
  it('recorded heartbeats replayed to a freshly restarted node fake no live peer and no quorum', async () => {
    await steady();
    await sim.run(3000);
    const recorded = sim.world.sent.filter((s) => s.to === addressOf(1)).slice(-200);
    expect(recorded.length).toBe(200);
    sim.kill(1);
    sim.kill(2);
    sim.kill(3);
    const d = await sim.start(1);
    const seen = new Set<string>();
    for (let round = 0; round < 20; round++) {
      for (const r of recorded.slice(round * 10, round * 10 + 10)) sim.world.inject(r.from, r.to, r.packet);
      await sim.run(30);
      seen.add(d.membership.view().live.join());
    }
    expect([...seen]).toEqual(['1']); // not once did a replayed peer count as live
    expect(d.membership.view().quorate).toBe(false);
    expect(d.membership.counters.unconfirmed).toBeGreaterThan(0);
  });

  it('a weight setting stamped 2^53-1 by a member with the key does not block later drains', async () => {
    await steady();
    const d1 = sim.daemons.get(1)!;
    d1.membership.setWeight(3, 1, Number.MAX_SAFE_INTEGER - 1); // as if such a stamp had arrived
    // ...which the other nodes refuse when it reaches them: far ahead of their clocks.
    await sim.run(500);
    expect(sim.daemons.get(2)!.membership.counters.futureStamps).toBeGreaterThan(0);
    sim.daemons.get(2)!.setWeight('node3', 0);
    await sim.run(3000);
    expect(sim.daemons.get(2)!.membership.weightOf(3)).toBe(0);
    expect(sim.shares()[3]).toBe(0);
    expect(sim.twoOwnerMs).toBe(0);
  });
});

describe('nodes that disagree on what decides owners', () => {
  /** Nodes 1 and 2 with the shared configuration, node 3 with `change` applied to its own; run past the first join. */
  async function withOddNode3(change: (odd: ReturnType<SimCluster['config']>) => void): Promise<void> {
    sim = new SimCluster();
    await sim.start(1);
    await sim.start(2);
    const odd = sim.config(3);
    change(odd);
    await sim.start(3, odd);
    sim.exempt = true;
    await sim.run(1500);
    sim.exempt = false;
    await sim.run(2000);
  }

  it("a weight changed on one node only: everyone follows the majority's weights, says so, and no bucket is served twice or by nobody", async () => {
    await withOddNode3((odd) => {
      odd.nodes = odd.nodes.map((n) => (n.id === 1 ? { ...n, weight: 3 } : n));
    });
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBe(0); // never none
    expect(sim.shares()).toEqual({ 1: 86, 2: 85, 3: 85 });
    for (const id of sim.ids) expect(sim.daemons.get(id)!.status().disagreeing).toEqual(['node3']);
  });

  it('a VIP with another bucket count on one node: that node is left out of the VIP, the others serve it all', async () => {
    await withOddNode3((odd) => {
      odd.vips = [{ ...odd.vips[0], buckets: 128 }];
    });
    expect(sim.twoOwnerMs).toBe(0); // never two owners
    expect(sim.longestUnserved.ms).toBe(0); // never none
    expect(sim.shares()).toEqual({ 1: 128, 2: 128, 3: 0 });
    expect(sim.daemons.get(1)!.status().vips[0].excluded).toEqual(['node3']);
  });
});

describe('the lease rule', () => {
  it('needs as many confirming peers as keep the others short of a majority', async () => {
    const { confirmationsNeeded, leaseMs } = await import('../../src/membership/lease.js');
    expect([3, 4, 5, 8, 16].map((n) => confirmationsNeeded(n, 'majority', n - 1))).toEqual([1, 1, 2, 3, 7]);
    expect(confirmationsNeeded(2, 'ignore', 1)).toBe(1);
    const at = new Map<number, number | undefined>([
      [2, 1000],
      [3, undefined],
    ]);
    expect(leaseMs({ now: 1100, deadtimeMs: 300, intervalMs: 60, heardUsAt: at, needed: 1 })).toBe(195);
    expect(leaseMs({ now: 1100, deadtimeMs: 300, intervalMs: 60, heardUsAt: at, needed: 2 })).toBe(0);
    expect(leaseMs({ now: 1100, deadtimeMs: 300, intervalMs: 60, heardUsAt: new Map(), needed: 0 })).toBe(240);
  });
});
