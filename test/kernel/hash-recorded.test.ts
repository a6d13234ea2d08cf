// `aavip hash owner` — the CLI a user runs — against the real kernel: well over 1,000 real TCP
// connections recorded live, in a VM with Debian's 6.1 kernel, through real iptables CLUSTERIP
// (all three hashmodes) and real xt_cluster, several seeds and bucket counts. Every connection's
// bucket as the kernel chose it (its conntrack mark) and the node that answered must be what the
// CLI predicts: 0 mismatches. The recording is made afresh on every run and kept, for inspection
// and for re-checking by hand, in .cache/kernel/hash-recorded.csv (not committed).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { built, PACKAGE_ROOT } from '../../src/paths.js';
import { runScenario } from './vm.js';

type Mechanism = 'clusterip' | 'xt_cluster';
interface Config {
  mechanism: Mechanism;
  hashmode: string;
  seed: number;
  buckets: number;
  connections: number;
}

const CONFIGS: Config[] = [
  { mechanism: 'clusterip', hashmode: 'sourceip', seed: 0, buckets: 3, connections: 200 },
  { mechanism: 'clusterip', hashmode: 'sourceip', seed: 0x9e3779b9, buckets: 11, connections: 150 },
  { mechanism: 'clusterip', hashmode: 'sourceip-sourceport', seed: 0x1234, buckets: 3, connections: 200 },
  { mechanism: 'clusterip', hashmode: 'sourceip-sourceport', seed: 7, buckets: 16, connections: 200 },
  { mechanism: 'clusterip', hashmode: 'sourceip-sourceport-destport', seed: 0xdeadbeef, buckets: 16, connections: 200 },
  { mechanism: 'clusterip', hashmode: 'sourceip-sourceport-destport', seed: 0xffffffff, buckets: 5, connections: 150 },
  { mechanism: 'xt_cluster', hashmode: 'sourceip', seed: 0x1234, buckets: 3, connections: 150 },
  { mechanism: 'xt_cluster', hashmode: 'sourceip', seed: 0xdeadbeef, buckets: 7, connections: 150 },
  { mechanism: 'xt_cluster', hashmode: 'sourceip', seed: 0, buckets: 16, connections: 150 },
  { mechanism: 'xt_cluster', hashmode: 'sourceip', seed: 1, buckets: 32, connections: 150 },
];

const RECORDING = join(PACKAGE_ROOT, '.cache', 'kernel', 'hash-recorded.csv');

interface Row {
  config: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  answeredBy: string;
  conntrackNode: string;
  kernelBucket: number | null;
  error: string;
}
interface Meta {
  configs: (Config & { vip: string; owners: number[] })[];
  proc: Record<string, Record<string, string>>;
  timings: Record<string, number>;
}

let rows: Row[];
let meta: Meta;

function parseRecording(csv: string): Row[] {
  return csv
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const f = line.split(',');
      return {
        config: Number(f[0]),
        src: f[5],
        sport: Number(f[6]),
        dst: f[7],
        dport: Number(f[8]),
        answeredBy: f[10],
        conntrackNode: f[11],
        kernelBucket: f[12] === '' ? null : Number(f[12]),
        error: f[13],
      };
    });
}

/** What `aavip hash owner` says for these flows (one bucket a flow, in order). */
function cliBuckets(c: Config, flows: { src: string; sport: number; dst: string; dport: number }[]): number[] {
  const csv = 'src_ip,src_port,dst_ip,dst_port,proto\n' + flows.map((f) => `${f.src},${f.sport},${f.dst},${f.dport},tcp`).join('\n') + '\n';
  const r = spawnSync(
    process.execPath,
    [
      built('cli/main.js'),
      'hash',
      'owner',
      '--mechanism',
      c.mechanism,
      '--hashmode',
      c.hashmode,
      '--seed',
      `0x${c.seed.toString(16)}`,
      '--buckets',
      String(c.buckets),
    ],
    { input: csv, encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  const out = r.stdout.trim().split('\n').map(Number);
  expect(out).toHaveLength(flows.length);
  return out;
}

const rowsOf = (k: number) => rows.filter((r) => r.config === k);
const configIds = (m: Mechanism) => CONFIGS.flatMap((c, k) => (c.mechanism === m ? [k] : []));

/** Connections whose kernel bucket, or answering node, differs from the CLI's prediction. */
function mismatches(k: number, flows = rowsOf(k)): string[] {
  const c = CONFIGS[k];
  const predicted = cliBuckets(c, flows);
  const owners = meta.configs[k].owners;
  return rowsOf(k).flatMap((r, i) =>
    r.kernelBucket === predicted[i] && r.answeredBy === `node${owners[predicted[i] - 1]}`
      ? []
      : [`${r.src}:${r.sport} -> ${r.dst}:${r.dport}: kernel bucket ${r.kernelBucket} on ${r.answeredBy}, CLI bucket ${predicted[i]}`],
  );
}

beforeAll(async () => {
  const vm = await runScenario('hash-recorded.mjs', { files: { 'configs.json': JSON.stringify(CONFIGS) } });
  meta = JSON.parse(vm.files['recorded.json']);
  mkdirSync(join(PACKAGE_ROOT, '.cache', 'kernel'), { recursive: true });
  writeFileSync(RECORDING, vm.files['recorded.csv']);
  rows = parseRecording(vm.files['recorded.csv']);
}, 900_000);

describe('aavip hash owner against real connections through CLUSTERIP and xt_cluster (Debian 6.1 kernel)', () => {
  it('recorded at least 1,000 real connections from many source addresses and ports; every one answered and found in conntrack', () => {
    expect(rows.length).toBe(CONFIGS.reduce((n, c) => n + c.connections, 0));
    expect(rows.length).toBeGreaterThanOrEqual(1000);
    expect(rows.filter((r) => r.error || !r.answeredBy || r.kernelBucket === null || r.conntrackNode !== r.answeredBy)).toEqual([]);
    expect(new Set(rows.map((r) => r.src)).size).toBeGreaterThanOrEqual(200);
    expect(new Set(rows.map((r) => `${r.src}:${r.sport}`)).size).toBe(rows.length);
    expect(new Set(rows.map((r) => r.dport)).size).toBe(4);
  });

  it('the CLUSTERIP configs really spread over the nodes and buckets (all three hashmodes, several seeds and totals)', () => {
    const cip = configIds('clusterip');
    expect(new Set(cip.map((k) => CONFIGS[k].hashmode)).size).toBe(3);
    for (const k of cip) {
      expect(new Set(rowsOf(k).map((r) => r.answeredBy)).size, `config ${k}`).toBe(3);
      expect(new Set(rowsOf(k).map((r) => r.kernelBucket)).size, `config ${k}`).toBe(CONFIGS[k].buckets);
    }
    // The kernel's /proc view agrees with the buckets each node was given.
    for (const k of cip) {
      const c = meta.configs[k];
      const given = Object.fromEntries([1, 2, 3].map((i) => [`node${i}`, c.owners.flatMap((o, b) => (o === i ? [b + 1] : [])).join(',')]));
      expect(meta.proc[c.vip], `config ${k}`).toEqual(given);
    }
  });

  for (const m of ['clusterip', 'xt_cluster'] as const) {
    it(`${m}: the CLI predicts the kernel's bucket and the answering node for every connection — 0 mismatches`, () => {
      let checked = 0;
      for (const k of configIds(m)) {
        const bad = mismatches(k);
        expect({ config: k, count: bad.length, first: bad.slice(0, 10) }).toEqual({ config: k, count: 0, first: [] });
        checked += rowsOf(k).length;
      }
      expect(checked).toBeGreaterThanOrEqual(m === 'clusterip' ? 1000 : 500);
    });
  }

  // The recording is only a proof if a wrong model fails it. These feed the CLI the flows as a
  // model with the wrong byte order would read them, and require the recording to refute it.
  const swap16 = (p: number) => ((p & 0xff) << 8) | (p >> 8);
  const reverse = (a: string) => a.split('.').reverse().join('.');
  const mostlyWrong = (k: number, flows: Row[]) => {
    const bad = mismatches(k, flows).length;
    expect(bad, `config ${k}: ${bad} of ${flows.length} mismatched`).toBeGreaterThan(flows.length / 2);
  };

  it('would catch CLUSTERIP ports read in network order (ntohs) instead of raw', () => {
    for (const k of configIds('clusterip').filter((k) => CONFIGS[k].hashmode !== 'sourceip')) {
      mostlyWrong(
        k,
        rowsOf(k).map((r) => ({ ...r, sport: swap16(r.sport), dport: swap16(r.dport) })),
      );
    }
  });

  it('would catch the source address read in the other byte order, for CLUSTERIP (ntohl) and xt_cluster (raw word) alike', () => {
    for (const k of [...configIds('clusterip'), ...configIds('xt_cluster')])
      mostlyWrong(
        k,
        rowsOf(k).map((r) => ({ ...r, src: reverse(r.src) })),
      );
  });
});
