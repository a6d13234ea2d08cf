// ocf:aavip:vip as Pacemaker runs it, in a namespace of its own: resource-agents' ocf-tester,
// clone instances sharing a node, OCF exit codes, IPaddr2's interface lookup, logging.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { run } from '../../src/exec.js';
import { built } from '../../src/paths.js';

const NS = 'hcfocfv';
const DTD = '/usr/share/resource-agents/ra-api-1.dtd';
let agent: string;
let dir: string;

type Env = Record<string, string>;
const inNs = (cmd: string[], env: Env = {}) =>
  spawnSync('ip', ['netns', 'exec', NS, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...cmd], { encoding: 'utf8' });
const params: Env = {
  OCF_ROOT: '/usr/lib/ocf',
  OCF_RESOURCE_INSTANCE: 'vip',
  OCF_RESKEY_ip: '198.18.0.100',
  OCF_RESKEY_cidr_netmask: '24',
  OCF_RESKEY_nic: 'eth0',
};
const instance = (n: number, over: Env = {}): Env => ({
  ...params,
  OCF_RESKEY_CRM_meta_clone: String(n),
  OCF_RESKEY_CRM_meta_clone_max: '3',
  OCF_RESKEY_CRM_meta_clone_node_max: '3',
  OCF_RESKEY_CRM_meta_globally_unique: 'true',
  ...over,
});
const ocf = (action: string, env: Env) => inNs([agent, action], env);
/** What the kernel carries for the VIP, as aavip reads it (independently of the agent). */
const kernel = (ip = '198.18.0.100/24', buckets = 3) =>
  JSON.parse(inNs([process.execPath, built('cli/main.js'), 'vip', 'status', '--json', '--ip', ip, '--nic', 'eth0', '--buckets', String(buckets)]).stdout);
const addresses = () => inNs(['ip', '-j', 'addr', 'show', 'dev', 'eth0']).stdout;

beforeAll(async () => {
  [agent] = installAgents('/');
  dir = mkdtempSync(join(tmpdir(), 'aavip-pmocf-'));
  await run('ip', ['netns', 'del', NS], { allowFailure: true });
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['-n', NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'p0']);
  await run('ip', ['-n', NS, 'link', 'set', 'eth0', 'up']);
  await run('ip', ['-n', NS, 'link', 'set', 'p0', 'up']);
  await run('ip', ['-n', NS, 'addr', 'add', '198.18.0.1/24', 'dev', 'eth0']);
});
afterAll(async () => {
  await run('ip', ['netns', 'del', NS], { allowFailure: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ocf:aavip:vip', () => {
  it('describes both agents with meta-data valid against the OCF RA API DTD, as any user', () => {
    for (const a of installAgents('/')) {
      const r = spawnSync('su', ['nobody', '-s', '/bin/sh', '-c', `${a} meta-data`], { encoding: 'utf8', env: { ...process.env, OCF_ROOT: '/usr/lib/ocf' } });
      expect(r.status, r.stderr).toBe(0);
      const v = spawnSync('xmllint', ['--noout', '--dtdvalid', DTD, '-'], { input: r.stdout, encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
  });

  it('passes ocf-tester', () => {
    const r = inNs(['ocf-tester', '-n', 'vip', '-o', 'ip=198.18.0.100', '-o', 'cidr_netmask=24', '-o', 'nic=eth0', agent]);
    expect(r.stdout + r.stderr).toMatch(/passed all tests/);
    expect(r.stdout + r.stderr).not.toMatch(/\* rc=/);
    expect(r.status).toBe(0);
    expect(kernel().addressPresent).toBe(false);
  });

  it('serves one bucket per clone instance, several on one node, and removes the VIP with the last', () => {
    expect(ocf('monitor', instance(0)).status).toBe(7);
    expect(ocf('start', instance(0)).status).toBe(0);
    expect(ocf('start', instance(1)).status).toBe(0);
    expect(ocf('start', instance(1)).status).toBe(0); // idempotent
    expect(kernel()).toMatchObject({ addressPresent: true, macJoined: true, ownership: { owned: [1, 2] } });
    expect(ocf('monitor', instance(2)).status).toBe(7);
    expect(ocf('monitor', instance(1)).status).toBe(0);
    expect(ocf('stop', instance(0)).status).toBe(0);
    expect(kernel()).toMatchObject({ addressPresent: true, ownership: { owned: [2] } });
    expect(ocf('monitor', instance(0)).status).toBe(7);
    expect(ocf('stop', instance(2)).status).toBe(0); // never started: the others' buckets stay
    expect(kernel()).toMatchObject({ addressPresent: true, ownership: { owned: [2] } });
    expect(ocf('stop', instance(1)).status).toBe(0);
    expect(ocf('stop', instance(1)).status).toBe(0);
    const after = kernel();
    expect(after).toMatchObject({ addressPresent: false, macJoined: false });
    expect(after.ownership).toBeUndefined();
  });

  it('starts several instances at once on one node without losing a bucket', async () => {
    const starts = [0, 1, 2].map(
      (n) =>
        new Promise<number | null>((resolve) => {
          const c = spawn('ip', ['netns', 'exec', NS, 'env', ...Object.entries(instance(n)).map(([k, v]) => `${k}=${v}`), agent, 'start'], { stdio: 'ignore' });
          c.on('exit', (code) => resolve(code));
        }),
    );
    expect(await Promise.all(starts)).toEqual([0, 0, 0]);
    expect(kernel().ownership.owned).toEqual([1, 2, 3]);
    for (const n of [0, 1, 2]) expect(ocf('stop', instance(n)).status).toBe(0);
    expect(kernel().addressPresent).toBe(false);
  });

  it('spreads more buckets than instances: instance N serves every bucket B with (B-1) mod clone-max = N', () => {
    expect(ocf('start', instance(1, { OCF_RESKEY_buckets: '8' })).status).toBe(0);
    expect(kernel('198.18.0.100/24', 8).ownership.owned).toEqual([2, 5, 8]);
    expect(ocf('stop', instance(1, { OCF_RESKEY_buckets: '8' })).status).toBe(0);
    expect(kernel('198.18.0.100/24', 8).addressPresent).toBe(false);
  });

  it('finds nic and cidr_netmask from the connected route when they are not given, as IPaddr2 does', () => {
    const env = { ...instance(0), OCF_RESKEY_nic: '', OCF_RESKEY_cidr_netmask: '' };
    expect(ocf('start', env).status).toBe(0);
    expect(addresses()).toMatch(/"local":"198\.18\.0\.100","prefixlen":24/);
    expect(ocf('stop', env).status).toBe(0);
    const nowhere = ocf('validate-all', { ...env, OCF_RESKEY_ip: '198.19.5.5' });
    expect(nowhere.status).toBe(6);
    expect(nowhere.stderr).toMatch(/ocf-exit-reason:nic: no directly connected route contains 198\.19\.5\.5/);
  });

  it('gives each instance an address of its own with unique_clone_address', () => {
    const env = instance(2, { OCF_RESKEY_unique_clone_address: 'true' });
    expect(ocf('start', env).status).toBe(0);
    expect(addresses()).toMatch(/"local":"198\.18\.0\.102"/);
    expect(ocf('monitor', env).status).toBe(0);
    expect(ocf('stop', env).status).toBe(0);
    expect(addresses()).not.toMatch(/198\.18\.0\.102/);
    expect(ocf('validate-all', { ...env, OCF_RESKEY_CRM_meta_globally_unique: 'false' }).status).toBe(6);
  });

  it('answers with the OCF exit code Pacemaker acts on, and says why', () => {
    const badMac = ocf('validate-all', { ...params, OCF_RESKEY_mac: '00:11:22:33:44:55' });
    expect(badMac.status).toBe(6); // fatal: wrong everywhere
    expect(badMac.stderr).toMatch(/^ocf-exit-reason:mac: .*unicast/m);
    expect(ocf('validate-all', { ...params, OCF_RESKEY_clusterip_hash: 'destport' }).stderr).toMatch(/ocf-exit-reason:clusterip_hash: /);
    expect(ocf('start', { ...params, OCF_RESKEY_cidr_netmask: '40' }).status).toBe(6);
    // An interface this node lacks is a hard error here only; a probe finds nothing, a stop has nothing to do.
    const noNic = { ...params, OCF_RESKEY_nic: 'nosuch0' };
    expect(ocf('validate-all', noNic).status).toBe(2);
    expect(ocf('start', noNic).status).toBe(2);
    expect(ocf('monitor', { ...noNic, OCF_RESKEY_CRM_meta_interval: '0' }).status).toBe(7);
    expect(ocf('stop', noNic).status).toBe(0);
    // CLUSTERIP was removed from this kernel (6.3): not installed here, not a configuration error.
    const clusterip = ocf('validate-all', { ...params, OCF_RESKEY_backend: 'clusterip' });
    expect(clusterip.status).toBe(5);
    expect(clusterip.stderr).toMatch(/ocf-exit-reason:backend: .*CLUSTERIP/);
    expect(ocf('validate-all', params).status).toBe(0);
    expect(ocf('frobnicate', params).status).toBe(3);
  });

  it('refuses an out-of-range number in any parameter as a configuration error (6) with its reason, never a crash (1)', () => {
    const cases: [string, string][] = [
      ['buckets', '4294967296'],
      ['buckets', '0'],
      ['arp_count', '4294967296'],
      ['clusterip_hash_seed', '4294967296'],
      ['cidr_netmask', '4294967296'],
    ];
    for (const [param, value] of cases) {
      const r = ocf('validate-all', { ...params, [`OCF_RESKEY_${param}`]: value });
      expect(r.status, `${param}=${value}: ${r.stderr}`).toBe(6);
      expect(r.stderr).toMatch(new RegExp(`^ocf-exit-reason:${param}: `, 'm'));
      expect(r.stderr).not.toMatch(/RangeError|^\s+at /m);
    }
    const clones = ocf('start', instance(0, { OCF_RESKEY_CRM_meta_clone_max: '4294967296' }));
    expect(clones.status, clones.stderr).toBe(6);
    expect(clones.stderr).toMatch(/^ocf-exit-reason:clone-max: 4294967296 is out of range/m);
    const many = ocf('start', instance(0, { OCF_RESKEY_CRM_meta_clone_max: '5000' }));
    expect(many.status, many.stderr).toBe(6);
    expect(many.stderr).toMatch(/^ocf-exit-reason:buckets: clone-max=5000 instances need as many buckets/m);
    expect(kernel().addressPresent).toBe(false);
  });

  it('without aavip on the node: a probe finds nothing, stop succeeds, start is not installed', () => {
    const broken = join(dir, 'vip');
    writeFileSync(broken, readFileSync(agent, 'utf8').replace(/^AAVIP_OCF=.*$/m, 'AAVIP_OCF="/nonexistent/node /nonexistent/main.js"'));
    chmodSync(broken, 0o755);
    expect(inNs([broken, 'monitor'], params).status).toBe(7);
    expect(inNs([broken, 'stop'], params).status).toBe(0);
    expect(inNs([broken, 'start'], params).status).toBe(5);
  });

  it('logs pino JSON where the cluster says (stderr, HA_LOGFILE)', () => {
    const logfile = join(dir, 'ha.log');
    expect(ocf('start', { ...instance(0), HA_LOGFILE: logfile }).status).toBe(0);
    expect(ocf('stop', { ...instance(0), HA_LOGFILE: logfile }).status).toBe(0);
    const lines = readFileSync(logfile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(['serving bucket 1 of 3', 'last bucket stopped: VIP removed']);
    expect(lines[0]).toMatchObject({ name: 'ocf:aavip:vip', resource: 'vip', level: 30, vip: '198.18.0.100/24', buckets: [1] });
  });
});
