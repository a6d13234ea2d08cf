// ocf:aavip:vip as Pacemaker runs it: ocf-tester (resource-agents), clone instances sharing a node,
// and OCF exit codes — in a namespace of its own.
import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { run } from '../../src/dataplane/exec.js';
import { built } from '../../src/paths.js';

const NS = 'ocfv';
let agent: string;
const exec = (cmd: string[], env: Record<string, string> = {}) =>
  spawnSync('ip', ['netns', 'exec', NS, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], { encoding: 'utf8' });
const params = { OCF_ROOT: '/usr/lib/ocf', OCF_RESKEY_ip: '198.18.0.100', OCF_RESKEY_cidr_netmask: '24', OCF_RESKEY_nic: 'eth0' };
const instance = (n: number) => ({ ...params, OCF_RESKEY_CRM_meta_clone: String(n), OCF_RESKEY_CRM_meta_clone_max: '3', OCF_RESKEY_CRM_meta_globally_unique: 'true' });
const owned = () => {
  const r = exec([process.execPath, built('cli/main.js'), 'vip', 'status', '--json', '--ip', '198.18.0.100/24', '--nic', 'eth0', '--buckets', '3']);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  [agent] = installAgents('/');
  await run('ip', ['netns', 'del', NS], { allowFailure: true });
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['-n', NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0']);
  await run('ip', ['-n', NS, 'link', 'set', 'eth0', 'up']);
});
afterAll(async () => { await run('ip', ['netns', 'del', NS], { allowFailure: true }); });

describe('ocf:aavip:vip', () => {
  it('describes itself with meta-data valid against the OCF RA API DTD', () => {
    for (const a of installAgents('/')) {
      const xml = spawnSync(a, ['meta-data'], { encoding: 'utf8', env: { ...process.env, OCF_ROOT: '/usr/lib/ocf' } }).stdout;
      const v = spawnSync('xmllint', ['--noout', '--dtdvalid', '/usr/share/resource-agents/ra-api-1.dtd', '-'], { input: xml, encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
  });

  it('passes ocf-tester', () => {
    const r = spawnSync('ip', ['netns', 'exec', NS, 'ocf-tester', '-n', 'vip', '-o', 'ip=198.18.0.100', '-o', 'cidr_netmask=24', '-o', 'nic=eth0', agent], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toMatch(/passed all tests/);
    expect(r.status).toBe(0);
  });

  it('serves one bucket per clone instance, several on one node, and removes the VIP with the last', () => {
    expect(exec([agent, 'monitor'], instance(0)).status).toBe(7);
    expect(exec([agent, 'start'], instance(0)).status).toBe(0);
    expect(exec([agent, 'start'], instance(1)).status).toBe(0);
    expect(exec([agent, 'start'], instance(1)).status).toBe(0); // idempotent
    expect(owned().ownership.owned).toEqual([1, 2]);
    expect(exec([agent, 'monitor'], instance(2)).status).toBe(7);
    expect(exec([agent, 'monitor'], instance(1)).status).toBe(0);
    expect(exec([agent, 'stop'], instance(0)).status).toBe(0);
    expect(owned()).toMatchObject({ addressPresent: true, ownership: { owned: [2] } });
    expect(exec([agent, 'stop'], instance(1)).status).toBe(0);
    expect(exec([agent, 'stop'], instance(1)).status).toBe(0);
    expect(owned()).toMatchObject({ addressPresent: false });
    expect(owned().ownership).toBeUndefined();
  });

  it('starts several instances at once on one node without losing a bucket', async () => {
    const starts = [0, 1, 2].map((n) => new Promise<number>((resolve) => {
      const c = spawn('ip', ['netns', 'exec', NS, 'env', ...Object.entries(instance(n)).map(([k, v]) => `${k}=${v}`), agent, 'start']);
      c.on('exit', (code: number) => resolve(code));
    }));
    expect(await Promise.all(starts)).toEqual([0, 0, 0]);
    expect(owned().ownership.owned).toEqual([1, 2, 3]);
    for (const n of [0, 1, 2]) expect(exec([agent, 'stop'], instance(n)).status).toBe(0);
  });

  it('answers misconfiguration with OCF_ERR_CONFIGURED and unknown actions with OCF_ERR_UNIMPLEMENTED', () => {
    expect(exec([agent, 'validate-all'], { ...params, OCF_RESKEY_nic: 'nosuch0' }).status).toBe(6);
    expect(exec([agent, 'validate-all'], { ...params, OCF_RESKEY_mac: '00:11:22:33:44:55' }).status).toBe(6);
    expect(exec([agent, 'start'], { ...params, OCF_RESKEY_cidr_netmask: '' }).status).toBe(6);
    expect(exec([agent, 'validate-all'], params).status).toBe(0);
    expect(exec([agent, 'frobnicate'], params).status).toBe(3);
    expect(exec([agent, 'meta-data'], {}).stdout).toContain('<resource-agent name="vip"');
  });
});
