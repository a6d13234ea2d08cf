// conf/pacemaker-pcs.sh and conf/pacemaker-crm.txt describe the same cluster configuration: both
// applied to an empty CIB file (pcs -f, crmsh with CIB_file) give the same resources, clone meta
// attributes and constraints, and crm_verify accepts the result. pcs checks every parameter
// against the installed agents' meta-data. (The crm file also runs on a live cluster in
// pacemaker-vip.test.ts.)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

let dir: string;

/** An empty CIB file with fencing off (a lab without fence devices), for the offline tools. */
function emptyCib(name: string): string {
  const file = join(dir, name);
  writeFileSync(file, execFileSync('cibadmin', ['--empty'], { encoding: 'utf8' }));
  execFileSync('crm_attribute', ['-t', 'crm_config', '-n', 'stonith-enabled', '-v', 'false'], { env: { ...process.env, CIB_file: file } });
  return file;
}

const attrs = (tag: string) => Object.fromEntries([...tag.matchAll(/([\w-]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
const nvpairs = (xml: string) => Object.fromEntries([...xml.matchAll(/<nvpair [^>]*>/g)].map((m) => attrs(m[0])).map((a) => [a.name, a.value]));
const section = (xml: string, tag: string) => xml.match(new RegExp(`<${tag}[\\s>][\\s\\S]*?</${tag}>`))?.[0] ?? '';

/** What a configuration means, without the ids and defaults each tool writes its own way. */
function meaning(cibFile: string) {
  const xml = readFileSync(cibFile, 'utf8');
  const clones = [...xml.matchAll(/<clone [^>]*>[\s\S]*?<\/clone>/g)]
    .map((m) => {
      const c = m[0];
      const p = c.match(/<primitive [^>]*>[\s\S]*?<\/primitive>/)![0];
      const pa = attrs(p.match(/<primitive [^>]*>/)![0]);
      const monitor = [...p.matchAll(/<op [^>]*>/g)].map((o) => attrs(o[0])).find((o) => o.name === 'monitor');
      return {
        id: attrs(c.match(/<clone [^>]*>/)![0]).id,
        meta: nvpairs(section(c.replace(p, ''), 'meta_attributes')),
        primitive: {
          id: pa.id,
          agent: [pa.class, pa.provider, pa.type].filter(Boolean).join(':'),
          params: nvpairs(section(p, 'instance_attributes')),
          meta: nvpairs(section(p, 'meta_attributes')),
          monitor: { interval: monitor?.interval, timeout: monitor?.timeout },
        },
      };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
  const colocations = [...xml.matchAll(/<rsc_colocation [^>]*>/g)]
    .map((m) => attrs(m[0]))
    .map((a) => ({ rsc: a.rsc, with: a['with-rsc'], score: a.score.replace(/^inf$/i, 'INFINITY') }));
  const orders = [...xml.matchAll(/<rsc_order [^>]*>/g)]
    .map((m) => attrs(m[0]))
    .map((a) => ({ first: `${a['first-action'] ?? 'start'} ${a.first}`, then: `${a['then-action'] ?? 'start'} ${a.then}`, kind: a.kind ?? 'Mandatory' }));
  return { clones, colocations, orders };
}

beforeAll(() => {
  installAgents('/');
  dir = mkdtempSync(join(tmpdir(), 'aavip-pmconf-'));
  if (spawnSync('pcs', ['--version']).status !== 0) throw new Error('pcs is not installed (Debian package pcs)');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the pcs and crm examples', () => {
  it('configure the same cluster, which crm_verify accepts', () => {
    const pcsCib = emptyCib('pcs.xml');
    const pcs = spawnSync('sh', [join(PACKAGE_ROOT, 'conf/pacemaker-pcs.sh')], { encoding: 'utf8', env: { ...process.env, PCS: `pcs -f ${pcsCib}` } });
    expect(pcs.status, pcs.stderr).toBe(0);
    const crmCib = emptyCib('crm.xml');
    const crm = spawnSync('crm', ['configure', 'load', 'update', join(PACKAGE_ROOT, 'conf/pacemaker-crm.txt')], {
      encoding: 'utf8',
      env: { ...process.env, CIB_file: crmCib },
    });
    expect(crm.status, crm.stderr).toBe(0);

    const fromPcs = meaning(pcsCib);
    expect(meaning(crmCib)).toEqual(fromPcs);
    expect(fromPcs.clones).toEqual([
      {
        id: 'ldirectord-clone',
        meta: {},
        primitive: {
          id: 'ldirectord',
          agent: 'ocf:aavip:ldirectord',
          params: { configfile: '/etc/ha.d/ldirectord.cf' },
          meta: {},
          monitor: { interval: '20s', timeout: '10s' },
        },
      },
      {
        id: 'vip-clone',
        meta: { 'clone-max': '3', 'clone-node-max': '3', 'globally-unique': 'true' },
        primitive: {
          id: 'vip',
          agent: 'ocf:aavip:vip',
          params: { ip: '198.18.0.100', cidr_netmask: '24', nic: 'eth0', clusterip_hash: 'sourceip-sourceport', backend: 'auto' },
          meta: {},
          monitor: { interval: '10s', timeout: '20s' },
        },
      },
    ]);
    expect(fromPcs.colocations).toEqual([{ rsc: 'ldirectord-clone', with: 'vip-clone', score: 'INFINITY' }]);
    expect(fromPcs.orders).toEqual([{ first: 'start vip-clone', then: 'start ldirectord-clone', kind: 'Mandatory' }]);
    for (const f of [pcsCib, crmCib]) {
      const v = spawnSync('crm_verify', ['-x', f], { encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
  });

  it('add the same HAProxy clone and colocation (the VIP only where HAProxy runs)', () => {
    // CI runs no systemd, and pcs asks systemd for a systemd agent's meta-data: the examples'
    // systemd:haproxy is checked as lsb:haproxy, the Debian package's init script (same name, same
    // operations). The lab (pacemaker-vip.test.ts) runs the constraint live.
    const asLsb = (f: string) => {
      const out = join(dir, f.replace(/.*\//, 'lsb-'));
      writeFileSync(out, readFileSync(join(PACKAGE_ROOT, f), 'utf8').replace('systemd:haproxy', 'lsb:haproxy'));
      return out;
    };
    const pcsCib = emptyCib('pcs-haproxy.xml');
    for (const f of ['conf/pacemaker-pcs.sh', asLsb('conf/pacemaker-haproxy-pcs.sh')]) {
      const r = spawnSync('sh', [f.startsWith('/') ? f : join(PACKAGE_ROOT, f)], { encoding: 'utf8', env: { ...process.env, PCS: `pcs -f ${pcsCib}` } });
      expect(r.status, r.stderr).toBe(0);
    }
    const crmCib = emptyCib('crm-haproxy.xml');
    for (const f of [join(PACKAGE_ROOT, 'conf/pacemaker-crm.txt'), asLsb('conf/pacemaker-haproxy-crm.txt')]) {
      const r = spawnSync('crm', ['configure', 'load', 'update', f], { encoding: 'utf8', env: { ...process.env, CIB_file: crmCib } });
      expect(r.status, r.stderr).toBe(0);
    }
    const fromPcs = meaning(pcsCib);
    expect(meaning(crmCib)).toEqual(fromPcs);
    expect(fromPcs.clones.find((c) => c.id === 'haproxy-clone')).toEqual({
      id: 'haproxy-clone',
      meta: {},
      primitive: { id: 'haproxy', agent: 'lsb:haproxy', params: {}, meta: { 'migration-threshold': '1' }, monitor: { interval: '1s', timeout: '5s' } },
    });
    expect(fromPcs.colocations).toContainEqual({ rsc: 'vip-clone', with: 'haproxy-clone', score: 'INFINITY' });
    expect(fromPcs.colocations).toHaveLength(2);
    expect(fromPcs.orders).toHaveLength(1);
    for (const f of [pcsCib, crmCib]) {
      const v = spawnSync('crm_verify', ['-x', f], { encoding: 'utf8' });
      expect(v.status, v.stderr).toBe(0);
    }
  });

  it("are checked by pcs against the agents' meta-data: an unknown parameter is refused", () => {
    const cib = emptyCib('bad.xml');
    const r = spawnSync('pcs', ['-f', cib, 'resource', 'create', 'vip', 'ocf:aavip:vip', 'ip=198.18.0.100', 'nic=eth0', 'frobnicate=1'], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/frobnicate/);
  });
});
