// Directors that are also real servers (issue 13, must-show 2), on Debian's 6.1 kernel in the VM:
// `aavip lab appliance --colocated --json`. The three nodes serve the VIP's port themselves, beside
// one separate real server; the VIP has a fwmark and the virtual service is on it. A client's
// packet is hashed and scheduled once (by its bucket's owner); a packet one director forwards to
// another goes to that node's own service, neither hashed nor scheduled again.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ApplianceResult } from '../../src/lab/appliance.js';
import { runInVm } from '../../src/lab/vm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

let r: ApplianceResult & { error?: string };
beforeAll(async () => {
  const vm = await runInVm({
    script: `exec node ${PACKAGE_ROOT}/test/kernel/scenarios/appliance-colocated.mjs\n`,
    env: { AAVIP_ROOT: PACKAGE_ROOT },
    memoryMb: 1536,
    timeoutMs: 1_000_000,
    log: (m) => process.stderr.write(`[vm] ${m}\n`),
    onStderr: (c) => process.stderr.write(c),
  });
  if (vm.exitCode !== 0) throw new Error(`scenario exited ${vm.exitCode}\n${vm.stderr.slice(-4000)}`);
  r = JSON.parse(vm.files['appliance-colocated.json']);
  if (r.error) throw new Error(r.error);
  process.stderr.write(
    `[vm] appliance-colocated: ${JSON.stringify({ failed: r.failed, perNode: r.perNode, perReal: r.perReal.map((s) => [s.name, s.served]) })}\n`,
  );
}, 1_100_000);

describe('co-located directors (must-show 2)', () => {
  it('serves 600 connections, none failed, from the three nodes and the separate real server', () => {
    expect(r.options.colocated).toBe(true);
    expect(r.connections).toBe(600);
    expect(r.failures).toEqual({});
    expect(r.perReal.map((s) => s.name)).toEqual(['node1', 'node2', 'node3', 'real1']);
    for (const s of r.perReal) expect(s.served).toBeGreaterThan(0);
  });

  it('schedules every connection exactly once: the IPVS counters over all nodes add up to the connections', () => {
    expect(r.perNode.reduce((s, n) => s + n.scheduled, 0)).toBe(600);
    expect({ notOnOwner: r.notOnOwner, missingEntry: r.missingEntry, onSeveral: r.onSeveral }).toEqual({ notOnOwner: 0, missingEntry: 0, onSeveral: 0 });
    for (const n of r.perNode) expect(n.scheduled).toBe(n.directed);
  });

  it('gives every real server, the directors included, its share within ±10%', () => {
    for (const s of r.perReal) expect(Math.abs(s.share - s.weightedShare)).toBeLessThanOrEqual(0.1 * s.weightedShare);
  });
});
