// The whole appliance on Debian's 6.1 kernel (in the VM): `aavip lab appliance --json` — client →
// VIP → the bucket owner's IPVS → a direct-routing real server — with real daemons and real
// connections (issue 13, must-shows 1, 3, 4 and 5).
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApplianceResult } from '../../src/lab/appliance.js';
import { runInVm } from '../../src/lab/vm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

let r: ApplianceResult & { error?: string };
beforeAll(async () => {
  const vm = await runInVm({
    script: `exec node ${PACKAGE_ROOT}/test/kernel/scenarios/appliance-lab.mjs\n`,
    env: { AAVIP_ROOT: PACKAGE_ROOT },
    // Three daemons, seven responders and the client: more than the default 1 GiB holds comfortably.
    memoryMb: 1536,
    timeoutMs: 1_800_000,
    log: (m) => process.stderr.write(`[vm] ${m}\n`),
    onStderr: (c) => process.stderr.write(c),
  });
  process.stderr.write(`[vm] appliance-lab: exit ${vm.exitCode}, boot ${(vm.bootMs / 1000).toFixed(1)} s, run ${(vm.runMs / 1000).toFixed(1)} s\n`);
  if (vm.exitCode !== 0) throw new Error(`scenario exited ${vm.exitCode}\n${vm.stderr.slice(-4000)}`);
  r = JSON.parse(vm.files['appliance.json']);
  if (r.error) throw new Error(r.error);
  // The figures, for the CI log.
  process.stderr.write(`[vm] appliance-lab: ${JSON.stringify({ failed: r.failed, perNode: r.perNode, perReal: r.perReal.map((s) => [s.name, s.served]) })}\n`);
  process.stderr.write(`[vm] appliance-lab: ${JSON.stringify({ realChecks: r.realChecks, directorKill: r.directorKill, returned: r.returned })}\n`);
}, 2_000_000);

describe('aavip lab appliance (must-show 1)', () => {
  it('sends 600 connections through the VIP and none fails', () => {
    expect(r.connections).toBe(600);
    expect(r.failures, r.explained?.join('\n')).toEqual({});
    expect(r.failed).toBe(0);
  });

  it("has every connection scheduled by exactly one node's IPVS, the owner of its bucket", () => {
    expect({ notOnOwner: r.notOnOwner, missingEntry: r.missingEntry, onSeveral: r.onSeveral }).toEqual({ notOnOwner: 0, missingEntry: 0, onSeveral: 0 });
    expect(r.perNode.map((n) => n.node)).toEqual(['node1', 'node2', 'node3']);
    expect(r.perNode.reduce((s, n) => s + n.buckets, 0)).toBe(256);
    // What each node's IPVS counted as scheduled is what the lab found in its table.
    for (const n of r.perNode) expect(n.scheduled).toBe(n.directed);
    expect(r.perNode.reduce((s, n) => s + n.directed, 0)).toBe(600);
  });

  it('gives every real server its weighted share within ±10%', () => {
    expect(r.perReal.map((s) => [s.name, s.weight])).toEqual([
      ['real1', 1],
      ['real2', 1],
      ['real3', 2],
      ['real4', 2],
    ]);
    for (const s of r.perReal) expect(Math.abs(s.share - s.weightedShare)).toBeLessThanOrEqual(0.1 * s.weightedShare);
    expect(r.checks).toEqual({ noneFailed: true, entriesOnOwners: true, sharesWithin10Percent: true });
  });

  it("leaves no closed connection ESTABLISHED in any node's IPVS: every client's FIN reached its director, and the sync told the others", () => {
    // A FIN that conntrack has no entry for used to be dropped by the bucket filter (issue 13):
    // the entry then outlived its connection by 15 minutes and swallowed a later one from the same port.
    expect(r.openAfterClose).toBe(0);
  });

  it('syncs the connections to the other nodes (lvs.sync on by default)', () => {
    expect(r.options.sync).toBe(true);
    for (const n of r.perNode) expect(n.synced).toBeGreaterThan(0);
  });
});

describe('real servers checked once per interval cluster-wide, lvs.checks: shared (must-show 3)', () => {
  it('has each real server receive one check per checkinterval in total, all from one director, not one per director', () => {
    const c = r.realChecks!;
    const perInterval = c.windowS / c.checkintervalS;
    expect(c.perReal.map((p) => p.name)).toEqual(['real1', 'real2', 'real3', 'real4']);
    for (const p of c.perReal) {
      expect(p.others).toBe(0);
      expect(Object.values(p.byNode).filter((n) => n > 0)).toHaveLength(1);
      // The window's two edges and the emulated machine's jitter: ±25%. Every director checking
      // every real (lvs.checks: local) would give three times as many.
      expect(p.total).toBeGreaterThanOrEqual(0.75 * perInterval);
      expect(p.total).toBeLessThanOrEqual(1.25 * perInterval);
    }
  });

  it('has every director quiesce a stopped real server within checkinterval + checktimeout', () => {
    const c = r.realChecks!;
    for (const ms of c.quiescedMs) {
      expect(ms).not.toBeNull();
      expect(ms!).toBeLessThanOrEqual((c.checkintervalS + c.checktimeoutS) * 1000);
    }
  });

  it('sends it no new connection afterwards (none fails either), and brings it back once restarted', () => {
    const c = r.realChecks!;
    expect({ reached: c.reachedStopped, failed: c.failedAfter, sent: c.connectionsAfter }).toEqual({ reached: 0, failed: 0, sent: 100 });
    // Back within one check (next slot + its timeout), and a heartbeat for the directors that do not check it.
    // (The stop has no heartbeat term in its bound and met it; the return measured 2.9 s once, against 2 s.)
    for (const ms of c.restoredMs) {
      expect(ms).not.toBeNull();
      expect(ms!).toBeLessThanOrEqual((c.checkintervalS + c.checktimeoutS) * 1000 + c.heartbeatMs);
    }
  });
});

describe('a director killed under long-lived connections (must-show 4)', () => {
  it('with IPVS sync on, at least 99.5% of 200+ connections through it go on through the survivors, to the same real server', () => {
    const k = r.directorKill![0];
    expect(k.sync).toBe(true);
    expect(k.longLived).toBeGreaterThanOrEqual(200);
    // A connection that reached another real server would be reset there: alive means the same one.
    expect(k.survived / k.longLived).toBeGreaterThanOrEqual(0.995);
  });

  it('with sync off (lvs.sync: false, same run), the survivors have no entry for them and they break', () => {
    const k = r.directorKill![1];
    expect(k.sync).toBe(false);
    expect(k.longLived).toBeGreaterThanOrEqual(200);
    expect(k.broken).toBeGreaterThanOrEqual(0.9 * k.longLived);
  });

  it("serves new connections in the dead director's buckets again within the takeover bound", () => {
    // The labs' takeover bound: the deadtime, three heartbeat intervals (1 s here: emulation needs
    // them long) and the survivors' kernel update. On the host, with a 300 ms deadtime and 60 ms
    // intervals, `aavip lab failover` measures p99 349 ms (README, Benchmarks).
    for (const k of r.directorKill!) {
      expect(k.servedAgainMs).not.toBeNull();
      expect(k.servedAgainMs!).toBeLessThanOrEqual(k.deadtimeMs + 3 * r.options.intervalMs + k.survivorApplyMs);
    }
  });
});

describe('the node returns, is drained and undrained (must-show 5)', () => {
  it('resets none of 200+ long-lived connections through the appliance', () => {
    expect(r.returned!.longLived).toBeGreaterThanOrEqual(200);
    expect(r.returned!.resets).toBe(0);
  });

  it('ends with every node, the returned one included, directing its share of new connections', () => {
    const total = r.returned!.afterReturn.reduce((s, n) => s + n.directed, 0);
    expect(r.returned!.failed, r.returned!.explained?.join('\n')).toBe(0);
    expect(total + r.returned!.failed).toBe(300);
    for (const n of r.returned!.afterReturn) {
      const expected = (total * n.buckets) / 256;
      expect(n.directed).toBeGreaterThan(0.6 * expected);
      expect(n.directed).toBeLessThan(1.4 * expected);
    }
  });
});
