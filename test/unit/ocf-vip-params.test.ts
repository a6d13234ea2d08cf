// The pure core of ocf:aavip:vip: parameters and defaults, which buckets an instance serves,
// IPaddr2's interface lookup, and how one instance's start/stop leaves the others' buckets alone.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAddress } from '../../src/hash/flow.js';
import { cloneInstance, isTrue, OCF, OcfError, readParameters, renderMetaData } from '../../src/ocf/ocf.js';
import { addToAddress, findInterface, parseNetmask, serves, VIP_AGENT, vipInstance, withBuckets } from '../../src/ocf/vip-params.js';

const params = (over: Record<string, string> = {}) =>
  readParameters(
    VIP_AGENT,
    Object.fromEntries(Object.entries({ ip: '198.18.0.100', cidr_netmask: '24', nic: 'eth0', ...over }).map(([k, v]) => [`OCF_RESKEY_${k}`, v])),
  );
const clone = (n: number, max = 3, globallyUnique = true) => ({ clone: n, cloneMax: max, globallyUnique });
const reasonOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof OcfError ? `${e.code} ${e.message}` : String(e);
  }
  return 'no error';
};

describe('ocf:aavip:vip parameters', () => {
  it("takes IPaddr2's defaults when a parameter is unset or empty", () => {
    const p = params({ mac: '' });
    expect(p).toMatchObject({
      mac: 'auto',
      clusterip_hash: 'sourceip-sourceport',
      clusterip_hash_seed: 'auto',
      unique_clone_address: 'false',
      arp_count: '5',
      backend: 'auto',
      buckets: '',
    });
  });

  it('gives instance N bucket N+1 of clone-max, and every bucket when not cloned', () => {
    for (const n of [0, 1, 2]) {
      const i = vipInstance(params(), clone(n));
      expect(i.buckets).toEqual([n + 1]);
      expect(i.vip).toMatchObject({ address: '198.18.0.100/24', interface: 'eth0', buckets: 3, hashmode: 'sourceip-sourceport', seed: 'auto', mac: 'auto' });
    }
    expect(vipInstance(params(), undefined).buckets).toEqual([1]);
    expect(vipInstance(params({ buckets: '4' }), undefined).buckets).toEqual([1, 2, 3, 4]);
  });

  it('spreads more buckets than instances round-robin, each bucket to exactly one instance', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 32 }), fc.integer({ min: 0, max: 64 }), (max, extra) => {
        const buckets = max + extra;
        const all = Array.from({ length: max }, (_, n) => vipInstance(params({ buckets: String(buckets) }), clone(n, max)).buckets)
          .flat()
          .sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: buckets }, (_, i) => i + 1));
      }),
    );
    expect(vipInstance(params({ buckets: '7' }), clone(0)).buckets).toEqual([1, 4, 7]);
    expect(reasonOf(() => vipInstance(params({ buckets: '2' }), clone(0)))).toMatch(/^6 buckets: 2 buckets cannot be shared by clone-max=3/);
  });

  it('gives each instance ip+N of its own with unique_clone_address, and only for globally unique clones', () => {
    const i = vipInstance(params({ unique_clone_address: 'true' }), clone(2));
    expect(i.vip.address).toBe('198.18.0.102/24');
    expect(i.buckets).toEqual([1]);
    expect(vipInstance(params({ ip: '2001:db8::ffff', cidr_netmask: '64', unique_clone_address: 'yes' }), clone(1)).vip.address).toBe('2001:db8::1:0/64');
    expect(reasonOf(() => vipInstance(params({ unique_clone_address: 'true' }), clone(1, 3, false)))).toMatch(/^6 unique_clone_address: /);
    expect(reasonOf(() => addToAddress(parseAddress('255.255.255.255')!, 1))).toMatch(/^6 ip: /);
  });

  it('names the parameter in every configuration error', () => {
    expect(reasonOf(() => vipInstance(params({ ip: '' }), undefined))).toMatch(/^6 ip: /);
    expect(reasonOf(() => vipInstance(params({ ip: '198.18.0.300' }), undefined))).toMatch(/^6 ip: /);
    expect(reasonOf(() => vipInstance(params({ cidr_netmask: '33' }), undefined))).toMatch(/^6 cidr_netmask: /);
    expect(reasonOf(() => vipInstance(params({ cidr_netmask: '255.0.255.0' }), undefined))).toMatch(/^6 cidr_netmask: /);
    expect(reasonOf(() => vipInstance(params({ buckets: 'x' }), undefined))).toMatch(/^6 buckets: /);
    expect(reasonOf(() => vipInstance(params({ arp_count: '-1' }), undefined))).toMatch(/^6 arp_count: /);
    expect(reasonOf(() => vipInstance(params({ nic: '', cidr_netmask: '' }), undefined))).toMatch(
      /^6 nic: no directly connected route contains 198\.18\.0\.100/,
    );
  });

  it('checks every numeric parameter for range: a configuration error (6) naming it, never a crash', () => {
    // 2^32 buckets used to reach Array.from and end the agent with a RangeError (exit 1).
    expect(reasonOf(() => vipInstance(params({ buckets: '4294967296' }), undefined))).toBe('6 buckets: 4294967296 is out of range 1..1024');
    expect(reasonOf(() => vipInstance(params({ buckets: '4294967296' }), clone(0)))).toBe('6 buckets: 4294967296 is out of range 1..1024');
    expect(reasonOf(() => vipInstance(params({ buckets: '0' }), undefined))).toBe('6 buckets: 0 is out of range 1..1024');
    expect(reasonOf(() => vipInstance(params({ buckets: '0x10' }), undefined))).toBe("6 buckets: '0x10' is not a whole number");
    expect(reasonOf(() => vipInstance(params({ buckets: '1e3' }), undefined))).toBe("6 buckets: '1e3' is not a whole number");
    expect(reasonOf(() => vipInstance(params({ arp_count: '4294967296' }), undefined))).toBe('6 arp_count: 4294967296 is out of range 0..100');
    expect(reasonOf(() => vipInstance(params({ cidr_netmask: '4294967296' }), undefined))).toMatch(/^6 cidr_netmask: /);
    // Buckets default to clone-max: a huge clone-max must not build a huge bucket list either.
    expect(reasonOf(() => vipInstance(params(), clone(0, 60000)))).toBe(
      '6 buckets: clone-max=60000 instances need as many buckets, and there are at most 1024',
    );
    expect(vipInstance(params({ buckets: '1024' }), clone(1, 1000)).buckets).toEqual([2, 1002]);
    const meta =
      (clone: string, max: string, nodeMax = '1') =>
      () =>
        cloneInstance({ OCF_RESKEY_CRM_meta_clone: clone, OCF_RESKEY_CRM_meta_clone_max: max, OCF_RESKEY_CRM_meta_clone_node_max: nodeMax });
    expect(reasonOf(meta('0', '4294967296'))).toBe('6 clone-max: 4294967296 is out of range 1..65536');
    expect(reasonOf(meta('1.5', '3'))).toBe("6 clone: '1.5' is not a whole number");
    expect(reasonOf(meta('0', '3', 'lots'))).toBe("6 clone-node-max: 'lots' is not a whole number");
    expect(meta('65535', '65536')()).toMatchObject({ clone: 65535, cloneMax: 65536 });
  });

  it('accepts a dotted netmask for IPv4', () => {
    expect(parseNetmask('255.255.252.0', 4)).toBe(22);
    expect(parseNetmask('255.255.255.255', 4)).toBe(32);
    expect(parseNetmask('0.0.0.0', 4)).toBe(0);
    expect(parseNetmask('255.255.255.0', 6)).toBeUndefined();
    expect(parseNetmask('64', 6)).toBe(64);
  });

  it('finds the interface and prefix as IPaddr2 does: the most specific connected route', () => {
    const routes = [
      { dst: 'default', gateway: '198.18.0.1', dev: 'eth0' },
      { dst: '198.18.0.0/15', dev: 'eth0', scope: 'link' },
      { dst: '198.18.0.0/24', dev: 'eth1', scope: 'link' },
      { dst: '198.19.0.0/16', gateway: '198.18.0.1', dev: 'eth0' },
      { dst: '198.18.0.100', dev: 'eth2', scope: 'link' },
    ];
    expect(findInterface(routes, parseAddress('198.18.0.100')!)).toEqual({ nic: 'eth1', prefixLength: 24 });
    expect(findInterface(routes, parseAddress('198.18.0.100')!, 'eth0')).toEqual({ nic: 'eth0', prefixLength: 15 });
    expect(findInterface(routes, parseAddress('198.20.0.5')!)).toBeUndefined();
    expect(findInterface([{ dst: '2001:db8::/64', dev: 'eth0' }], parseAddress('2001:db8::100')!)).toEqual({ nic: 'eth0', prefixLength: 64 });
    const found = vipInstance(params({ nic: '', cidr_netmask: '' }), undefined, findInterface(routes, parseAddress('198.18.0.100')!));
    expect(found.vip).toMatchObject({ address: '198.18.0.100/24', interface: 'eth1' });
  });
});

describe("one instance's start and stop", () => {
  it('add and remove only its own buckets, whatever the node holds', () => {
    const bucketSet = fc.uniqueArray(fc.integer({ min: 1, max: 16 }), { maxLength: 16 });
    fc.assert(
      fc.property(bucketSet, bucketSet, (held, mine) => {
        const others = held.filter((b) => !mine.includes(b));
        const current = { owned: held.filter((b) => b % 3 !== 0), incoming: held.filter((b) => b % 3 === 0), draining: [] };
        const started = withBuckets(current, mine, 'add');
        expect(serves(started, mine)).toBe(true);
        for (const b of others) expect(serves(started, [b])).toBe(true);
        const stopped = withBuckets(started, mine, 'remove');
        expect([...stopped.owned, ...stopped.incoming].sort((a, b) => a - b)).toEqual([...others].sort((a, b) => a - b));
      }),
    );
    expect(serves(undefined, [1])).toBe(false);
  });
});

describe('OCF basics', () => {
  it('reads the clone instance Pacemaker passes, and refuses a nonsense one', () => {
    expect(cloneInstance({})).toBeUndefined();
    expect(
      cloneInstance({
        OCF_RESKEY_CRM_meta_clone: '2',
        OCF_RESKEY_CRM_meta_clone_max: '3',
        OCF_RESKEY_CRM_meta_clone_node_max: '3',
        OCF_RESKEY_CRM_meta_globally_unique: 'true',
      }),
    ).toEqual({ clone: 2, cloneMax: 3, cloneNodeMax: 3, globallyUnique: true });
    expect(() => cloneInstance({ OCF_RESKEY_CRM_meta_clone: '3', OCF_RESKEY_CRM_meta_clone_max: '3' })).toThrow(OcfError);
    expect(OCF.NOT_RUNNING).toBe(7);
  });

  it('reads booleans as ocf_is_true does', () => {
    for (const t of ['yes', 'true', '1', 'on', 'YES', 'True']) expect(isTrue(t)).toBe(true);
    for (const f of ['no', 'false', '0', 'off', '', undefined]) expect(isTrue(f)).toBe(false);
  });

  it('renders meta-data that escapes text and is valid against the OCF RA API DTD', () => {
    const xml = renderMetaData({ ...VIP_AGENT, shortdesc: 'a <b> & "c"' });
    expect(xml).toContain('a &lt;b&gt; &amp; &quot;c&quot;');
    for (const p of VIP_AGENT.parameters) expect(xml).toContain(`<parameter name="${p.name}"`);
    const dtd = '/usr/share/resource-agents/ra-api-1.dtd';
    if (!existsSync(dtd)) return; // the resource-agents package is not installed on this machine
    const v = spawnSync('xmllint', ['--noout', '--dtdvalid', dtd, '-'], { input: xml, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  });
});
