// `aavip hash owner` end to end: the built CLI reading CSV on stdin.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = (args: string[], input: string) =>
  spawnSync(process.execPath, ['dist/src/cli/main.js', 'hash', 'owner', ...args], { input, encoding: 'utf8' });

const FLOWS = `src_ip,src_port,dst_ip,dst_port,proto
10.0.0.1,12345,192.168.77.2,80,tcp
10.0.0.2,12345,192.168.77.2,80,tcp
192.168.1.100,40000,192.168.77.2,443,tcp
`;

describe('aavip hash owner', () => {
  it('prints the kernel\'s bucket for each flow, in order (CIP-B, X1 and N3 vectors)', () => {
    expect(cli(['--mechanism', 'clusterip', '--hashmode', 'sourceip-sourceport', '--seed', '0x1234', '--buckets', '3'], FLOWS).stdout).toBe('3\n1\n3\n');
    expect(cli(['--mechanism', 'xt_cluster', '--seed', '4660', '--buckets', '4'], FLOWS).stdout).toBe('4\n1\n3\n');
    expect(cli(['--mechanism', 'nft', '--hashmode', 'sourceip-sourceport-destport', '--seed', '0xdeadbeef', '--buckets', '16'], FLOWS).stdout).toBe('14\n10\n6\n');
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

  it('enforces each mechanism\'s limits', () => {
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
