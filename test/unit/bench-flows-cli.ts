// What the flows-file tests compare: `aavip bench hash --flows-file` against `aavip hash owner
// --config` on the same flows, both through the built CLI. The VIP is conf/cluster.yaml's with
// the nft backend, a fixed seed and 16 buckets, and the bench is given the same settings.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { built, PACKAGE_ROOT } from '../../src/paths.js';

export const BENCH_SETTINGS = ['--mechanism', 'nft', '--hashmode', 'sourceip-sourceport', '--seed', '4660', '--buckets', '16', '--nodes', '3'];

const cli = (args: string[], input?: string) => spawnSync(process.execPath, [built('cli/main.js'), ...args], { input, encoding: 'utf8', timeout: 60_000 });

/** A cluster.yaml (no key file or interface needed by `hash owner`) whose VIP hashes as BENCH_SETTINGS say; `vip` is its address. */
export function ownerConfig(vip = '198.18.0.100/24'): string {
  const yaml = readFileSync(join(PACKAGE_ROOT, 'conf', 'cluster.yaml'), 'utf8')
    .replace('interface: eth0', 'interface: nosuch9')
    .replace('address: 198.18.0.100/24', `address: ${vip}`)
    .replace(/seed: auto\b/, 'seed: 4660')
    .replace(/buckets: 256\b/, 'buckets: 16')
    .replace(/backend: auto\b/, 'backend: nft');
  const file = join(mkdtempSync(join(tmpdir(), 'aavip-flows-')), 'cluster.yaml');
  writeFileSync(file, yaml);
  return file;
}

/** Each node's share (lb1, lb2, lb3) of the CSV flows, as `aavip hash owner --config` names their owners. */
export function ownerShares(config: string, csv: string): number[] {
  const r = cli(['hash', 'owner', '--config', config], csv);
  if (r.status !== 0) throw new Error(`hash owner failed: ${r.stderr}`);
  const nodes = r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[1]);
  return ['lb1', 'lb2', 'lb3'].map((n) => nodes.filter((x) => x === n).length / nodes.length);
}

/** `aavip bench hash --flows-file FILE --json` with BENCH_SETTINGS; the report when it succeeds. */
export function benchFlowsFile(file: string, extra: string[] = []) {
  const r = cli(['bench', 'hash', '--flows-file', file, ...BENCH_SETTINGS, '--json', ...extra]);
  return { status: r.status, stderr: r.stderr, report: r.status === 0 ? JSON.parse(r.stdout) : undefined };
}
