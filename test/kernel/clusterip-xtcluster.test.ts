// Real CLUSTERIP and real xt_cluster on Debian's 6.1 kernel (in the VM): aavip's clusterip and
// xt_cluster backends carry a three-node VIP, and `aavip hash owner` — the CLI a user runs — predicts
// the kernel's bucket for every recorded connection.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { built } from '../../src/paths.js';
import { runScenario } from './vm.js';

interface Row { config: number; src: string; sport: number; node: string | null; error: string | null; mark: number | null }
interface Config { backend: 'clusterip' | 'xt_cluster'; hashmode: string; buckets: number; seed: number; owners: number[]; summary: { failed: number; mispredicted: number } }
interface Recorded { configs: Config[]; rows: Row[]; checks: Record<string, any> }

let rec: Recorded;

/** Buckets the CLI predicts for these rows (dst 198.18.0.100:8080/tcp). */
function cliBuckets(rows: Row[], mechanism: string, c: Config): number[] {
  const csv = 'src_ip,src_port,dst_ip,dst_port,proto\n' + rows.map((r) => `${r.src},${r.sport},198.18.0.100,8080,tcp`).join('\n') + '\n';
  const r = spawnSync(process.execPath, [built('cli/main.js'), 'hash', 'owner', '--mechanism', mechanism, '--hashmode', c.hashmode,
    '--seed', `0x${c.seed.toString(16)}`, '--buckets', String(c.buckets)], { input: csv, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map(Number);
}

beforeAll(async () => {
  const r = await runScenario('record-connections.mjs', { env: { CONNECTIONS: '200' } });
  rec = JSON.parse(r.files['recorded.json']);
}, 1_200_000);

describe('CLUSTERIP and xt_cluster on a 6.1 kernel', () => {
  it('recorded at least 1,000 real connections, none failed', () => {
    expect(rec.rows.length).toBeGreaterThanOrEqual(1000);
    expect(rec.rows.filter((r) => !r.node)).toEqual([]);
    for (const c of rec.configs) expect(c.summary).toMatchObject({ failed: 0, mispredicted: 0 });
  });

  it('aavip hash owner predicts the bucket CLUSTERIP chose (its conntrack mark) and the node that answered, for every connection', () => {
    let checked = 0;
    rec.configs.forEach((c, k) => {
      const rows = rec.rows.filter((r) => r.config === k);
      const mechanism = c.backend;
      const predicted = cliBuckets(rows, mechanism, c);
      rows.forEach((r, i) => {
        if (c.backend === 'clusterip') expect(r.mark, `${r.src}:${r.sport} config ${k}`).toBe(predicted[i]);
        expect(r.node).toBe(`node${c.owners[predicted[i] - 1]}`);
        checked++;
      });
    });
    expect(checked).toBe(rec.rows.length);
  });

  it('would catch a wrong byte order: the nft model (address loaded as a little-endian word) disagrees with CLUSTERIP', () => {
    const k = rec.configs.findIndex((c) => c.backend === 'clusterip' && c.buckets === 16);
    const rows = rec.rows.filter((r) => r.config === k);
    const wrong = cliBuckets(rows, 'nft', rec.configs[k]);
    const mismatches = rows.filter((r, i) => r.mark !== wrong[i]).length;
    expect(mismatches).toBeGreaterThan(rows.length / 2);
  });

  it('moves a bucket through /proc/net/ipt_CLUSTERIP and stops cleanly', () => {
    expect(rec.checks.procAfterMove).toMatch(/^\d+(,\d+)*$/);
    expect(rec.checks.procAfterMove.split(',').length).toBe(2);
    expect(rec.checks.afterMove).toMatchObject({ failed: 0, mispredicted: 0 });
    expect(rec.checks.rulesAfterStop).toBe('-P INPUT ACCEPT');
    expect(rec.checks.procAfterStop).toBe('0');
    expect(rec.checks.addressAfterStop).toBe(false);
    expect(Object.keys(rec.checks).filter((k) => k.startsWith('config'))).toEqual([]);
  });
});
