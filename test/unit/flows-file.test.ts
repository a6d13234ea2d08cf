// The flows-file readers on captures built byte by byte: frames, pcap and pcapng in both byte
// orders, what counts as a flow, conntrack lines, format detection, and corrupt input named by
// file and packet or line.
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { formatAddress } from '../../src/hash/flow.js';
import { parseConntrackLine } from '../../src/flows/conntrack-text.js';
import { decodeFrame, LINKTYPES, PacketError } from '../../src/flows/packet.js';
import { detectFormat, readFlows } from '../../src/flows/read.js';
import { ethernetFrame, ipPacket, type FrameSpec, pcap, pcapng, sll2Frame, sllFrame } from './capture-fixtures.js';

const V4: FrameSpec = { src: '198.18.1.7', dst: '198.18.0.100', sport: 40001, dport: 80 };
const V6: FrameSpec = { src: '2001:db8::7', dst: '2001:db8::100', sport: 40002, dport: 443 };
const tupleText = (f: { src: any; srcPort: number; dst: any; dstPort: number; proto: number }) =>
  `${f.proto} ${formatAddress(f.src)}:${f.srcPort} > ${formatAddress(f.dst)}:${f.dstPort}`;

function errorOf(fn: () => unknown): InputError {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('no error thrown');
}

describe('decodeFrame', () => {
  const tuple = (linktype: number, data: number[]) => {
    const d = decodeFrame(linktype, Uint8Array.from(data), true);
    if (!('tuple' in d)) throw new Error(`skipped: ${d.skip}`);
    return d.tuple;
  };

  it('reads the 5-tuple and TCP flags through every link type and VLAN tags', () => {
    const frames: [number, number[]][] = [
      [LINKTYPES.ethernet, ethernetFrame(V4)],
      [LINKTYPES.ethernet, ethernetFrame({ ...V4, vlans: 1 })],
      [LINKTYPES.ethernet, ethernetFrame({ ...V4, vlans: 2 })],
      [LINKTYPES.linuxSll, sllFrame(V4)],
      [LINKTYPES.linuxSll2, sll2Frame(V4)],
      [LINKTYPES.raw, ipPacket(V4)],
      [LINKTYPES.ipv4, ipPacket(V4)],
    ];
    for (const [linktype, data] of frames) expect(tupleText(tuple(linktype, data).flow)).toBe('6 198.18.1.7:40001 > 198.18.0.100:80');
    const synAck = tuple(LINKTYPES.ethernet, ethernetFrame({ ...V4, flags: 0x12 }));
    expect([synAck.syn, synAck.ack]).toEqual([true, true]);
  });

  it('walks IPv6 extension headers and reads UDP', () => {
    expect(tupleText(tuple(LINKTYPES.linuxSll2, sll2Frame({ ...V6, hopByHop: true })).flow)).toBe('6 2001:db8::7:40002 > 2001:db8::100:443');
    expect(tupleText(tuple(LINKTYPES.raw, ipPacket({ ...V6, proto: 'udp' })).flow)).toBe('17 2001:db8::7:40002 > 2001:db8::100:443');
  });

  it('skips what has no TCP or UDP tuple, and says why', () => {
    const skip = (linktype: number, data: number[], whole = true) => {
      const d = decodeFrame(linktype, Uint8Array.from(data), whole);
      return 'skip' in d ? d.skip : 'decoded';
    };
    const arp = ethernetFrame(V4);
    arp.splice(12, 2, 0x08, 0x06);
    expect(skip(LINKTYPES.ethernet, arp)).toBe('not IP');
    expect(skip(LINKTYPES.ethernet, ethernetFrame({ ...V4, proto: 1 }))).toBe('not TCP or UDP');
    const fragment = ethernetFrame(V4);
    fragment[14 + 7] = 0x10; // fragment offset 16 × 8 bytes: no transport header in it
    expect(skip(LINKTYPES.ethernet, fragment)).toBe('IP fragment after the first');
    expect(skip(LINKTYPES.ethernet, ethernetFrame(V4).slice(0, 40), false)).toBe('cut short by the snap length');
    expect(skip(147, ethernetFrame(V4))).toBe('link type 147 not decoded');
  });

  it('throws on headers that contradict themselves or end early in a whole packet', () => {
    const badIhl = ethernetFrame(V4);
    badIhl[14] = 0x43;
    expect(() => decodeFrame(LINKTYPES.ethernet, Uint8Array.from(badIhl), true)).toThrow(/IPv4 header length 12 is below 20/);
    expect(() => decodeFrame(LINKTYPES.ethernet, Uint8Array.from(ethernetFrame(V4).slice(0, 40)), true)).toThrow(PacketError);
    const v6inV4 = ethernetFrame(V4);
    v6inV4[14] = 0x65;
    expect(() => decodeFrame(LINKTYPES.ethernet, Uint8Array.from(v6inV4), true)).toThrow(/IPv4 header with version 6/);
  });
});

/** A conversation: two TCP connections (one with a retransmitted SYN), a mid-stream one, UDP both ways, and an ARP. */
function conversation(frame: (s: FrameSpec) => number[]): number[][] {
  const a = V4;
  const b = { ...V6, sport: 50000 };
  const back = (s: FrameSpec, flags?: number): FrameSpec => ({ ...s, src: s.dst, dst: s.src, sport: s.dport, dport: s.sport, flags });
  const udp: FrameSpec = { ...V4, sport: 5353, dport: 53, proto: 'udp' };
  const mid: FrameSpec = { ...V4, sport: 41000, flags: 0x10 };
  const arp = ethernetFrame(V4).slice(0, 14);
  arp.splice(12, 2, 0x08, 0x06);
  return [frame(a), frame(a), frame(back(a, 0x12)), frame({ ...a, flags: 0x10 }), frame(b), frame(back(b, 0x12)), frame(mid), frame(back(mid, 0x18))]
    .concat([frame(udp), frame(back(udp)), frame(udp)])
    .concat(frame === ethernetFrame ? [[...arp, ...new Array(28).fill(0)]] : []);
}

describe('captures', () => {
  const records = conversation(ethernetFrame).map((data) => ({ data }));
  const expected = ['6 198.18.1.7:40001 > 198.18.0.100:80', '6 2001:db8::7:50000 > 2001:db8::100:443', '17 198.18.1.7:5353 > 198.18.0.100:53'];

  it('counts each TCP flow once by its SYN and each UDP 5-tuple once, in either pcap byte order and precision', () => {
    for (const opts of [{}, { little: false }, { nano: true }, { little: false, nano: true }]) {
      const r = readFlows(pcap(LINKTYPES.ethernet, records, opts), 'c.pcap');
      expect(r.format).toBe('pcap');
      expect(r.flows.map(tupleText)).toEqual(expected);
      expect(r.packets).toBe(12);
      expect(r.withoutSyn).toBe(1);
      expect(r.skipped).toEqual({
        'later packet of a counted flow': 6,
        'TCP segment of a connection whose SYN is not in the capture': 2,
        'not IP': 1,
      });
    }
  });

  it('reads pcapng sections in either byte order, EPB and SPB, several interfaces, other blocks passed over', () => {
    const frames = conversation(sll2Frame);
    for (const little of [true, false]) {
      const blocks = [
        { type: 'idb', linktype: LINKTYPES.linuxSll2 } as const,
        { type: 'other', code: 0x80000001, body: [1, 2, 3] } as const,
        { type: 'idb', linktype: LINKTYPES.ethernet } as const,
        ...frames.slice(0, 4).map((data) => ({ type: 'spb', data }) as const),
        { type: 'epb', iface: 1, data: ethernetFrame({ ...V4, sport: 40009 }) } as const,
        ...frames.slice(4).map((data) => ({ type: 'epb', data }) as const),
      ];
      const r = readFlows(pcapng(blocks, little), 'c.pcapng');
      expect(r.format).toBe('pcapng');
      expect(r.flows.map(tupleText)).toEqual([expected[0], '6 198.18.1.7:40009 > 198.18.0.100:80', ...expected.slice(1)]);
      expect(r.packets).toBe(12);
    }
  });

  it('counts a packet cut by the snap length, not decoded, as skipped', () => {
    const r = readFlows(
      pcap(LINKTYPES.ethernet, [{ data: ethernetFrame(V4).slice(0, 30), original: 74 }, { data: ethernetFrame(V6) }], { snaplen: 30 }),
      's.pcap',
    );
    expect(r.flows.map(tupleText)).toEqual(['6 2001:db8::7:40002 > 2001:db8::100:443']);
    expect(r.skipped).toEqual({ 'cut short by the snap length': 1 });
  });
});

describe('corrupt captures', () => {
  const good = pcap(LINKTYPES.ethernet, [{ data: ethernetFrame(V4) }, { data: ethernetFrame(V6) }, { data: ethernetFrame({ ...V4, sport: 2 }) }]);
  const describe_ = (b: Uint8Array) => errorOf(() => readFlows(b, 'bad.pcap')).describe();

  it('names the packet whose record is cut short or impossible', () => {
    const third = 24 + 2 * 16 + ethernetFrame(V4).length + ethernetFrame(V6).length;
    expect(describe_(good.slice(0, third + 10))).toMatch(/^bad\.pcap: packet 3: the record header at byte \d+ is cut short: 10 of 16 bytes/);
    expect(describe_(good.slice(0, third + 16 + 20))).toMatch(
      /^bad\.pcap: packet 3: .* says 54 bytes were captured, but the file ends 20 bytes on \(the file was truncated\)/,
    );
    const overlong = good.slice();
    new DataView(overlong.buffer).setUint32(24 + 8, 70_000_000, true);
    expect(describe_(overlong)).toMatch(/^bad\.pcap: packet 1: .* more than the snap length/);
    const longerThanWire = good.slice();
    new DataView(longerThanWire.buffer).setUint32(24 + 12, 10, true);
    expect(describe_(longerThanWire)).toMatch(/^bad\.pcap: packet 1: .* 54 bytes were captured of a 10-byte packet/);
    expect(describe_(good.slice(0, 20))).toMatch(/^bad\.pcap: the pcap file header is cut short: 20 of 24 bytes/);
  });

  it('names the packet whose headers are corrupt', () => {
    const frames = [ethernetFrame(V4), ethernetFrame(V4)];
    frames[1][14] = 0x41;
    expect(
      describe_(
        pcap(
          LINKTYPES.ethernet,
          frames.map((data) => ({ data })),
        ),
      ),
    ).toMatch(/^bad\.pcap: packet 2: IPv4 header length 4 is below 20 \(the capture is corrupt\)/);
  });

  it('names the pcapng packet or block that is broken', () => {
    const ng = pcapng([
      { type: 'idb', linktype: 1 },
      { type: 'epb', data: ethernetFrame(V4) },
      { type: 'epb', data: ethernetFrame(V6) },
    ]);
    const d = (b: Uint8Array) => errorOf(() => readFlows(b, 'bad.pcapng')).describe();
    expect(d(ng.slice(0, ng.length - 8))).toMatch(/^bad\.pcapng: packet 2: the block at byte \d+ says it is \d+ bytes long, but the file ends/);
    const trailer = ng.slice();
    trailer[trailer.length - 4] ^= 0x04;
    expect(d(trailer)).toMatch(/^bad\.pcapng: packet 2: the block at byte \d+ ends with a length other than its own/);
    const noIface = pcapng([{ type: 'epb', data: ethernetFrame(V4) }]);
    expect(d(noIface)).toMatch(/^bad\.pcapng: packet 1: .* names interface 0, which no interface block before it describes/);
    const big = pcapng([
      { type: 'idb', linktype: 1 },
      { type: 'epb', data: ethernetFrame(V4) },
    ]);
    new DataView(big.buffer).setUint32(28 + 20 + 20, 4000, true);
    expect(d(big)).toMatch(/^bad\.pcapng: packet 1: .* says 4000 bytes were captured, more than the block holds/);
  });
});

describe('conntrack -L lines', () => {
  const line = (t: string) => parseConntrackLine(t, 1, 'ct.txt');
  it('takes the original-direction tuple of each protocol and output style', () => {
    const cases: [string, string][] = [
      [
        'tcp      6 431999 ESTABLISHED src=198.18.1.7 dst=198.18.0.100 sport=40001 dport=80 src=198.18.0.100 dst=198.18.1.7 sport=80 dport=40001 [ASSURED] mark=0 use=1',
        '6 198.18.1.7:40001 > 198.18.0.100:80',
      ],
      [
        'udp      17 29 src=198.18.1.7 dst=198.18.0.53 sport=5353 dport=53 [UNREPLIED] src=198.18.0.53 dst=198.18.1.7 sport=53 dport=5353 mark=0 use=1',
        '17 198.18.1.7:5353 > 198.18.0.53:53',
      ],
      [
        'icmp     1 29 src=198.18.1.7 dst=198.18.0.100 type=8 code=0 id=7 src=198.18.0.100 dst=198.18.1.7 type=0 code=0 id=7 mark=0 use=1',
        '1 198.18.1.7:0 > 198.18.0.100:0',
      ],
      [
        'ipv6     10 tcp      6 118 TIME_WAIT src=2001:db8::7 dst=2001:db8::100 sport=40002 dport=443 src=2001:db8::100 dst=2001:db8::7 sport=443 dport=40002 [ASSURED] mark=0 zone=3 use=1',
        '6 2001:db8::7:40002 > 2001:db8::100:443',
      ],
      [
        '[NEW] tcp      6 120 SYN_SENT src=198.18.1.8 dst=198.18.0.100 sport=1 dport=80 [UNREPLIED] src=198.18.0.100 dst=198.18.1.8 sport=80 dport=1',
        '6 198.18.1.8:1 > 198.18.0.100:80',
      ],
    ];
    for (const [text, want] of cases) expect(tupleText(line(text)!)).toBe(want);
    expect(line('conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.')).toBeUndefined();
    expect(line('')).toBeUndefined();
  });

  it('names the line and field of a bad entry', () => {
    const d = (t: string) => errorOf(() => readFlows(new TextEncoder().encode(t), 'ct.txt', 'conntrack')).describe();
    const ok = 'tcp 6 10 ESTABLISHED src=198.18.1.7 dst=198.18.0.100 sport=1 dport=80 src=198.18.0.100 dst=198.18.1.7 sport=80 dport=1\n';
    expect(d(`${ok}tcp 6 10 ESTABLISHED src=198.18.1.7 sport=1 dport=80\n`)).toBe('ct.txt:2: dst: no dst= in the entry');
    expect(d(`${ok}${ok}tcp 6 10 ESTABLISHED src=198.18.1.7 dst=198.18.0.100 sport=1 dport=99999\n`)).toBe("ct.txt:3: dport: '99999' is not a port (0..65535)");
    expect(d(`${ok}tcp 6 10 ESTABLISHED src=198.18.1.999 dst=198.18.0.100\n`)).toBe("ct.txt:2: src: '198.18.1.999' is not an IP address");
    expect(d(`${ok}hello world\n`)).toMatch(/^ct\.txt:2: not a conntrack entry/);
  });
});

describe('format detection', () => {
  const text = (t: string) => new TextEncoder().encode(t);
  it('tells the four formats apart by their first bytes or line', () => {
    expect(detectFormat(pcap(1, [], { little: false }), 'f')).toBe('pcap');
    expect(detectFormat(pcapng([], false), 'f')).toBe('pcapng');
    expect(detectFormat(text('# from lb1\ntcp 6 10 CLOSE src=198.18.1.7 dst=198.18.0.100 sport=1 dport=80\n'), 'f')).toBe('conntrack');
    expect(detectFormat(text('src_ip,src_port,dst_ip,dst_port,proto\n'), 'f')).toBe('csv');
    expect(detectFormat(text('198.18.1.7,1,198.18.0.100,80,tcp\n'), 'f')).toBe('csv');
    expect(errorOf(() => detectFormat(text('\nhello\n'), 'f')).describe()).toMatch(/^f:2: cannot tell its format/);
  });

  it('reads CSV as `aavip hash owner` does, naming the line of a bad row, and refuses a file without flows', () => {
    const r = readFlows(text('src_ip,src_port,dst_ip,dst_port,proto\n198.18.1.7,1,198.18.0.100,80,tcp\n2001:db8::7,2,2001:db8::100,53,udp\n'), 'f.csv');
    expect(r.flows.map(tupleText)).toEqual(['6 198.18.1.7:1 > 198.18.0.100:80', '17 2001:db8::7:2 > 2001:db8::100:53']);
    expect(errorOf(() => readFlows(text('198.18.1.7,1,198.18.0.100,80,tcp\n198.18.1.7,1,198.18.0.100,80\n'), 'f.csv')).describe()).toMatch(
      /^f\.csv:2: expected 5 fields/,
    );
    expect(errorOf(() => readFlows(pcap(1, [{ data: ethernetFrame({ ...V4, proto: 1 }) }]), 'icmp.pcap')).describe()).toMatch(
      /^icmp\.pcap: no flows in it \(pcap, 1 packet, 0 flows; passed over: 1 not TCP or UDP\)/,
    );
  });
});
