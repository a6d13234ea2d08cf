// The classic pcap file (what `tcpdump -w` writes): a 24-byte header, then a 16-byte record
// header before each packet. Either byte order, microsecond or nanosecond timestamps.
import { CaptureError, type CapturedPacket } from './capture.js';

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;
const FILE_HEADER = 24;
const RECORD_HEADER = 16;
// libpcap's own ceiling on a record (MAXIMUM_SNAPLEN): a bigger one means the file is corrupt.
const MAX_RECORD = 262_144;

/** Whether the bytes start with a pcap magic number, in either byte order. */
export function isPcap(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  const v = new DataView(b.buffer, b.byteOffset, 4);
  return [v.getUint32(0, false), v.getUint32(0, true)].some((m) => m === MAGIC_MICRO || m === MAGIC_NANO);
}

/** The packets of a pcap file, in order; a CaptureError names the packet whose record is broken. */
export function* pcapPackets(b: Uint8Array): Generator<CapturedPacket> {
  if (b.length < FILE_HEADER) throw new CaptureError(`the pcap file header is cut short: ${b.length} of ${FILE_HEADER} bytes`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const big = [MAGIC_MICRO, MAGIC_NANO].includes(view.getUint32(0, false));
  if (!big && ![MAGIC_MICRO, MAGIC_NANO].includes(view.getUint32(0, true))) throw new CaptureError('not a pcap file (no pcap magic number)');
  const u32 = (at: number) => view.getUint32(at, !big);
  const major = view.getUint16(4, !big);
  if (major !== 2) throw new CaptureError(`pcap version ${major}.${view.getUint16(6, !big)} is not 2.x`);
  const snaplen = u32(16);
  // The upper bits of the link-type field carry FCS information.
  const linktype = u32(20) & 0xffff;
  const limit = Math.max(snaplen, MAX_RECORD);
  let at = FILE_HEADER;
  for (let number = 1; at < b.length; number++) {
    const where = `at byte ${at}`;
    if (b.length - at < RECORD_HEADER)
      throw new CaptureError(`the record header ${where} is cut short: ${b.length - at} of ${RECORD_HEADER} bytes (the file was truncated)`, number);
    const captured = u32(at + 8);
    const original = u32(at + 12);
    if (captured > limit) throw new CaptureError(`the record ${where} says ${captured} bytes were captured, more than the snap length ${snaplen}`, number);
    if (captured > original) throw new CaptureError(`the record ${where} says ${captured} bytes were captured of a ${original}-byte packet`, number);
    const start = at + RECORD_HEADER;
    if (start + captured > b.length)
      throw new CaptureError(
        `the record ${where} says ${captured} bytes were captured, but the file ends ${b.length - start} bytes on (the file was truncated)`,
        number,
      );
    yield { number, linktype, data: b.subarray(start, start + captured), originalLength: original };
    at = start + captured;
  }
}
