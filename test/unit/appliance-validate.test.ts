// The appliance's combined validation on parsed configurations: which ldirectord.cf virtual
// services the active/active appliance serves, which it refuses (with file:line) and which it warns of.
import { describe, expect, it } from 'vitest';
import { NAT_REFUSED, validateAppliance } from '../../src/appliance/validate.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';

const cluster = {
  name: 'web',
  vips: [parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0' }, {}), parseVipSpec({ address: '2001:db8::100/64', interface: 'eth0' }, {})],
};
const check = (text: string) => validateAppliance(cluster, parseLdirectordConfig(text, '/etc/ha.d/ldirectord.cf', { hostname: 'director' }));
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('appliance validation', () => {
  it('refuses masq on a VIP naming the ldirectord.cf line and field, with why and what to use', () => {
    const text = 'checktimeout=2\nvirtual=198.18.0.100:80\n\treal=198.18.1.1:80 gate\n\treal=198.18.1.2:80 masq\n\tservice=http\n';
    const { errors, warnings } = check(text);
    expect(errors.map((e) => e.describe())).toEqual([
      `/etc/ha.d/ldirectord.cf:${lineOf(text, 'masq')}: real: tcp:198.18.0.100:80: real 198.18.1.2:80 uses masq: ${NAT_REFUSED}`,
    ]);
    expect(NAT_REFUSED).toContain('use gate or ipip');
    expect(warnings).toEqual([]);
  });

  it('refuses every masq real of every VIP service, and a masq fallback (its own or the global one)', () => {
    const text = [
      'fallback=198.18.1.9:80 masq',
      'virtual=198.18.0.100:80',
      '\treal=198.18.1.1:80 masq',
      'virtual=198.18.0.100:443',
      '\treal=198.18.1.1:443 ipip',
      '\tfallback=198.18.1.8:443 masq',
      'virtual6=[2001:db8::100]:80',
      '\treal6=[2001:db8:1::1]:80 masq',
      '',
    ].join('\n');
    const places = check(text).errors.map((e) => [e.where.line, e.where.field]);
    expect(places).toEqual([
      [3, 'real'],
      [1, 'fallback'],
      [6, 'fallback'],
      [8, 'real'],
    ]);
  });

  it('accepts gate and ipip services on IPv4 and IPv6 VIPs, and firewall-mark services', () => {
    const text = [
      'virtual=198.18.0.100:80',
      '\treal=198.18.1.1:80 gate',
      '\treal=198.18.1.2:80 ipip',
      '\tfallback=198.18.1.9:80',
      'virtual6=[2001:0db8:0::0100]:80',
      '\treal6=[2001:db8:1::1]:80 gate',
      'virtual=42',
      '\treal=198.18.1.1 gate',
      '',
    ].join('\n');
    expect(check(text)).toEqual({ errors: [], warnings: [] });
  });

  it('warns of (not refuses) a service on an address that is not a VIP, even with masq', () => {
    const text = 'virtual=198.18.5.5:80\n\treal=198.18.1.1:80 masq\n';
    const { errors, warnings } = check(text);
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ file: '/etc/ha.d/ldirectord.cf', line: 1 });
    expect(warnings[0].message).toMatch(/^tcp:198\.18\.5\.5:80 is not on a VIP of cluster web \(198\.18\.0\.100, 2001:db8::100\)/);
  });

  it('warns of masq in a firewall-mark service (the mark may select VIP traffic)', () => {
    const { errors, warnings } = check('virtual=7\n\treal=198.18.1.1 masq\n');
    expect(errors).toEqual([]);
    expect(warnings.map((w) => w.line)).toEqual([2]);
  });

  it("treats a firewall-mark service on a VIP's fwmark as that VIP's: masq refused at its line", () => {
    const marked = { name: 'web', vips: [parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', backend: 'nft', fwmark: 7 }, {})] };
    const text = 'virtual=7\n\treal=198.18.1.1 gate\n\treal=198.18.1.2 masq\nvirtual=8\n\treal=198.18.1.2 masq\n';
    const { errors, warnings } = validateAppliance(marked, parseLdirectordConfig(text, '/etc/ha.d/ldirectord.cf', { hostname: 'director' }));
    expect(errors.map((e) => [e.where.line, e.where.field])).toEqual([[3, 'real']]);
    expect(warnings.map((w) => w.line)).toEqual([5]);
  });
});
