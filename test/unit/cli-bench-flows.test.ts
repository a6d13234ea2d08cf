// `aavip bench hash --flows-file` end to end on captures built here: the same node shares as
// `aavip hash owner` on the same flows, the chart, and corrupt input reported in one line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LINKTYPES } from '../../src/flows/packet.js';
import { xorshift32 } from '../../src/hash/random.js';
import { benchFlowsFile, ownerConfig, ownerShares } from './bench-flows-cli.js';
import { ethernetFrame, type FrameSpec, pcap, pcapng, sll2Frame } from './capture-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-bench-flows-'));
const next = xorshift32(7);
// 300 clients in 198.18.0.0/15 and 100 in 2001:db8::/32, each one SYN, with its SYN-ACK.
const specs: FrameSpec[] = Array.from({ length: 400 }, (_, i) => ({
  src: i < 300 ? `198.18.${1 + (next() % 200)}.${1 + (next() % 254)}` : `2001:db8::${(next() % 0xffff).toString(16)}`,
  dst: i < 300 ? '198.18.0.100' : '2001:db8::100',
  sport: 1024 + (next() % 60000),
  dport: 80,
}));
const csv = specs.map((s) => `${s.src},${s.sport},${s.dst},${s.dport},tcp`).join('\n') + '\n';
const reply = (s: FrameSpec): FrameSpec => ({ src: s.dst, dst: s.src, sport: s.dport, dport: s.sport, flags: 0x12 });
const write = (name: string, bytes: Uint8Array | string) => {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
};

describe('aavip bench hash --flows-file', () => {
  const config = ownerConfig();
  const shares = ownerShares(config, csv);

  it('gives the node shares `aavip hash owner` gives on the same flows, from pcap, pcapng and CSV', () => {
    const frames = specs.flatMap((s) => [s, reply(s)]);
    const files = [
      write(
        'flows.pcap',
        pcap(
          LINKTYPES.ethernet,
          frames.map((s) => ({ data: ethernetFrame(s) })),
        ),
      ),
      write(
        'flows.pcapng',
        pcapng([{ type: 'idb', linktype: LINKTYPES.linuxSll2 }, ...frames.map((s) => ({ type: 'epb', data: sll2Frame(s) }) as const)], false),
      ),
      write('flows.csv', `src_ip,src_port,dst_ip,dst_port,proto\n${csv}`),
    ];
    expect(shares.every((s) => s > 0.2)).toBe(true);
    for (const file of files) {
      const { status, stderr, report } = benchFlowsFile(file);
      expect(status, stderr).toBe(0);
      expect(report.options.flows).toBe(400);
      expect(report.results).toHaveLength(1);
      expect(report.results[0].nodeShares).toEqual(shares);
      expect(report.skippedMechanisms).toEqual([]);
      expect(report.disruption.map((d: any) => d.strategy)).toContain('sticky');
    }
  });

  it('leaves CLUSTERIP out for IPv6 flows and draws the chart', () => {
    const svg = join(dir, 'chart.svg');
    const r = benchFlowsFile(join(dir, 'flows.csv'), ['--mechanism', 'clusterip,nft', '--svg', svg]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/clusterip left out: clusterip does not hash IPv6/);
    expect(r.report.results.map((x: any) => x.mechanism)).toEqual(['nft']);
    expect(readFileSync(svg, 'utf8')).toMatch(/400 flows from .*flows\.csv/);
  });

  it('reports a corrupt capture in one line naming the packet, exit 2, no stack', () => {
    const good = pcap(
      LINKTYPES.ethernet,
      specs.slice(0, 5).map((s) => ({ data: ethernetFrame(s) })),
    );
    const cut = write('cut.pcap', good.slice(0, good.length - 10));
    const r = benchFlowsFile(cut);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^aavip: .*cut\.pcap: packet 5: the record at byte \d+ says 54 bytes were captured, but the file ends 44 bytes on/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const wrong = benchFlowsFile(write('flows2.csv', csv), ['--flows-format', 'conntrack']);
    expect(wrong.stderr).toMatch(/flows2\.csv:1: not a conntrack entry/);
    expect(benchFlowsFile(join(dir, 'flows.csv'), ['--population', 'nat']).stderr).toMatch(/--population is for the synthetic populations/);
  });
});
