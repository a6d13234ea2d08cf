// One captured frame down to its TCP or UDP 5-tuple: link layer (Ethernet, Linux cooked v1/v2,
// raw IP), VLAN tags, IPv4/IPv6 with their extension headers. Pure: bytes in, a tuple or the
// reason it has none out.
import type { Address, Flow } from '../hash/flow.js';

/** The link types decoded here (pcap LINKTYPE_* numbers, as tcpdump writes them). */
export const LINKTYPES = { ethernet: 1, raw: 101, linuxSll: 113, ipv4: 228, ipv6: 229, linuxSll2: 276 } as const;

export interface PacketTuple {
  flow: Flow;
  /** TCP only: the SYN and ACK flags (a client's first segment is SYN without ACK). */
  syn: boolean;
  ack: boolean;
}

export type Decoded = { tuple: PacketTuple } | { skip: string };

/** A frame whose headers contradict themselves: the capture is corrupt, not merely cut short. */
export class PacketError extends Error {}

/** Thrown inside the decoder when a header runs past the bytes captured because of the snap length. */
class CutShort {}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
// 802.1Q, 802.1ad and the older QinQ tag: each is 4 bytes with the inner EtherType in its last 2.
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);
const MAX_VLAN_TAGS = 4;
// IPv6 extension headers walked over to reach the transport header (hop-by-hop, routing, destination options, AH).
const IPV6_EXTENSIONS = new Set([0, 43, 60, 51]);
const IPV6_FRAGMENT = 44;
const MAX_IPV6_EXTENSIONS = 8;
const TCP = 6;
const UDP = 17;

class Frame {
  constructor(
    readonly data: Uint8Array,
    /** Captured whole (captured length = length on the wire): a short header is corruption, not the snap length. */
    readonly whole: boolean,
  ) {}

  need(end: number, what: string): void {
    if (end <= this.data.length) return;
    if (!this.whole) throw new CutShort();
    throw new PacketError(`${what} cut short: it needs ${end} bytes, the packet has ${this.data.length}`);
  }

  u16(at: number): number {
    return (this.data[at] << 8) | this.data[at + 1];
  }
}

/** The EtherType and where the network header starts, after any VLAN tags. */
function skipVlanTags(f: Frame, etherType: number, at: number): [number, number] {
  for (let tags = 0; VLAN_TAGS.has(etherType); tags++) {
    if (tags === MAX_VLAN_TAGS) throw new PacketError(`more than ${MAX_VLAN_TAGS} VLAN tags`);
    f.need(at + 4, 'VLAN tag');
    etherType = f.u16(at + 2);
    at += 4;
  }
  return [etherType, at];
}

/** [EtherType, offset of the network header]; EtherType 0 for raw IP (told by the version nibble). */
function linkLayer(f: Frame, linktype: number): [number, number] | undefined {
  switch (linktype) {
    case LINKTYPES.ethernet:
      f.need(14, 'Ethernet header');
      return skipVlanTags(f, f.u16(12), 14);
    case LINKTYPES.linuxSll:
      f.need(16, 'Linux cooked header');
      return skipVlanTags(f, f.u16(14), 16);
    case LINKTYPES.linuxSll2:
      f.need(20, 'Linux cooked v2 header');
      return skipVlanTags(f, f.u16(0), 20);
    case LINKTYPES.raw:
      f.need(1, 'IP header');
      return [0, 0];
    case LINKTYPES.ipv4:
      return [ETHERTYPE_IPV4, 0];
    case LINKTYPES.ipv6:
      return [ETHERTYPE_IPV6, 0];
    default:
      return undefined;
  }
}

interface Network {
  src: Address;
  dst: Address;
  proto: number;
  /** Offset of the transport header; undefined for a later fragment, which has none. */
  transport?: number;
}

function ipv4(f: Frame, at: number): Network {
  f.need(at + 20, 'IPv4 header');
  const b = f.data;
  if (b[at] >> 4 !== 4) throw new PacketError(`IPv4 header with version ${b[at] >> 4}`);
  const headerLength = (b[at] & 0x0f) * 4;
  if (headerLength < 20) throw new PacketError(`IPv4 header length ${headerLength} is below 20`);
  f.need(at + headerLength, 'IPv4 header');
  const total = f.u16(at + 2);
  // 0 is what a sender's capture shows with segmentation offload: unknown, not wrong.
  if (total !== 0 && total < headerLength) throw new PacketError(`IPv4 total length ${total} is below its header length ${headerLength}`);
  const fragmentOffset = f.u16(at + 6) & 0x1fff;
  return {
    src: { family: 4, bytes: b.slice(at + 12, at + 16) },
    dst: { family: 4, bytes: b.slice(at + 16, at + 20) },
    proto: b[at + 9],
    transport: fragmentOffset === 0 ? at + headerLength : undefined,
  };
}

function ipv6(f: Frame, at: number): Network {
  f.need(at + 40, 'IPv6 header');
  const b = f.data;
  if (b[at] >> 4 !== 6) throw new PacketError(`IPv6 header with version ${b[at] >> 4}`);
  const net: Network = { src: { family: 6, bytes: b.slice(at + 8, at + 24) }, dst: { family: 6, bytes: b.slice(at + 24, at + 40) }, proto: b[at + 6] };
  let next = at + 40;
  for (let n = 0; n <= MAX_IPV6_EXTENSIONS; n++) {
    if (net.proto === IPV6_FRAGMENT) {
      f.need(next + 8, 'IPv6 fragment header');
      if (f.u16(next + 2) >> 3 !== 0) return net;
      net.proto = b[next];
      next += 8;
    } else if (IPV6_EXTENSIONS.has(net.proto)) {
      f.need(next + 2, 'IPv6 extension header');
      const length = net.proto === 51 ? (b[next + 1] + 2) * 4 : (b[next + 1] + 1) * 8;
      net.proto = b[next];
      next += length;
    } else {
      net.transport = next;
      return net;
    }
  }
  throw new PacketError(`more than ${MAX_IPV6_EXTENSIONS} IPv6 extension headers`);
}

function network(f: Frame, etherType: number, at: number): Network | undefined {
  const version = etherType === 0 ? f.data[at] >> 4 : undefined;
  if (etherType === ETHERTYPE_IPV4 || version === 4) return ipv4(f, at);
  if (etherType === ETHERTYPE_IPV6 || version === 6) return ipv6(f, at);
  if (version !== undefined) throw new PacketError(`raw IP packet with version ${version}`);
  return undefined;
}

function transport(f: Frame, net: Network): Decoded {
  const at = net.transport!;
  const b = f.data;
  if (net.proto === UDP) f.need(at + 8, 'UDP header');
  else if (net.proto === TCP) {
    f.need(at + 14, 'TCP header');
    const offset = (b[at + 12] >> 4) * 4;
    if (offset < 20) throw new PacketError(`TCP data offset ${offset} is below 20`);
  } else return { skip: 'not TCP or UDP' };
  const flags = net.proto === TCP ? b[at + 13] : 0;
  const flow: Flow = { src: net.src, srcPort: f.u16(at), dst: net.dst, dstPort: f.u16(at + 2), proto: net.proto };
  return { tuple: { flow, syn: (flags & 0x02) !== 0, ack: (flags & 0x10) !== 0 } };
}

/**
 * The 5-tuple of one frame of link type `linktype`. `whole` says the frame was captured to its
 * full length: then a header that does not fit is corruption (PacketError); otherwise the snap
 * length cut it and the packet is skipped.
 */
export function decodeFrame(linktype: number, data: Uint8Array, whole: boolean): Decoded {
  const f = new Frame(data, whole);
  try {
    const link = linkLayer(f, linktype);
    if (!link) return { skip: `link type ${linktype} not decoded` };
    const net = network(f, link[0], link[1]);
    if (!net) return { skip: 'not IP' };
    if (net.transport === undefined) return { skip: 'IP fragment after the first' };
    return transport(f, net);
  } catch (e) {
    if (e instanceof CutShort) return { skip: 'cut short by the snap length' };
    throw e;
  }
}
