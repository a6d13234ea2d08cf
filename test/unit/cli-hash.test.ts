// `aavip hash owner` end to end: the built CLI reading CSV on stdin, by hand or with a VIP's settings.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assign } from '../../src/assignment/assign.js';
import { parseClusterConfig } from '../../src/config/cluster.js';
import { parseFlowLine } from '../../src/hash/csv.js';
import { bucketOf } from '../../src/hash/mechanisms.js';

const cli = (args: string[], input: string) => spawnSync(process.execPath, ['dist/src/cli/main.js', 'hash', 'owner', ...args], { input, encoding: 'utf8' });

const FLOWS = `src_ip,src_port,dst_ip,dst_port,proto
10.0.0.1,12345,192.168.77.2,80,tcp
10.0.0.2,12345,192.168.77.2,80,tcp
192.168.1.100,40000,192.168.77.2,443,tcp
`;

describe('aavip hash owner', () => {
  it("prints the kernel's bucket for each flow, in order (CIP-B, X1 and N3 vectors)", () => {
    expect(cli(['--mechanism', 'clusterip', '--hashmode', 'sourceip-sourceport', '--seed', '0x1234', '--buckets', '3'], FLOWS).stdout).toBe('3\n1\n3\n');
    expect(cli(['--mechanism', 'xt_cluster', '--seed', '4660', '--buckets', '4'], FLOWS).stdout).toBe('4\n1\n3\n');
    expect(cli(['--mechanism', 'nft', '--hashmode', 'sourceip-sourceport-destport', '--seed', '0xdeadbeef', '--buckets', '16'], FLOWS).stdout).toBe(
      '14\n10\n6\n',
    );
  });

  it('prints objects with --json', () => {
    const r = cli(['--mechanism', 'nft', '--buckets', '3', '--json'], '10.0.0.1,12345,192.168.77.2,80,udp\n');
    expect(JSON.parse(r.stdout)).toEqual({ src: '10.0.0.1', srcPort: 12345, dst: '192.168.77.2', dstPort: 80, proto: 'udp', bucket: 1 });
  });

  it('names the line and field of bad input and exits non-zero, printing nothing', () => {
    const r = cli(['--mechanism', 'nft', '--buckets', '3'], '10.0.0.1,1,192.168.77.2,80,tcp\n10.0.0.1,99999,192.168.77.2,80,tcp\n');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('stdin:2: src_port');
    expect(r.stdout).toBe('');
  });

  it("enforces each mechanism's limits", () => {
    const over = cli(['--mechanism', 'clusterip', '--buckets', '17'], '');
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/buckets: 17 is out of range 1\.\.16/);
    const mode = cli(['--mechanism', 'xt_cluster', '--hashmode', 'sourceip-sourceport', '--buckets', '3'], '');
    expect(mode.stderr).toMatch(/cannot hash sourceip-sourceport/);
    const v6 = cli(['--mechanism', 'clusterip', '--buckets', '3'], '2001:db8::1,1,2001:db8::2,80,tcp\n');
    expect(v6.stderr).toMatch(/stdin:1: src_ip: clusterip does not hash IPv6/);
    expect(cli(['--mechanism', 'nft', '--buckets', '3', '--seed', '0x1ffffffff'], '').status).not.toBe(0);
  });
});

describe('aavip hash owner --config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aavip-hash-'));
  // No key file and an interface this machine lacks: the shared settings are all it reads.
  const yaml = readFileSync('conf/cluster.yaml', 'utf8').replace('interface: eth0', 'interface: nosuch9');
  const config = join(dir, 'cluster.yaml');
  writeFileSync(config, yaml);
  const FLOWS100 = Array.from({ length: 100 }, (_, i) => `198.18.${1 + (i >> 4)}.${i + 1},${40000 + i * 7},198.18.0.100,80,tcp`).join('\n') + '\n';

  it("takes the VIP's hashmode, seed: auto and buckets, and names the node owning each bucket with every node live", () => {
    const r = cli(['--config', config, '--mechanism', 'nft'], FLOWS100);
    expect(r.stderr).toMatch(/--config takes the mechanism, hashmode, seed and buckets from the VIP: leave out --mechanism/);
    const byConfig = cli(['--config', config], FLOWS100);
    expect(byConfig.status, byConfig.stderr).toBe(0);
    const lines = byConfig.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    expect(lines).toHaveLength(100);
    // The same buckets as the VIP's settings given by hand, seed auto derived from its address.
    const byHand = cli(['--mechanism', 'nft', '--hashmode', 'sourceip-sourceport', '--seed', 'auto', '--ip', '198.18.0.100', '--buckets', '256'], FLOWS100);
    expect(byHand.status, byHand.stderr).toBe(0);
    expect(lines.map((l) => l[0])).toEqual(byHand.stdout.trim().split('\n'));
    // The daemon's seed and owners: the loaded VIP and the assignment for the all-live view.
    const vip = parseClusterConfig(yaml.replace('authkey: /etc/aavip/authkey', `authkey: ${key()}`), 'c.yaml', { local: 'lb1', interfaceExists: () => true })
      .vips[0];
    expect(byConfig.stderr).toContain(`seed ${vip.seed} (0x${vip.seed.toString(16).padStart(8, '0')})`);
    const owners = assign(
      [
        { id: 1, weight: 1 },
        { id: 2, weight: 1 },
        { id: 3, weight: 1 },
      ],
      new Set([1, 2, 3]),
      256,
    );
    const flows = FLOWS100.trim()
      .split('\n')
      .map((l, i) => parseFlowLine(l, i + 1)!);
    expect(lines.map((l) => l[1])).toEqual(
      flows.map((f) => `lb${owners[bucketOf({ mechanism: 'nft', hashmode: 'sourceip-sourceport', seed: vip.seed, buckets: 256 }, f) - 1]}`),
    );
    expect(new Set(lines.map((l) => l[1]))).toEqual(new Set(['lb1', 'lb2', 'lb3']));
    // The old default hashmode (sourceip) disagrees with the VIP on many of these flows.
    const sourceip = cli(['--mechanism', 'nft', '--seed', String(vip.seed), '--buckets', '256'], FLOWS100)
      .stdout.trim()
      .split('\n');
    expect(sourceip.filter((b, i) => b !== lines[i][0]).length).toBeGreaterThan(50);
  });

  it('picks a VIP with --vip when the file has several, and says which exist', () => {
    const two = join(dir, 'two.yaml');
    writeFileSync(
      two,
      yaml.replace('vips:\n', 'vips:\n  - { address: 198.18.0.200/24, interface: nosuch9, hashmode: sourceip, seed: 7, buckets: 4, backend: xt_cluster }\n'),
    );
    expect(cli(['--config', two], FLOWS).stderr).toMatch(/has 2 VIPs: choose one with --vip \(198\.18\.0\.200\/24, 198\.18\.0\.100\/24\)/);
    expect(cli(['--config', two, '--vip', '198.18.0.9'], FLOWS).stderr).toMatch(/has no VIP 198\.18\.0\.9/);
    const r = cli(['--config', two, '--vip', '198.18.0.200', '--json'], FLOWS);
    expect(r.status, r.stderr).toBe(0);
    const byHand = cli(['--mechanism', 'xt_cluster', '--seed', '7', '--buckets', '4'], FLOWS).stdout.trim().split('\n').map(Number);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).bucket),
    ).toEqual(byHand);
    expect(JSON.parse(r.stdout.split('\n')[0]).node).toMatch(/^lb[123]$/);
  });

  it('refuses --seed auto without --ip, and says so in --help', () => {
    const r = cli(['--mechanism', 'nft', '--buckets', '4', '--seed', 'auto'], FLOWS);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--seed auto derives the seed from the VIP address: give it with --ip/);
    expect(spawnSync(process.execPath, ['dist/src/cli/main.js', 'hash', 'owner', '--help'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ')).toMatch(
      /every configured node is live at its configured weight, computed with the daemon's bucket assignment/,
    );
  });
});

function key(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'aavip-hashkey-')), 'authkey');
  writeFileSync(file, 'k'.repeat(32));
  chmodSync(file, 0o600);
  return file;
}
