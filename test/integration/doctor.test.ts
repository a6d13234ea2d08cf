// `aavip doctor` on the host kernel, run in network namespaces of its own (prefix doc): each bad
// setting, made for real inside a namespace, is named; a good namespace is all well (exit 0).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { CLI } from '../../src/lab/vip-lab.js';

const NAMESPACES = ['doc-good', 'doc-rp', 'doc-loose', 'doc-mc', 'doc-sync'];
const dir = mkdtempSync(join(tmpdir(), 'aavip-doc-'));

interface Finding {
  id: string;
  severity: string;
  setting: string;
  breaks: string;
  fix: string;
}

/** Whether this host's kernel has (or could load) what a case expects to be missing. */
const hostHas = (registered: () => boolean, module: string) => registered() || spawnSync('modprobe', ['-n', '-q', module]).status === 0;
const HOST_HAS_IPVS = hostHas(() => existsSync('/proc/net/ip_vs'), 'ip_vs');
const HOST_HAS_CLUSTERIP = hostHas(() => readFileSync('/proc/net/ip_tables_targets', 'utf8').split('\n').includes('CLUSTERIP'), 'ipt_CLUSTERIP');

/** A cluster.yaml (and its key) in the temp dir with one VIP on eth0 as `vip` says. */
function config(name: string, vip: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const key = join(dir, 'authkey');
  writeFileSync(key, Buffer.alloc(32, 7));
  chmodSync(key, 0o600);
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    stringify({
      cluster: { name: 'doc', local: 'n1', authkey: key, nodes: [{ id: 1, name: 'n1', address: '198.18.0.11' }] },
      vips: [{ address: '198.18.0.100/16', interface: 'eth0', seed: 0x5eed, ...vip }],
      ...extra,
    }),
  );
  return file;
}

const NFT = { backend: 'nft', hashmode: 'sourceip-sourceport', buckets: 256 };
const XT = { backend: 'xt_cluster', hashmode: 'sourceip', buckets: 4 };

const inNs = (ns: string, args: string[]) => run('ip', ['netns', 'exec', ns, ...args], { allowFailure: true });
const sysctl = (ns: string, setting: string) => inNs(ns, ['sysctl', '-q', '-w', setting]);

async function doctor(ns: string, file: string): Promise<{ status: number | null; findings: Finding[] }> {
  const r = await inNs(ns, [process.execPath, CLI, 'doctor', '--config', file, '--json']);
  expect(r.stderr).toBe('');
  return { status: r.status, findings: JSON.parse(r.stdout).findings };
}

/** A namespace with a veth pair, eth0 the VIP interface, and loose reverse-path filtering. */
async function namespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'del', ns], { allowFailure: true });
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
  for (const dev of ['lo', 'eth0', 'peer0']) await run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  // A new namespace may inherit the host's values: set the good ones explicitly.
  for (const s of ['net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv4.conf.eth0.rp_filter=2']) {
    expect((await sysctl(ns, s)).status).toBe(0);
  }
}

beforeAll(async () => {
  // nf_conntrack_tcp_loose exists (in every namespace) once nf_conntrack is loaded; built in, modprobe has nothing to do.
  await run('modprobe', ['nf_conntrack'], { allowFailure: true });
  for (const ns of NAMESPACES) await namespace(ns);
});

afterAll(async () => {
  for (const ns of NAMESPACES) await run('ip', ['netns', 'del', ns], { allowFailure: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('aavip doctor in network namespaces of the host kernel', () => {
  it('says all is well on a good namespace and exits 0 (JSON: no findings)', async () => {
    const file = config('good', NFT);
    expect(await doctor('doc-good', file)).toEqual({ status: 0, findings: [] });
    const text = await inNs('doc-good', [process.execPath, CLI, 'doctor', '--config', file]);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^all is well/);
  });

  it('names strict rp_filter on the VIP interface (a warning: exit 0), with the sysctl that fixes it', async () => {
    expect((await sysctl('doc-rp', 'net.ipv4.conf.eth0.rp_filter=1')).status).toBe(0);
    const { status, findings } = await doctor('doc-rp', config('rp', NFT));
    expect(status).toBe(0);
    expect(findings).toEqual([
      expect.objectContaining({ id: 'rp-filter-strict', severity: 'warning', setting: expect.stringContaining('net.ipv4.conf.eth0.rp_filter=1') }),
    ]);
    expect(findings[0].fix).toMatch(/^sysctl -w net\.ipv4\.conf\.eth0\.rp_filter=2/);
    // The fix, applied in the namespace, makes the finding go.
    expect((await sysctl('doc-rp', 'net.ipv4.conf.eth0.rp_filter=2')).status).toBe(0);
    expect((await doctor('doc-rp', config('rp', NFT))).findings).toEqual([]);
  });

  it('names nf_conntrack_tcp_loose=1 with an xt_cluster VIP (exit 1), and not once it is 0 in that namespace', async () => {
    const file = config('loose', XT);
    expect((await sysctl('doc-loose', 'net.netfilter.nf_conntrack_tcp_loose=1')).status).toBe(0);
    const bad = await doctor('doc-loose', file);
    expect(bad.status).toBe(1);
    expect(bad.findings.map((f) => f.id)).toEqual(['xt-cluster-tcp-loose']);
    expect(bad.findings[0].setting).toContain('net.netfilter.nf_conntrack_tcp_loose=1');
    expect((await sysctl('doc-loose', 'net.netfilter.nf_conntrack_tcp_loose=0')).status).toBe(0);
    expect(await doctor('doc-loose', file)).toEqual({ status: 0, findings: [] });
  });

  it.skipIf(HOST_HAS_IPVS)(
    `names IPVS missing for a config with lvs.config (exit 1)${HOST_HAS_IPVS ? ' — skipped: this host kernel has IPVS' : ''}`,
    async () => {
      const cf = join(dir, 'ldirectord.cf');
      writeFileSync(cf, 'virtual=198.18.0.100:80\n\treal=198.18.2.1:80 gate\n\tscheduler=wrr\n');
      const { status, findings } = await doctor('doc-good', config('lvs', NFT, { lvs: { config: cf } }));
      expect(status).toBe(1);
      expect(findings.map((f) => f.id)).toEqual(['ipvs-missing']);
      expect(findings[0].setting).toContain(cf);
    },
  );

  it.skipIf(HOST_HAS_CLUSTERIP)(
    `names CLUSTERIP missing for a backend: clusterip VIP (exit 1)${HOST_HAS_CLUSTERIP ? ' — skipped: this host kernel has CLUSTERIP' : ''}`,
    async () => {
      const { status, findings } = await doctor('doc-good', config('clusterip', { backend: 'clusterip', hashmode: 'sourceip', buckets: 4 }));
      expect(status).toBe(1);
      expect(findings.map((f) => f.id)).toEqual(['clusterip-missing']);
      expect(findings[0].fix).toContain('backend: nft');
    },
  );

  it('names a VIP interface without MULTICAST (exit 1), and one that is missing', async () => {
    await run('ip', ['-n', 'doc-mc', 'link', 'set', 'dev', 'eth0', 'multicast', 'off']);
    const off = await doctor('doc-mc', config('mc', NFT));
    expect(off.status).toBe(1);
    expect(off.findings).toEqual([expect.objectContaining({ id: 'interface-no-multicast', fix: 'ip link set dev eth0 multicast on' })]);
    const missing = await doctor('doc-mc', config('missing', { ...NFT, interface: 'eth9' }));
    expect(missing.status).toBe(1);
    expect(missing.findings.map((f) => f.id)).toEqual(['interface-missing']);
  });

  it('checks the IPVS sync interface of lvs.sync as a VIP interface: without MULTICAST it is named', async () => {
    const cf = join(dir, 'ldirectord-sync.cf');
    writeFileSync(cf, 'virtual=198.18.0.100:80\n\treal=198.18.2.1:80 gate\n');
    const file = config('sync', NFT, { lvs: { config: cf, sync: { enabled: true, interface: 'peer0', syncid: 7 } } });
    await run('ip', ['-n', 'doc-sync', 'link', 'set', 'dev', 'peer0', 'multicast', 'off']);
    const { status, findings } = await doctor('doc-sync', file);
    expect(status).toBe(1);
    const sync = findings.filter((f) => f.id !== 'ipvs-missing');
    expect(sync).toEqual([expect.objectContaining({ id: 'interface-no-multicast', setting: 'interface peer0: MULTICAST flag off (IPVS sync)' })]);
  });

  it('reports a configuration mistake as one file:line line (exit 2), as the other commands do', async () => {
    const file = config('broken', { ...XT, hashmode: 'sourceip-sourceport' });
    const r = await inNs('doc-good', [process.execPath, CLI, 'doctor', '--config', file]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^aavip: ${file}:\\d+: vips\\.0\\.hashmode: xt_cluster cannot hash sourceip-sourceport.*\\n$`));
  });
});
