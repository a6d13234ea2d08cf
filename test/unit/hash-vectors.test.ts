// Vectors read off real kernels (6.18 and Debian's 6.1; CLUSTERIP on 6.1): see the kernel-hash
// notes in the README. Each row is one TCP SYN to 192.168.77.2.
import { describe, expect, it } from 'vitest';
import { parseAddress, type Flow } from '../../src/hash/flow.js';
import { jhash, jhash1word, jhash2, jhash2words, jhash3words, reciprocalScale } from '../../src/hash/jhash.js';
import { clusteripBucket, nftBucket, xtClusterBucket } from '../../src/hash/mechanisms.js';
import { nftKeyBytes } from '../../src/hash/hashmode.js';

const flow = (src: string, sport: number, dport: number, proto = 6, dst = '192.168.77.2'): Flow => ({
  src: parseAddress(src)!,
  srcPort: sport,
  dst: parseAddress(dst)!,
  dstPort: dport,
  proto,
});
const text = (s: string) => new TextEncoder().encode(s);

describe('jhash family', () => {
  it('matches the unit values', () => {
    expect(jhash(text(''), 0)).toBe(0xdeadbeef);
    expect(jhash(text('a'), 0)).toBe(0x58d68708);
    expect(jhash(text('abc'), 0)).toBe(0x0e397631);
    expect(jhash(text('abcdefghijkl'), 0)).toBe(0x4012f87b);
    expect(jhash(text('abcdefghijklm'), 0)).toBe(0x928128f9);
    expect(
      jhash(
        Uint8Array.from({ length: 24 }, (_, i) => i),
        0x1234,
      ),
    ).toBe(0xafa44d75);
    expect(jhash1word(0, 0)).toBe(0x049396b8);
    expect(jhash1word(0x0a000001, 0)).toBe(0x3483bc84);
    expect(jhash2words(1, 2, 0)).toBe(0x8b4c7979);
    expect(jhash3words(1, 2, 3, 0)).toBe(0xa46158f5);
    expect(jhash2([1, 2, 3, 4], 0)).toBe(0x66491246);
    expect(jhash2([], 7)).toBe(0xdeadbef6);
  });
  it('scales by the high bits, not modulo', () => {
    expect(reciprocalScale(0xffffffff, 3)).toBe(2);
    expect(reciprocalScale(0x55555555, 3)).toBe(0);
    expect(reciprocalScale(0x55555556, 3)).toBe(1);
    expect(reciprocalScale(0x80000000, 16)).toBe(8);
    expect(reciprocalScale(0xffffffff, 0xffffffff) + 1).toBe(0xffffffff);
    expect(reciprocalScale(0x12345678, 0xfffffff0)).toBe(Number((0x12345678n * 0xfffffff0n) >> 32n));
  });
});

// src, sport, dport, CIP-A..D, X1, X2, X3, XM, N1, N2, N3, N9
const TCP: [string, number, number, ...number[]][] = [
  ['10.0.0.1', 12345, 80, 1, 3, 14, 4, 4, 6, 1, 0, 1, 1, 14, 1015],
  ['10.0.0.2', 12345, 80, 2, 1, 1, 9, 1, 6, 1, 1, 3, 1, 10, 158],
  ['192.168.1.100', 40000, 443, 2, 3, 12, 15, 3, 32, 3, 1, 3, 3, 6, 807],
  ['172.16.5.4', 1024, 22, 2, 1, 11, 16, 4, 3, 1, 0, 3, 1, 1, 910],
  ['8.8.8.8', 53, 53, 3, 3, 10, 8, 1, 22, 1, 1, 3, 3, 10, 279],
  ['203.0.113.7', 65535, 8080, 1, 3, 16, 13, 1, 22, 2, 1, 1, 2, 11, 284],
  ['198.51.100.23', 33333, 80, 2, 2, 14, 6, 1, 3, 1, 1, 2, 1, 13, 283],
  ['1.2.3.4', 5678, 9012, 3, 1, 15, 15, 2, 1, 2, 0, 3, 1, 7, 526],
  ['100.64.0.1', 49152, 3306, 1, 2, 4, 8, 4, 8, 1, 0, 3, 1, 7, 898],
  ['10.10.10.10', 2000, 25, 3, 1, 12, 4, 2, 31, 1, 0, 1, 3, 12, 466],
  ['45.33.32.156', 61000, 443, 2, 2, 15, 12, 4, 26, 3, 0, 3, 3, 10, 976],
  ['192.0.2.1', 1, 65535, 2, 3, 7, 5, 4, 23, 3, 0, 1, 3, 4, 961],
  ['93.184.216.34', 50000, 80, 2, 3, 12, 6, 2, 6, 3, 0, 1, 1, 4, 561],
];

describe('kernel-validated TCP vectors', () => {
  it.each(TCP)('%s:%i → :%i', (src, sport, dport, ...v) => {
    const f = flow(src, sport, dport);
    const [cipA, cipB, cipC, cipD, x1, x2, x3, xm, n1, n2, n3, n9] = v;
    expect(clusteripBucket(f, 'sourceip', 0, 3)).toBe(cipA);
    expect(clusteripBucket(f, 'sourceip-sourceport', 0x1234, 3)).toBe(cipB);
    expect(clusteripBucket(f, 'sourceip-sourceport-destport', 0xdeadbeef, 16)).toBe(cipC);
    expect(clusteripBucket(f, 'sourceip', 0x12345678, 16)).toBe(cipD);
    expect(xtClusterBucket(f, 0x1234, 4)).toBe(x1);
    expect(xtClusterBucket(f, 0, 32)).toBe(x2);
    expect(xtClusterBucket(f, 0xdeadbeef, 3)).toBe(x3);
    // node mask 5 = nodes 1 and 3 of 4
    expect([1, 3].includes(xtClusterBucket(f, 0x1234, 4)) ? 1 : 0).toBe(xm);
    expect(nftBucket(f, 'sourceip-sourceport', 0x1234, 3)).toBe(n1);
    expect(nftBucket(f, 'sourceip', 0, 3)).toBe(n2);
    expect(nftBucket(f, 'sourceip-sourceport-destport', 0xdeadbeef, 16)).toBe(n3);
    // N9 is `mod 1000 offset 100`: our models use offset 1.
    expect(nftBucket(f, 'sourceip', 0x1234, 1000) - 1 + 100).toBe(n9);
  });

  it('N8 layout (saddr . daddr . sport . dport) through the generic byte path', () => {
    const N8 = [5, 4, 1, 0, 6, 0, 4, 2, 4, 5, 0, 5, 4];
    TCP.forEach(([src, sport, dport], i) => {
      const f = flow(src, sport, dport);
      const key = new Uint8Array(16);
      key.set(f.src.bytes, 0);
      key.set(f.dst.bytes, 4);
      key.set([sport >> 8, sport & 0xff], 8);
      key.set([dport >> 8, dport & 0xff], 12);
      expect(reciprocalScale(jhash(key, 0xabcdef01), 7)).toBe(N8[i]);
    });
  });
});

describe('raw kernel hashes', () => {
  // src, sport, dport, saddr 4B s=0x1234, saddr.sport 8B s=0x1234, saddr.sport.dport 12B s=0
  const RAW: [string, number, number, number, number, number][] = [
    ['10.0.0.1', 12345, 80, 0xea58cd79, 0x381e680f, 0xe052a718],
    ['10.0.0.2', 12345, 80, 0x0efc565a, 0xedaf24e9, 0xc2a3780c],
    ['192.168.1.100', 40000, 443, 0xb532c3d4, 0xb6c203d7, 0xaec60c8e],
    ['172.16.5.4', 1024, 22, 0xcf7de93e, 0xcddb6f7f, 0x212f8a39],
    ['8.8.8.8', 53, 53, 0x2ddab157, 0xf9cdac99, 0x84dd60a4],
    ['203.0.113.7', 65535, 8080, 0x2f2b9769, 0x545f7797, 0x16df1441],
  ];
  it.each(RAW)('%s', (src, sport, dport, h1, h2, h3) => {
    const f = flow(src, sport, dport);
    expect(jhash(nftKeyBytes(['saddr'], f), 0x1234)).toBe(h1);
    expect(jhash(nftKeyBytes(['saddr', 'sport'], f), 0x1234)).toBe(h2);
    expect(jhash(nftKeyBytes(['saddr', 'sport', 'dport'], f), 0)).toBe(h3);
  });
});

describe('UDP, ICMP and the reply direction', () => {
  it('matches the UDP rows', () => {
    // src, sport, dport, X1, X2, X3, N2, N10
    const UDP: [string, number, number, number, number, number, number, number][] = [
      ['10.0.0.1', 5353, 53, 4, 6, 1, 1, 2],
      ['192.168.1.100', 40000, 443, 3, 32, 3, 3, 3],
      ['8.8.4.4', 1234, 4321, 3, 21, 3, 2, 1],
      ['10.1.1.1', 5000, 6000, 4, 27, 2, 3, 3],
    ];
    for (const [src, sp, dp, x1, x2, x3, n2, n10] of UDP) {
      const f = flow(src, sp, dp, 17);
      expect(xtClusterBucket(f, 0x1234, 4)).toBe(x1);
      expect(xtClusterBucket(f, 0, 32)).toBe(x2);
      expect(xtClusterBucket(f, 0xdeadbeef, 3)).toBe(x3);
      expect(nftBucket(f, 'sourceip', 0, 3)).toBe(n2);
      expect(nftBucket(f, 'sourceip-sourceport-destport', 0x1234, 3)).toBe(n10);
    }
  });
  it('CLUSTERIP hashes UDP ports and zero ports for ICMP', () => {
    expect(clusteripBucket(flow('10.0.0.1', 12346, 80, 17), 'sourceip-sourceport', 0x1234, 3)).toBe(1);
    expect(clusteripBucket(flow('10.0.0.1', 12346, 80, 17), 'sourceip-sourceport-destport', 0xdeadbeef, 16)).toBe(1);
    expect(clusteripBucket(flow('10.0.0.1', 0, 0, 1), 'sourceip-sourceport', 0x1234, 3)).toBe(2);
    expect(clusteripBucket(flow('10.0.0.1', 0, 0, 1), 'sourceip-sourceport-destport', 0xdeadbeef, 16)).toBe(9);
  });
});

describe('IPv6', () => {
  // src, sport, X6 (xt total 8 seed 0x1234), V2 (ip6 saddr . sport mod 3 seed 1 offset 1), V3 (mod 8 seed 0x1234, 0-based), raw 16B s=0
  const V6: [string, number, number, number, number, number][] = [
    ['2001:db8::1', 12345, 3, 1, 0, 0x0e5b0adb],
    ['2001:db8::2', 12345, 3, 2, 1, 0x0ed8f7d3],
    ['2001:db8:ffff::2', 1, 3, 2, 7, 0xc3d70f9a],
    ['2a00:1450:4001:80b::200e', 443, 8, 2, 6, 0xa6d17e5c],
    ['fd00::dead:beef', 40000, 3, 3, 3, 0x056c0bf6],
    ['2606:4700:4700::1111', 53, 8, 1, 7, 0xa9795784],
  ];
  it.each(V6)('%s', (src, sport, x6, v2, v3, raw) => {
    const f = flow(src, sport, 80, 6, '2001:db8::100');
    expect(xtClusterBucket(f, 0x1234, 8)).toBe(x6);
    expect(nftBucket(f, 'sourceip-sourceport', 1, 3)).toBe(v2);
    expect(nftBucket(f, 'sourceip', 0x1234, 8) - 1).toBe(v3);
    expect(jhash(f.src.bytes, 0)).toBe(raw);
  });
});
