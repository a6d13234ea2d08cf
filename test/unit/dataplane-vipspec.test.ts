// A VIP as users write it → VipSpec: defaults, the cluster MAC derived from the VIP, and every
// refusal naming its field (and the file/line it came from) before anything touches a kernel.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseVipSpec, vipCidr } from '../../src/dataplane/vipspec.js';
import { isMulticastMac, multicastMacFor, parseMac } from '../../src/dataplane/mac.js';
import { InputError } from '../../src/errors.js';
import { parseAddress } from '../../src/hash/flow.js';

const base = { address: '198.18.0.100/24', interface: 'eth0' };

/** The InputError parseVipSpec throws for this input, as `field: message`. */
function refusal(input: Record<string, unknown>, where = {}): string {
  try {
    parseVipSpec(input as never, where);
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as InputError).describe();
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('cluster MAC', () => {
  it('derives 01:00:5e + the low 23 bits of an IPv4 VIP, 33:33 + the low 32 bits of an IPv6 one', () => {
    expect(multicastMacFor(parseAddress('198.18.0.100')!)).toBe('01:00:5e:12:00:64');
    expect(multicastMacFor(parseAddress('10.200.1.2')!)).toBe('01:00:5e:48:01:02');
    expect(multicastMacFor(parseAddress('2001:db8::100')!)).toBe('33:33:00:00:01:00');
  });

  it("is always a multicast MAC carrying the VIP's low 23 bits", () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const mac = multicastMacFor(parseAddress(ip)!);
        const b = parseAddress(ip)!.bytes;
        const m = mac.split(':').map((h) => parseInt(h, 16));
        return isMulticastMac(mac) && mac.startsWith('01:00:5e:') && m[3] === (b[1] & 0x7f) && m[4] === b[2] && m[5] === b[3];
      }),
    );
  });

  it('normalises the ways people write MACs, and tells group from individual addresses', () => {
    expect(parseMac('01-00-5E-AA-BB-CC')).toBe('01:00:5e:aa:bb:cc');
    expect(parseMac(' 03:00:00:00:00:01 ')).toBe('03:00:00:00:00:01');
    for (const bad of ['01:00:5e:aa:bb', '01:00:5e:aa:bb:cc:dd', 'zz:00:5e:aa:bb:cc', '']) expect(parseMac(bad)).toBeUndefined();
    expect(isMulticastMac('01:00:5e:00:00:01')).toBe(true);
    expect(isMulticastMac('00:00:5e:00:00:01')).toBe(false);
    expect(isMulticastMac('02:00:00:00:00:01')).toBe(false);
  });
});

describe('parseVipSpec', () => {
  it("fills in the defaults: nft's 256 buckets, sourceip-sourceport, the derived MAC, a seed every node derives alike", () => {
    const v = parseVipSpec(base);
    expect(v).toMatchObject({ prefixLength: 24, interface: 'eth0', mac: '01:00:5e:12:00:64', hashmode: 'sourceip-sourceport', buckets: 256, backend: 'auto' });
    expect(vipCidr(v)).toBe('198.18.0.100/24');
    expect(parseVipSpec(base).seed).toBe(v.seed);
    expect(parseVipSpec({ ...base, address: '198.18.0.101/24' }).seed).not.toBe(v.seed);
    expect(parseVipSpec({ ...base, backend: 'clusterip' }).buckets).toBe(16);
    expect(parseVipSpec({ ...base, backend: 'xt_cluster', hashmode: 'sourceip' }).buckets).toBe(32);
  });

  it('takes explicit values as written', () => {
    const v = parseVipSpec({ ...base, mac: '01:00:5E:01:02:03', hashmode: 'sourceip', seed: '0x1234', buckets: '1024', backend: 'nft' });
    expect(v).toMatchObject({ mac: '01:00:5e:01:02:03', hashmode: 'sourceip', seed: 0x1234, buckets: 1024, backend: 'nft' });
    expect(parseVipSpec({ ...base, seed: 4294967295 }).seed).toBe(0xffffffff);
    expect(parseVipSpec({ ...base, address: '2001:db8::100/64', backend: 'nft' }).address.family).toBe(6);
    expect(parseVipSpec({ ...base, backend: 'nft', fwmark: '0x10' }).fwmark).toBe(16);
    expect(parseVipSpec({ ...base, backend: 'nft' }).fwmark).toBeUndefined();
  });

  it('refuses each bad field by name, with the place it came from', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, address: '198.18.0.100' }, /^address: '198\.18\.0\.100' has no prefix length/],
      [{ ...base, address: undefined }, /^address: a VIP address is required/],
      [{ ...base, address: '198.18.0.300/24' }, /^address: '198\.18\.0\.300' is not an IP address/],
      [{ ...base, address: '198.18.0.100/33' }, /^address: prefix \/33 is too long for IPv4/],
      [{ ...base, address: '2001:db8::1/129' }, /^address: prefix \/129 is too long for IPv6/],
      [{ ...base, interface: '' }, /^interface: an interface is required/],
      [{ ...base, interface: 'a-very-long-interface-name' }, /^interface: .* is not an interface name/],
      [{ ...base, backend: 'ipvs' }, /^backend: 'ipvs' is not a backend/],
      [{ ...base, mac: '00:11:22:33:44:55' }, /^mac: 00:11:22:33:44:55 is a unicast MAC/],
      [{ ...base, mac: 'nope' }, /^mac: 'nope' is not a MAC address/],
      [{ ...base, hashmode: 'destip' }, /^hashmode: 'destip' is not a hashmode/],
      [{ ...base, seed: '0x100000000' }, /^seed: /],
      [{ ...base, seed: -1 }, /^seed: /],
      [{ ...base, buckets: 0 }, /^buckets: '0' is not a positive bucket count/],
      [{ ...base, buckets: 1025 }, /^buckets: 1025 is out of range 1\.\.1024 for nft/],
      [{ ...base, backend: 'clusterip', buckets: 17 }, /^buckets: 17 is out of range 1\.\.16 for clusterip/],
      [{ ...base, backend: 'xt_cluster', buckets: 33, hashmode: 'sourceip' }, /^buckets: 33 is out of range 1\.\.32 for xt_cluster/],
      [{ ...base, backend: 'xt_cluster' }, /^hashmode: xt_cluster cannot hash sourceip-sourceport/],
      [{ ...base, address: '2001:db8::100/64', backend: 'clusterip', buckets: 3 }, /^backend: CLUSTERIP has no IPv6/],
      [{ ...base, backend: 'nft', fwmark: 0 }, /^fwmark: '0' is not a firewall mark/],
      [{ ...base, backend: 'nft', fwmark: 'x' }, /^fwmark: 'x' is not a firewall mark/],
      [{ ...base, backend: 'xt_cluster', hashmode: 'sourceip', fwmark: 1 }, /^fwmark: fwmark needs the nft backend/],
    ];
    for (const [input, message] of cases) expect(refusal(input), JSON.stringify(input)).toMatch(message);
    expect(refusal({ ...base, mac: '00:11:22:33:44:55' }, { file: 'cluster.yaml', line: 12, field: 'vips[0]' })).toMatch(
      /^cluster\.yaml:12: vips\[0\]\.mac: 00:11:22:33:44:55 is a unicast MAC/,
    );
  });
});
