// Pure parts of the bucket leases, the bucket count read back from the kernel, CLUSTERIP's rule
// fields compared whole, and `auto` resolved as the dataplane resolves it.
import { describe, expect, it } from 'vitest';
import { resolveMechanism } from '../../src/dataplane/backend.js';
import { createDataplane } from '../../src/dataplane/index.js';
import { clusteripRuleSpec, findClusteripRule, planClusterip, ruleFields, ruleMatches, ruleTotalNodes } from '../../src/dataplane/clusterip.js';
import { planNft, renderOwnership, renderVipTables } from '../../src/dataplane/nft.js';
import { parseTableState } from '../../src/dataplane/nft-state.js';
import { leaseToWrite } from '../../src/dataplane/types.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { totalFromRules } from '../../src/dataplane/xtcluster.js';

const vip = (extra: Record<string, unknown> = {}) =>
  parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', seed: '0x1234', backend: 'nft', ...extra } as never);
const own = (owned: number[], extra: { incoming?: number[]; draining?: number[] } = {}) => ({ owned, incoming: [], draining: [], ...extra });

describe('nft bucket leases', () => {
  it('writes what is left of a lease when the write comes after the grant, never more than granted, never none', () => {
    let now = 1000;
    const lease = { ms: 240, left: () => 240 - (now - 1000) };
    now = 1090; // the table read back took 90 ms
    expect(leaseToWrite(lease)).toEqual({ ms: 150 });
    now = 1500;
    expect(leaseToWrite(lease)).toEqual({ ms: 1 });
    now = 900;
    expect(leaseToWrite(lease)).toEqual({ ms: 240 });
    expect(leaseToWrite({ ms: 300 })).toEqual({ ms: 300 });
    expect(leaseToWrite(undefined)).toBeUndefined();
  });

  it('gives every element of a leased ownership the timeout, in the table and in the map replacement', () => {
    const v = vip({ buckets: 8 });
    expect(renderOwnership(v, own([1, 3], { draining: [2] }), { ms: 400 })).toBe(
      'flush map ip aavip_198_18_0_100 buckets\n' +
        'add element ip aavip_198_18_0_100 buckets { 1 timeout 400ms : goto own, 2 timeout 400ms : goto draining, 3 timeout 400ms : goto own }\n',
    );
    expect(renderVipTables(v, own([1]), undefined, { ms: 2500 })).toContain('elements = { 1 timeout 2500ms : goto own }');
    // The map accepts leased elements and unleased ones alike.
    expect(renderVipTables(v, own([1]))).toMatch(/map buckets \{\n {4}typeof numgen inc mod 2 : verdict\n {4}flags timeout\n/);
    expect(() => renderOwnership(v, own([1]), { ms: 0 })).toThrow(/whole number of milliseconds/);
    expect(() => renderOwnership(v, own([1]), { ms: 1.5 })).toThrow(/whole number of milliseconds/);
  });

  it('does not declare the bucket map with typeof jhash, which nft 1.0.6 crashes listing', () => {
    expect(renderVipTables(vip(), own([1]))).not.toMatch(/typeof jhash/);
  });

  it('renews an unchanged leased ownership on every apply, and lifts a lease when applied without one', () => {
    const v = vip({ buckets: 8 });
    const signature = planNft(v, own([1]), undefined).match(/aavip:([0-9a-f]+)/)![1];
    const plain = { signature, ownership: own([1, 2]), arp: true };
    expect(planNft(v, own([1, 2]), plain)).toBe('');
    expect(planNft(v, own([1, 2]), plain, undefined, { ms: 900 })).toBe(renderOwnership(v, own([1, 2]), { ms: 900 }));
    expect(planNft(v, own([1, 2]), { ...plain, leased: true })).toBe(renderOwnership(v, own([1, 2])));
  });

  it('reads leased elements (listed as objects) and the bucket count from nft -j', () => {
    const json = {
      nftables: [
        {
          map: {
            name: 'buckets',
            flags: ['timeout'],
            elem: [
              [{ elem: { val: 3, timeout: 0, expires: 0 } }, { goto: { target: 'own' } }],
              [5, { goto: { target: 'incoming' } }],
            ],
          },
        },
        { rule: { chain: 'prerouting', comment: 'aavip:abc' } },
        {
          rule: {
            chain: 'vip',
            expr: [
              { match: { op: '==', left: { ct: { key: 'protocol', dir: 'original' } }, right: 'tcp' } },
              { vmap: { key: { jhash: { mod: 2, seed: 4660, offset: 1, expr: { ct: { key: 'saddr' } } } }, data: '@buckets' } },
            ],
          },
        },
      ],
    };
    expect(parseTableState(json)).toEqual({ signature: 'abc', ownership: own([3], { incoming: [5] }), leased: true, buckets: 2, arp: false });
  });
});

describe('which backends lease', () => {
  it('nft does; clusterip and xt_cluster cannot lapse, and renew says so without touching the kernel', async () => {
    expect((await createDataplane('nft')).leases).toBe(true);
    for (const backend of ['clusterip', 'xt_cluster'] as const) {
      const dp = await createDataplane(backend);
      expect(dp.leases).toBe(false);
      expect(await dp.renew(vip({ backend, buckets: 3, hashmode: 'sourceip' }), own([1]), 400)).toBe(false);
    }
  });
});

describe('CLUSTERIP rules compared field by field', () => {
  const v1 = vip({ backend: 'clusterip', buckets: 1, seed: 1 });
  const printed = (spec: ReturnType<typeof vip>, iface = 'eth0') => `-A ${clusteripRuleSpec({ ...spec, interface: iface }, 1).join(' ')}`;

  it('does not take --total-nodes 16 (or --hash-init 12) for 1', () => {
    const sixteen = printed(vip({ backend: 'clusterip', buckets: 16, seed: 1 }));
    const seed12 = printed(vip({ backend: 'clusterip', buckets: 1, seed: 12 }));
    expect(sixteen).toContain('--total-nodes 16');
    expect(ruleMatches(v1, sixteen)).toBe(false);
    expect(ruleMatches(v1, seed12)).toBe(false);
    expect(ruleMatches(v1, printed(v1))).toBe(true);
    // So the plan rebuilds a 16-bucket rule for a 1-bucket VIP instead of adopting it.
    expect(planClusterip(v1, [1], { rule: sixteen, localNodes: [1] }).commands[0][0]).toBe('-D');
  });

  it('does not take eth10 for eth1', () => {
    const onEth1 = { ...v1, interface: 'eth1' };
    const listing = ['-P INPUT ACCEPT', printed(v1, 'eth10')].join('\n');
    expect(findClusteripRule(onEth1, listing)).toBeUndefined();
    expect(findClusteripRule({ ...v1, interface: 'eth10' }, listing)).toBe(printed(v1, 'eth10'));
    // Nor a rule for another address that merely contains this one's text.
    expect(findClusteripRule(vip({ backend: 'clusterip', address: '198.18.0.10/24', buckets: 1, seed: 1 }), listing)).toBeUndefined();
  });

  it('parses options with their values, flags and negations', () => {
    const f = ruleFields('-A INPUT -d 198.18.0.100/32 ! -i eth0 -j CLUSTERIP --new --total-nodes 3');
    expect(Object.fromEntries(f)).toEqual({
      '-A': ['INPUT'],
      '-d': ['198.18.0.100/32'],
      '!-i': ['eth0'],
      '-j': ['CLUSTERIP'],
      '--new': [],
      '--total-nodes': ['3'],
    });
    expect(ruleTotalNodes('-A INPUT -j CLUSTERIP --total-nodes 16 --local-node 1')).toBe(16);
  });
});

describe('the bucket count of an xt_cluster chain', () => {
  it("is the rules' --cluster-total-nodes, if they agree", () => {
    const r = (t: number) => `-A X -m cluster --cluster-local-nodemask 0x00000001 --cluster-total-nodes ${t} --cluster-hash-seed 0x00001234 -j ACCEPT`;
    expect(totalFromRules([r(3), r(3), '-A X -j DROP'])).toBe(3);
    expect(totalFromRules(['-A X -j DROP'])).toBeUndefined();
    expect(totalFromRules([r(3), r(30)])).toBeUndefined();
  });
});

describe('auto, as the dataplane resolves it', () => {
  it("is nft where the kernel has nf_tables jhash, else CLUSTERIP, and the spec takes that mechanism's defaults and limits", () => {
    expect(resolveMechanism('auto', { nftJhash: true })).toBe('nft');
    expect(resolveMechanism('auto', { nftJhash: false })).toBe('clusterip');
    expect(resolveMechanism('xt_cluster', { nftJhash: false })).toBe('xt_cluster');
    const old = { nftJhash: false };
    const base = { address: '198.18.0.100/24', interface: 'eth0' };
    expect(parseVipSpec(base, {}, old)).toMatchObject({ backend: 'auto', buckets: 16 });
    expect(() => parseVipSpec({ ...base, buckets: 64 }, {}, old)).toThrow(/64 is out of range 1\.\.16 for clusterip/);
    expect(() => parseVipSpec({ ...base, address: '2001:db8::100/64' }, {}, old)).toThrow(/CLUSTERIP has no IPv6/);
    expect(parseVipSpec(base, {}, { nftJhash: true }).buckets).toBe(256);
  });
});
