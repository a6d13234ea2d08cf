// ocf:aavip:ldirectord on this machine: what needs no IPVS (this kernel has none) — meta-data,
// validation of the file, probes and stops where nothing runs, exit codes and reasons.
// ocf-tester on real IPVS runs in the VM: test/kernel/ocf-ldirectord.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';

let agent: string;
let dir: string;
const ocf = (action: string, env: Record<string, string>) =>
  spawnSync(agent, [action], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'ld', AAVIP_RUN_DIR: join(dir, 'run'), ...env },
  });

beforeAll(() => {
  agent = installAgents('/')[1];
  dir = mkdtempSync(join(tmpdir(), 'aavip-pmld-'));
  writeFileSync(join(dir, 'good.cf'), 'checkinterval=1\nvirtual=198.18.0.100:80\n\treal=198.18.0.11:8080 gate 2\n\tchecktype=connect\n');
  writeFileSync(join(dir, 'broken.cf'), 'virtual=198.18.0.100:80\n\treal=198.18.0.11\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ocf:aavip:ldirectord', () => {
  it('validates the file as the ldirectord role reads it', () => {
    expect(ocf('validate-all', { OCF_RESKEY_configfile: join(dir, 'good.cf') }).status).toBe(0);
    const broken = ocf('validate-all', { OCF_RESKEY_configfile: join(dir, 'broken.cf') });
    expect(broken.status).toBe(6);
    expect(broken.stderr).toMatch(new RegExp(`ocf-exit-reason:${join(dir, 'broken.cf')}:2: `));
    expect(ocf('validate-all', { OCF_RESKEY_configfile: join(dir, 'good.cf'), OCF_RESKEY_ipvs: 'carrier-pigeon' }).status).toBe(6);
  });

  it('reports a stopped director as not running, and stops it idempotently', () => {
    const env = { OCF_RESKEY_configfile: join(dir, 'good.cf') };
    expect(ocf('monitor', env).status).toBe(7);
    expect(ocf('stop', env).status).toBe(0);
    expect(ocf('stop', env).status).toBe(0);
  });

  it('on a node without the file or without aavip: probe 7, stop 0, start 5', () => {
    for (const env of [
      { OCF_RESKEY_configfile: join(dir, 'absent.cf') },
      { OCF_RESKEY_configfile: join(dir, 'good.cf'), OCF_RESKEY_ldirectord: '/nonexistent/aavip' },
    ]) {
      expect(ocf('monitor', env).status).toBe(7);
      expect(ocf('stop', env).status).toBe(0);
      const start = ocf('start', env);
      expect(start.status).toBe(5);
      expect(start.stderr).toMatch(/ocf-exit-reason:(configuration .* not found|aavip is not installed)/);
    }
  });

  it('refuses unknown actions with OCF_ERR_UNIMPLEMENTED', () => {
    expect(ocf('frobnicate', {}).status).toBe(3);
  });
});
