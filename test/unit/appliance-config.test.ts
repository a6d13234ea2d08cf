// The `lvs` section of cluster.yaml: sync and checks defaults, and each bad value with its line.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { syncIdOf } from '../../src/appliance/settings.js';
import { parseClusterConfig } from '../../src/config/cluster.js';
import { InputError, InputErrors } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-appliance-conf-'));
const key = join(dir, 'authkey');
writeFileSync(key, 'k'.repeat(32));
chmodSync(key, 0o600);

const base = (lvs: string) => `cluster:
  name: web
  nodes:
    - { id: 1, name: lb1, address: 198.18.0.11 }
    - { id: 2, name: lb2, address: 198.18.0.12 }
  authkey: ${key}
vips:
  - address: 198.18.0.100/24
    interface: eth0
${lvs}`;

const interfaces = new Set(['eth0', 'eth1', 'lo']);
const parse = (text: string) => parseClusterConfig(text, join(dir, 'c.yaml'), { local: 'lb1', interfaceExists: (n) => interfaces.has(n) });
const errorsOf = (text: string): string[] => {
  try {
    parse(text);
  } catch (e) {
    if (e instanceof InputErrors) return e.errors.map((x) => x.describe().replace(`${dir}/`, ''));
    if (e instanceof InputError) return [e.describe().replace(`${dir}/`, '')];
    throw e;
  }
  return [];
};
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('cluster.yaml lvs section', () => {
  it('defaults: sync on, on the first VIP interface, syncid from the cluster name; checks shared', () => {
    const c = parse(base('lvs:\n  config: ldirectord.cf\n'));
    expect(c.lvs).toEqual({ config: join(dir, 'ldirectord.cf'), sync: { enabled: true, interface: 'eth0', syncId: syncIdOf('web') }, checks: 'shared' });
  });

  it('derives the syncid from the cluster name alone: stable, in 0..255, different for other names', () => {
    expect(syncIdOf('web')).toBe(syncIdOf('web'));
    const ids = new Set(['web', 'mail', 'db', 'api', 'edge'].map(syncIdOf));
    expect([...ids].every((i) => Number.isInteger(i) && i >= 0 && i <= 255)).toBe(true);
    expect(ids.size).toBeGreaterThan(1);
  });

  it('takes the interface, syncid, enabled and checks given', () => {
    const c = parse(base('lvs:\n  config: /etc/ldirectord.cf\n  sync: { interface: eth1, syncid: 0 }\n  checks: local\n'));
    expect(c.lvs).toEqual({ config: '/etc/ldirectord.cf', sync: { enabled: true, interface: 'eth1', syncId: 0 }, checks: 'local' });
    expect(parse(base('lvs:\n  config: /x.cf\n  sync: { enabled: false, syncid: 9 }\n')).lvs?.sync).toEqual({ enabled: false, interface: 'eth0', syncId: 9 });
  });

  it('lvs.sync: false switches sync off', () => {
    expect(parse(base('lvs:\n  config: /x.cf\n  sync: false\n')).lvs?.sync.enabled).toBe(false);
    expect(parse(base('lvs:\n  config: /x.cf\n  sync: true\n')).lvs?.sync.enabled).toBe(true);
  });

  it('reports each bad value with its line and field, all at once', () => {
    const text = base(`lvs:
  config: /x.cf
  sync:
    enabled: maybe
    interface: "a/b"
    syncid: 256
    group: 239.1.1.1
  checks: everywhere
  chekcs: local
`);
    expect(errorsOf(text)).toEqual(
      expect.arrayContaining([
        `c.yaml:${lineOf(text, 'enabled: maybe')}: lvs.sync.enabled: enabled must be true or false (got 'maybe')`,
        `c.yaml:${lineOf(text, 'interface: "a/b"')}: lvs.sync.interface: interface must be a network interface name of 1..15 characters (got 'a/b')`,
        `c.yaml:${lineOf(text, 'syncid: 256')}: lvs.sync.syncid: syncid must be a whole number 0..255 (got 256)`,
        `c.yaml:${lineOf(text, 'group:')}: lvs.sync.group: unknown field 'group' (known: enabled, interface, syncid)`,
        `c.yaml:${lineOf(text, 'checks: everywhere')}: lvs.checks: checks must be 'shared' or 'local' (got 'everywhere')`,
        `c.yaml:${lineOf(text, 'chekcs:')}: lvs.chekcs: unknown field 'chekcs' (known: config, sync, checks)`,
      ]),
    );
    expect(errorsOf(text)).toHaveLength(6);
  });

  it('refuses a sync that is neither false nor a mapping, a syncid that is not whole, a missing config', () => {
    const a = base('lvs:\n  config: /x.cf\n  sync: eth0\n');
    expect(errorsOf(a)).toEqual([`c.yaml:${lineOf(a, 'sync: eth0')}: lvs.sync: sync must be false or a mapping of enabled, interface, syncid (got 'eth0')`]);
    const b = base('lvs:\n  config: /x.cf\n  sync: { syncid: 1.5 }\n');
    expect(errorsOf(b)).toEqual([`c.yaml:${lineOf(b, 'syncid: 1.5')}: lvs.sync.syncid: syncid must be a whole number 0..255 (got 1.5)`]);
    const c = base('lvs:\n  sync: false\n');
    // A missing field is reported at the start of its mapping (the nearest node there is).
    expect(errorsOf(c)).toEqual([`c.yaml:${lineOf(c, 'sync: false')}: lvs.config: config must be the path of an ldirectord.cf`]);
  });

  it('refuses a sync interface this node does not have (not when sync is off)', () => {
    const text = base('lvs:\n  config: /x.cf\n  sync: { interface: eth7 }\n');
    expect(errorsOf(text)).toEqual([`c.yaml:${lineOf(text, 'eth7')}: lvs.sync.interface: no such interface 'eth7' on this node`]);
    expect(errorsOf(base('lvs:\n  config: /x.cf\n  sync: { interface: eth7, enabled: false }\n'))).toEqual([]);
  });

  it('refuses backend xt_cluster or clusterip with lvs.config, naming the VIP line (they drop the FIN of every forwarded flow); nft and auto pass', () => {
    const lvs = 'lvs:\n  config: /x.cf\n';
    for (const backend of ['xt_cluster', 'clusterip']) {
      const text = base(`    backend: ${backend}\n    hashmode: sourceip\n    buckets: 4\n${lvs}`);
      expect(errorsOf(text)).toEqual([
        `c.yaml:${lineOf(text, `backend: ${backend}`)}: vips.0.backend: backend ${backend} cannot serve lvs.config: conntrack has no entry for the FIN of a flow a director forwards, and ${backend} drops what conntrack does not know; use backend nft (or auto)`,
      ]);
      // Without lvs the same VIP is fine.
      expect(errorsOf(base(`    backend: ${backend}\n    hashmode: sourceip\n    buckets: 4\n`))).toEqual([]);
    }
    for (const backend of ['nft', 'auto']) expect(errorsOf(base(`    backend: ${backend}\n${lvs}`))).toEqual([]);
  });
});
