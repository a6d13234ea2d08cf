// A flow as the hash mechanisms see it: the original-direction 5-tuple of a connection.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Address {
  family: Family;
  /** Network-order bytes: 4 for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
}

export interface Flow {
  src: Address;
  srcPort: number;
  dst: Address;
  dstPort: number;
  /** IP protocol number (6 = TCP, 17 = UDP, 1 = ICMP ...). */
  proto: number;
}

export const PROTOCOLS: Readonly<Record<string, number>> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  dccp: 33,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};

export function parseProtocol(text: string): number | undefined {
  const t = text.trim().toLowerCase();
  if (t in PROTOCOLS) return PROTOCOLS[t];
  if (/^\d{1,3}$/.test(t) && Number(t) <= 255) return Number(t);
  return undefined;
}

export function protocolName(proto: number): string {
  return Object.entries(PROTOCOLS).find(([, n]) => n === proto)?.[0] ?? String(proto);
}

/** Parses a dotted-quad or RFC 4291 IPv6 address; undefined if it is neither. */
export function parseAddress(text: string): Address | undefined {
  const t = text.trim();
  if (isIPv4(t)) return { family: 4, bytes: Uint8Array.from(t.split('.').map(Number)) };
  if (!isIPv6(t)) return undefined;
  const tailV4 = t.match(/(\d+\.\d+\.\d+\.\d+)$/);
  const head = tailV4 ? t.slice(0, -tailV4[1].length) + '0:0' : t;
  const [left, right] = head.includes('::') ? head.split('::') : [head, undefined];
  const parse = (s: string | undefined) =>
    s
      ? s
          .split(':')
          .filter((g) => g !== '')
          .map((g) => parseInt(g, 16))
      : [];
  const l = parse(left);
  const r = parse(right);
  const groups = right === undefined ? l : [...l, ...new Array(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tailV4)
    tailV4[1]
      .split('.')
      .map(Number)
      .forEach((b, i) => {
        bytes[12 + i] = b;
      });
  return { family: 6, bytes };
}

/**
 * The canonical text of an address (RFC 5952, as the kernel and `ip` print it): the longest run
 * of two or more zero groups becomes `::` (the first such run on a tie), lower-case hex. Addresses
 * are compared as text throughout (heartbeat senders, conntrack output), so this must be exact.
 */
export function formatAddress(a: Address): string {
  if (a.family === 4) return Array.from(a.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a.bytes[i] << 8) | a.bytes[i + 1]);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    groups
      .slice(from, to)
      .map((g) => g.toString(16))
      .join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** An IPv4 address as a host-order number: 10.0.0.1 → 0x0A000001 (the kernel's ntohl(saddr)). */
export function ipv4Number(a: Address): number {
  const b = a.bytes;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function ipv4FromNumber(n: number): Address {
  return { family: 4, bytes: Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff) };
}
