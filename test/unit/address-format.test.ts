// Addresses are compared as text (a heartbeat's sender against the packet's source, conntrack's
// output against the VIP), so the text must be the kernel's: RFC 5952. Regression: the longest
// run of zero groups must be the one shortened (fd00:0:0:1::5 was printed fd00::1:0:0:0:5).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { formatAddress, parseAddress } from '../../src/hash/flow.js';

describe('formatAddress (RFC 5952)', () => {
  it('shortens the longest run of zero groups, the first on a tie, never a single group', () => {
    const cases: [string, string][] = [
      ['fd00:0:0:1:0:0:0:5', 'fd00:0:0:1::5'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'],
      ['2001:DB8::A', '2001:db8::a'],
    ];
    for (const [input, want] of cases) expect(formatAddress(parseAddress(input)!)).toBe(want);
  });
  it('is the form Node (like the kernel) prints, for any address', () => {
    // new URL() canonicalises IPv6 hosts by RFC 5952 (WHATWG URL serializer).
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }), (groups) => {
        const text = groups.map((g) => g.toString(16)).join(':');
        const canonical = new URL(`http://[${text}]/`).hostname.slice(1, -1);
        const mine = formatAddress(parseAddress(text)!);
        expect(isIPv6(mine)).toBe(true);
        expect(mine).toBe(canonical);
      }),
      { numRuns: 2000 },
    );
  });
});
