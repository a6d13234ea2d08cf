// Byte-level captures for the flows-file tests, built from the formats' specifications: frames
// (Ethernet with optional VLAN tags, Linux cooked v1/v2, raw IP), classic pcap in either byte
// order, and pcapng sections with interface, enhanced and simple packet blocks.
import { parseAddress } from '../../src/hash/flow.js';

export interface FrameSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto?: 'tcp' | 'udp' | number;
  /** TCP flags byte (SYN = 0x02, ACK = 0x10); default SYN. */
  flags?: number;
  vlans?: number;
  /** IPv6 only: a hop-by-hop options header before the transport header. */
  hopByHop?: boolean;
}

const bytesOf = (a: string) => parseAddress(a)!.bytes;
const u16 = (n: number) => [n >> 8, n & 0xff];

/** The IP packet (no link header) of a spec. */
export function ipPacket(s: FrameSpec): number[] {
  const proto = s.proto === 'udp' ? 17 : s.proto === undefined || s.proto === 'tcp' ? 6 : s.proto;
  const l4 =
    proto === 6
      ? [...u16(s.sport), ...u16(s.dport), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, s.flags ?? 0x02, 0xff, 0xff, 0, 0, 0, 0]
      : proto === 17
        ? [...u16(s.sport), ...u16(s.dport), 0, 8, 0, 0]
        : [8, 0, 0, 0, 0, 1, 0, 1];
  const src = bytesOf(s.src);
  if (src.length === 4) return [0x45, 0, ...u16(20 + l4.length), 0, 1, 0x40, 0, 64, proto, 0, 0, ...src, ...bytesOf(s.dst), ...l4];
  const ext = s.hopByHop ? [proto, 0, 1, 4, 0, 0, 0, 0] : [];
  return [0x60, 0, 0, 0, ...u16(ext.length + l4.length), s.hopByHop ? 0 : proto, 64, ...src, ...bytesOf(s.dst), ...ext, ...l4];
}

const etherType = (s: FrameSpec) => (bytesOf(s.src).length === 4 ? 0x0800 : 0x86dd);

export function ethernetFrame(s: FrameSpec): number[] {
  // Each tag is its TPID (802.1ad outside when there are two) and a TCI; the EtherType follows the last.
  const n = s.vlans ?? 0;
  const tags = Array.from({ length: n }, (_, i) => [...u16(i === 0 && n > 1 ? 0x88a8 : 0x8100), 0, 10 + i]).flat();
  return [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, ...tags, ...u16(etherType(s)), ...ipPacket(s)];
}

export function sll2Frame(s: FrameSpec): number[] {
  return [...u16(etherType(s)), 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...ipPacket(s)];
}

export function sllFrame(s: FrameSpec): number[] {
  return [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...u16(etherType(s)), ...ipPacket(s)];
}

function word(n: number, little: boolean): number[] {
  const b = [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return little ? b.reverse() : b;
}
const half = (n: number, little: boolean) => (little ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff]);

export interface PcapRecord {
  data: number[];
  /** Length on the wire; default data.length. */
  original?: number;
}

export function pcap(linktype: number, records: PcapRecord[], opts: { little?: boolean; nano?: boolean; snaplen?: number } = {}): Uint8Array {
  const le = opts.little ?? true;
  const out = [...word(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, le), ...half(2, le), ...half(4, le), ...word(0, le), ...word(0, le)];
  out.push(...word(opts.snaplen ?? 262144, le), ...word(linktype, le));
  records.forEach((r, i) =>
    out.push(...word(1_700_000_000 + i, le), ...word(0, le), ...word(r.data.length, le), ...word(r.original ?? r.data.length, le), ...r.data),
  );
  return Uint8Array.from(out);
}

export type NgBlock =
  | { type: 'idb'; linktype: number; snaplen?: number }
  | { type: 'epb'; iface?: number; data: number[]; original?: number }
  | { type: 'spb'; data: number[]; original?: number }
  | { type: 'other'; code: number; body: number[] };

function block(type: number, body: number[], le: boolean): number[] {
  const padded = [...body, ...new Array((4 - (body.length % 4)) % 4).fill(0)];
  const length = 12 + padded.length;
  return [...word(type, le), ...word(length, le), ...padded, ...word(length, le)];
}

/** One pcapng section of these blocks. */
export function pcapng(blocks: NgBlock[], little = true): Uint8Array {
  const le = little;
  const out = block(0x0a0d0d0a, [...word(0x1a2b3c4d, le), ...half(1, le), ...half(0, le), ...new Array(8).fill(0xff)], le);
  for (const b of blocks) {
    if (b.type === 'idb') out.push(...block(1, [...half(b.linktype, le), 0, 0, ...word(b.snaplen ?? 0, le)], le));
    if (b.type === 'epb')
      out.push(
        ...block(
          6,
          [...word(b.iface ?? 0, le), ...word(0, le), ...word(0, le), ...word(b.data.length, le), ...word(b.original ?? b.data.length, le), ...b.data],
          le,
        ),
      );
    if (b.type === 'spb') out.push(...block(3, [...word(b.original ?? b.data.length, le), ...b.data], le));
    if (b.type === 'other') out.push(...block(b.code, b.body, le));
  }
  return Uint8Array.from(out);
}
