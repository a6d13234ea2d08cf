// pcapng (what Wireshark and dumpcap write): blocks, each `type, total length, body, total
// length`. Read here: Section Header (byte order), Interface Description (link type, snap
// length), Enhanced, Simple and the obsolete Packet block; every other block is passed over.
import { CaptureError, type CapturedPacket } from './capture.js';

const SHB = 0x0a0d0d0a;
const IDB = 1;
const PB = 2;
const SPB = 3;
const EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** Whether the bytes start with a Section Header Block. */
export function isPcapng(b: Uint8Array): boolean {
  return b.length >= 4 && new DataView(b.buffer, b.byteOffset, 4).getUint32(0) === SHB;
}

interface Interface {
  linktype: number;
  snaplen: number;
}

/** What a packet block holds, before it is checked against its block. */
interface PacketFields {
  iface: number;
  dataAt: number;
  captured: number;
  original: number;
}

class Reader {
  private view: DataView;
  private little = true;
  interfaces: Interface[] = [];

  constructor(readonly b: Uint8Array) {
    this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  u32(at: number): number {
    return this.view.getUint32(at, this.little);
  }

  u16(at: number): number {
    return this.view.getUint16(at, this.little);
  }

  /** A new section: its own byte order, and no interfaces yet. */
  section(at: number, where: string): void {
    if (this.b.length - at < 12) throw new CaptureError(`the section header ${where} is cut short (the file was truncated)`);
    const magic = this.view.getUint32(at + 8, true);
    if (magic === BYTE_ORDER_MAGIC) this.little = true;
    else if (this.view.getUint32(at + 8, false) === BYTE_ORDER_MAGIC) this.little = false;
    else throw new CaptureError(`the section header ${where} has no byte-order magic`);
    this.interfaces = [];
  }

  /** The block's total length, checked against the file and its trailing copy. */
  blockLength(at: number, where: string, packet: number | undefined): number {
    if (this.b.length - at < 12) throw new CaptureError(`the block ${where} is cut short: ${this.b.length - at} bytes left (the file was truncated)`, packet);
    const length = this.u32(at + 4);
    if (length < 12 || length % 4 !== 0) throw new CaptureError(`the block ${where} has an impossible length ${length}`, packet);
    if (at + length > this.b.length)
      throw new CaptureError(
        `the block ${where} says it is ${length} bytes long, but the file ends ${this.b.length - at} bytes on (the file was truncated)`,
        packet,
      );
    if (this.u32(at + length - 4) !== length) throw new CaptureError(`the block ${where} ends with a length other than its own (${length})`, packet);
    return length;
  }

  packetFields(type: number, at: number, length: number): PacketFields {
    if (type === SPB) {
      const original = this.u32(at + 8);
      const snaplen = this.interfaces[0]?.snaplen || Infinity;
      return { iface: 0, dataAt: at + 12, captured: Math.min(original, snaplen, length - 16), original };
    }
    if (type === PB) return { iface: this.u16(at + 8), dataAt: at + 28, captured: this.u32(at + 20), original: this.u32(at + 24) };
    return { iface: this.u32(at + 8), dataAt: at + 28, captured: this.u32(at + 20), original: this.u32(at + 24) };
  }

  packet(type: number, at: number, length: number, number: number, where: string): CapturedPacket {
    const minimum = type === SPB ? 16 : 32;
    if (length < minimum) throw new CaptureError(`the packet block ${where} is ${length} bytes, shorter than its fixed fields`, number);
    const { iface, dataAt, captured, original } = this.packetFields(type, at, length);
    const link = this.interfaces[iface];
    if (!link) throw new CaptureError(`the packet block ${where} names interface ${iface}, which no interface block before it describes`, number);
    if (dataAt + captured > at + length - 4)
      throw new CaptureError(`the packet block ${where} says ${captured} bytes were captured, more than the block holds`, number);
    if (captured > original) throw new CaptureError(`the packet block ${where} says ${captured} bytes were captured of a ${original}-byte packet`, number);
    return { number, linktype: link.linktype, data: this.b.subarray(dataAt, dataAt + captured), originalLength: original };
  }
}

/** The packets of a pcapng file, in order; a CaptureError names the packet (or the block) that is broken. */
export function* pcapngPackets(b: Uint8Array): Generator<CapturedPacket> {
  if (!isPcapng(b)) throw new CaptureError('not a pcapng file (it does not start with a section header block)');
  const r = new Reader(b);
  let number = 0;
  for (let at = 0; at < b.length; ) {
    const where = `at byte ${at}`;
    if (b.length - at >= 4 && new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0) === SHB) r.section(at, where);
    const type = b.length - at >= 4 ? r.u32(at) : -1;
    const isPacket = type === EPB || type === SPB || type === PB;
    const length = r.blockLength(at, where, isPacket ? number + 1 : undefined);
    if (isPacket) yield r.packet(type, at, length, ++number, where);
    else if (type === IDB) {
      if (length < 20) throw new CaptureError(`the interface block ${where} is ${length} bytes, shorter than its fixed fields`);
      r.interfaces.push({ linktype: r.u16(at + 8), snaplen: r.u32(at + 12) });
    }
    at += length;
  }
}
