// ocf:aavip:ldirectord under resource-agents' ocf-tester, on real IPVS (in the VM).
import { beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { runScenario } from './vm.js';

let r: any;
beforeAll(async () => {
  installAgents('/'); // the VM sees the host's filesystem
  r = JSON.parse((await runScenario('ocf-ldirectord.mjs')).files['ocf.json']);
}, 600_000);

describe('ocf:aavip:ldirectord', () => {
  it('passes ocf-tester', () => {
    expect(r.tester.out).toMatch(/passed all tests/);
    expect(r.tester.status).toBe(0);
  });

  it('starts the director, which programs IPVS; monitor follows; stop cleans the table', () => {
    expect(r.start).toBe(0);
    expect(r.table).toMatch(/127\.0\.0\.1:18080\s+Masq\s+2/);
    expect(r.monitor).toBe(0);
    expect(r.stop).toBe(0);
    expect(r.monitorStopped).toBe(7);
    expect(r.tableAfter).not.toMatch(/TCP/);
  });

  it('calls a broken ldirectord.cf misconfigured', () => {
    expect(r.validateBroken).toBe(6);
  });
});
