// The cluster's multicast MAC: every node answers ARP for the VIP with it, so the switch floods
// the VIP's frames to all nodes.
import type { Address } from '../hash/flow.js';

/** 01:00:5e + the low 23 bits of an IPv4 VIP (the IPv4 multicast mapping, as IPaddr3 does); 33:33 + low 32 bits for IPv6. */
export function multicastMacFor(vip: Address): string {
  const b = vip.bytes;
  const bytes = vip.family === 4 ? [0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]] : [0x33, 0x33, b[12], b[13], b[14], b[15]];
  return bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** Normalises a MAC to lower-case colon form; undefined if it is not one. */
export function parseMac(text: string): string | undefined {
  const t = text.trim().toLowerCase().replace(/-/g, ':');
  return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(t) ? t : undefined;
}

/** The I/G bit: set on group (multicast) addresses. */
export function isMulticastMac(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}
