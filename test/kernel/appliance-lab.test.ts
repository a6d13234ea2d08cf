// The whole appliance on Debian's 6.1 kernel (in the VM): `aavip lab appliance --json` — client →
// VIP → the bucket owner's IPVS → a direct-routing real server — with real daemons and real
// connections (issue 13, must-show 1).
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
    timeoutMs: 900_000,
    log: (m) => process.stderr.write(`[vm] ${m}\n`),
    onStderr: (c) => process.stderr.write(c),
  });
  process.stderr.write(`[vm] appliance-lab: exit ${vm.exitCode}, boot ${(vm.bootMs / 1000).toFixed(1)} s, run ${(vm.runMs / 1000).toFixed(1)} s\n`);
  if (vm.exitCode !== 0) throw new Error(`scenario exited ${vm.exitCode}\n${vm.stderr.slice(-4000)}`);
  r = JSON.parse(vm.files['appliance.json']);
  if (r.error) throw new Error(r.error);
  // The figures, for the CI log.
  process.stderr.write(`[vm] appliance-lab: ${JSON.stringify({ failed: r.failed, perNode: r.perNode, perReal: r.perReal.map((s) => [s.name, s.served]) })}\n`);
}, 1_000_000);

describe('aavip lab appliance (must-show 1)', () => {
  it('sends 600 connections through the VIP and none fails', () => {
    expect(r.connections).toBe(600);
    expect(r.failures).toEqual({});
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

  it('syncs the connections to the other nodes (lvs.sync on by default)', () => {
    expect(r.options.sync).toBe(true);
    for (const n of r.perNode) expect(n.synced).toBeGreaterThan(0);
  });
});
