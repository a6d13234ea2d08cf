// The IPv6 neighbour-discovery rewrite: the rendered nft rules, applied to real NA/NS messages
// byte by byte, must match them, put the cluster MAC in the link-layer option and leave a valid
// ICMPv6 checksum — for any node MAC and any VIP.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checksumNeutralWord, renderNdRules } from '../../src/dataplane/nd.js';
import { unsolicitedAdvert } from '../../src/dataplane/nd-announce.js';
import { renderNdTable, renderVipTables } from '../../src/dataplane/nft.js';
import { renderXtChain, xtChainName, xtRules } from '../../src/dataplane/xtcluster.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { formatAddress, parseAddress } from '../../src/hash/flow.js';

const macBytes = (mac: string) => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));

/** RFC 4443 checksum over the IPv6 pseudo-header and the message (checksum field as it is). */
function icmp6Sum(src: Uint8Array, dst: Uint8Array, msg: Buffer): number {
  const pseudo = Buffer.alloc(40);
  Buffer.from(src).copy(pseudo, 0);
  Buffer.from(dst).copy(pseudo, 16);
  pseudo.writeUInt32BE(msg.length, 32);
  pseudo[39] = 58;
  const all = Buffer.concat([pseudo, msg, Buffer.alloc(msg.length % 2)]);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += all.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** An NA (type 136) or NS (type 135) as Linux sends it: header, target, one link-layer option. */
function ndMessage(type: 135 | 136, target: Uint8Array, optionMac: string, src: Uint8Array, dst: Uint8Array, flags = 0x60): Buffer {
  const msg = Buffer.alloc(32);
  msg[0] = type;
  if (type === 136) msg[4] = flags; // S and O
  Buffer.from(target).copy(msg, 8);
  msg[24] = type === 136 ? 2 : 1;
  msg[25] = 1;
  macBytes(optionMac).copy(msg, 26);
  msg.writeUInt16BE(~icmp6Sum(src, dst, msg) & 0xffff, 2);
  return msg;
}

const readBits = (msg: Buffer, off: number, len: number) => BigInt(`0x${msg.subarray(off / 8, (off + len) / 8).toString('hex') || '0'}`);
function writeBits(msg: Buffer, off: number, len: number, value: bigint) {
  Buffer.from(value.toString(16).padStart(len / 4, '0'), 'hex').copy(msg, off / 8);
}

/**
 * Runs one rendered rule on a message the way the kernel's payload expressions would: every
 * `@th,OFF,LEN VALUE` must match, then every `@th,OFF,LEN set VALUE` is written. Returns whether
 * the rule matched. (The icmpv6 type and ip6 saddr matches are checked by the caller.)
 */
function runRule(rule: string, msg: Buffer): boolean {
  const tokens = [...rule.matchAll(/@th,(\d+),(\d+) (set )?(0x[0-9a-f]+|\d+)/g)];
  for (const [, off, len, set, value] of tokens) {
    if (set) writeBits(msg, Number(off), Number(len), BigInt(value));
    else if (readBits(msg, Number(off), Number(len)) !== BigInt(value)) return false;
  }
  return true;
}

const hexMac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
  b[0] &= 0xfe; // a node's own MAC is unicast
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
});
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  b[0] = 0x20;
  return formatAddress({ family: 6, bytes: b });
});

describe('IPv6 neighbour discovery with the cluster MAC', () => {
  it('rewrites advertisements for the VIP to the cluster MAC and keeps the checksum valid', () => {
    fc.assert(
      fc.property(hexMac, v6, v6, fc.constantFrom(0x20, 0x40, 0x60, 0xe0), (nodeMac, vipText, peerText, flags) => {
        const vip = parseVipSpec({ address: `${vipText}/64`, interface: 'eth0', backend: 'nft' });
        const peer = parseAddress(peerText)!.bytes;
        const na = ndMessage(136, vip.address.bytes, nodeMac, vip.address.bytes, peer, flags);
        expect(icmp6Sum(vip.address.bytes, peer, na)).toBe(0xffff);
        const [advert] = renderNdRules(vip, nodeMac);
        expect(runRule(advert, na)).toBe(true);
        expect(na.subarray(26, 32)).toEqual(macBytes(vip.mac));
        expect(icmp6Sum(vip.address.bytes, peer, na)).toBe(0xffff);
        // The flags the receiver reads (R, S, O) are untouched.
        expect(na[4]).toBe(flags);
      }),
    );
  });

  it('rewrites solicitations sent from the VIP, and leaves other messages alone', () => {
    fc.assert(
      fc.property(hexMac, hexMac, v6, v6, (nodeMac, otherMac, vipText, peerText) => {
        const vip = parseVipSpec({ address: `${vipText}/64`, interface: 'eth0', backend: 'nft' });
        const peer = parseAddress(peerText)!.bytes;
        const [advert, solicit] = renderNdRules(vip, nodeMac);
        const ns = ndMessage(135, peer, nodeMac, vip.address.bytes, peer);
        expect(runRule(solicit, ns)).toBe(true);
        expect(ns.subarray(26, 32)).toEqual(macBytes(vip.mac));
        expect(icmp6Sum(vip.address.bytes, peer, ns)).toBe(0xffff);
        // An advertisement for another target, or carrying another MAC, does not match.
        expect(runRule(advert, ndMessage(136, peer, nodeMac, peer, vip.address.bytes))).toBe(peerText === vipText);
        if (otherMac !== nodeMac) expect(runRule(advert, ndMessage(136, vip.address.bytes, otherMac, vip.address.bytes, peer))).toBe(false);
      }),
    );
  });

  it('matches only the solicitations whose source is the VIP', () => {
    const vip = parseVipSpec({ address: '2001:db8::100/64', interface: 'eth0', backend: 'nft' });
    expect(renderNdRules(vip, '02:00:00:00:00:01')[1]).toMatch(/^ip6 saddr 2001:db8::100 icmpv6 type nd-neighbor-solicit /);
    expect(vip.mac).toBe('33:33:00:00:01:00');
  });

  it("computes the compensating word as a one's-complement difference", () => {
    // Same MAC: nothing to compensate (zero, or its one's-complement twin 0xffff).
    expect([0, 0xffff]).toContain(checksumNeutralWord('02:00:00:00:00:01', '02:00:00:00:00:01'));
    // 02:00:00:00:00:01 → 33:33:00:00:01:00: word sums 0x0201 and 0x3433, difference 0x0201 - 0x3433.
    expect(checksumNeutralWord('02:00:00:00:00:01', '33:33:00:00:01:00')).toBe((0x0201 + (~0x3433 & 0xffff)) % 0xffff);
  });
  it('announces the VIP as an unsolicited advertisement: Override set, the cluster MAC as target link-layer address', () => {
    const vip = parseVipSpec({ address: '2001:db8::100/64', interface: 'eth0', backend: 'nft' });
    const na = unsolicitedAdvert(vip);
    expect(na.length).toBe(32);
    expect([na[0], na[1], na[4]]).toEqual([136, 0, 0x20]);
    expect(formatAddress({ family: 6, bytes: na.subarray(8, 24) })).toBe('2001:db8::100');
    expect([na[24], na[25]]).toEqual([2, 1]);
    expect(na.subarray(26, 32)).toEqual(macBytes(vip.mac));
    // Sent with the cluster MAC already, it is not touched by the node's own rewrite rule.
    const copy = Buffer.from(na);
    expect(runRule(renderNdRules(vip, '02:00:00:00:00:01')[0], copy)).toBe(false);
  });
  it('gives xt_cluster IPv6 VIPs the same rewrite, and accepts ND before the cluster match', () => {
    const vip = parseVipSpec({ address: '2001:db8::100/64', interface: 'eth0', backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3, seed: 1 });
    const nodeMac = '02:00:00:00:00:01';
    const table = renderNdTable(vip, nodeMac);
    for (const rule of renderNdRules(vip, nodeMac)) expect(table).toContain(rule);
    expect(table).toContain('comment "aavip:02:00:00:00:00:01>33:33:00:00:01:00"');
    // The nft backend's table carries the very same chain.
    expect(renderVipTables({ ...vip, backend: 'nft' }, { owned: [1], incoming: [], draining: [] }, nodeMac)).toContain(
      table.split('\n').slice(1, -2).join('\n'),
    );
    const chain = xtChainName(vip);
    const nd = [`-A ${chain} -p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT`, `-A ${chain} -p ipv6-icmp -m icmp6 --icmpv6-type 136 -j ACCEPT`];
    expect(xtRules(vip, [2]).slice(0, 2)).toEqual(nd);
    expect(renderXtChain(vip, [2]).split('\n').slice(2, 4)).toEqual(nd);
    // Not for IPv4, where ARP is not IP.
    expect(
      renderXtChain(parseVipSpec({ address: '198.18.0.100/16', interface: 'eth0', backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3 }), [2]),
    ).not.toContain('icmpv6');
  });
});
