// IPv6 neighbour discovery with the cluster MAC: what the ARP table does for IPv4. The node's
// neighbour advertisements for the VIP (and solicitations it sends from the VIP) carry its own MAC
// in a link-layer address option; aavip's nft rules overwrite it with the cluster MAC.
//
// nft 1.0.6 rewrites raw payload (`@th,...`) without fixing the ICMPv6 checksum, and this kernel
// has no tc pedit/csum actions. So the rewrite is made checksum-neutral instead: the 16 reserved
// bits at ICMPv6 bytes 6-7 (zero from the sender, ignored by receivers: RFC 4861 §4.3, §4.4) take
// the one's-complement difference between the node's MAC and the cluster MAC, so the 16-bit word
// sum of the message — and so its checksum — stays the same. The node's MAC is known when the
// rule is written, and it is part of the table's signature so a changed MAC rebuilds the rule.
import { formatAddress } from '../hash/flow.js';
import type { VipSpec } from './types.js';

const macBytes = (mac: string) => mac.split(':').map((h) => parseInt(h, 16));
const macHex = (mac: string) => mac.replace(/:/g, '');

function onesSum(words: number[]): number {
  let s = words.reduce((a, b) => a + b, 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

const macWords = (mac: string): number[] => {
  const b = macBytes(mac);
  return [(b[0] << 8) | b[1], (b[2] << 8) | b[3], (b[4] << 8) | b[5]];
};

/** The word that, written into a zero field, keeps the sum unchanged when `from` is replaced by `to`. */
export function checksumNeutralWord(from: string, to: string): number {
  return onesSum([onesSum(macWords(from)), ~onesSum(macWords(to)) & 0xffff]);
}

/**
 * nft rules (for an output chain of the VIP's ip6 table) rewriting the link-layer address option
 * of ND messages about the VIP from `nodeMac` to the cluster MAC. Offsets are bits from the start
 * of the ICMPv6 header: target address at 64, the first option at 192 (type, length, 6-byte MAC),
 * the reserved word at 48.
 */
export function renderNdRules(vip: VipSpec, nodeMac: string): string[] {
  const vipHex = `0x${Array.from(vip.address.bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
  const word = `0x${checksumNeutralWord(nodeMac, vip.mac).toString(16).padStart(4, '0')}`;
  const rewrite = (optionType: string) =>
    `@th,192,64 0x${optionType}01${macHex(nodeMac)} @th,48,16 0 @th,48,16 set ${word} @th,208,48 set 0x${macHex(vip.mac)}`;
  return [
    // Advertisements for the VIP (solicited or not): target link-layer address option (type 2).
    `icmpv6 type nd-neighbor-advert @th,64,128 ${vipHex} ${rewrite('02')}`,
    // Solicitations sent from the VIP: the source link-layer address option (type 1) would teach the
    // neighbour the node's own MAC for the VIP.
    `ip6 saddr ${formatAddress(vip.address)} icmpv6 type nd-neighbor-solicit ${rewrite('01')}`,
  ];
}
