// What the backends would tell the kernel, as pure plans: the exact iptables-legacy CLUSTERIP rule
// and /proc writes, the xt_cluster chain, and the nft table built from the one hashmode layout.
import { describe, expect, it } from 'vitest';
import { planClusterip, planClusteripRemove, clusteripRuleSpec } from '../../src/dataplane/clusterip.js';
import { planNft, renderVipTables } from '../../src/dataplane/nft.js';
import { parseTableState } from '../../src/dataplane/nft-state.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { planXt, planXtRemove, renderXtChain, servedFromRules, xtChainName, xtJumpRule, xtRules } from '../../src/dataplane/xtcluster.js';
import { InputError } from '../../src/errors.js';

const vip = (extra: Record<string, unknown> = {}) => parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', seed: '0x1234', ...extra } as never);

describe('clusterip backend plan', () => {
  const v = vip({ backend: 'clusterip', buckets: 3, hashmode: 'sourceip-sourceport' });

  it('creates the rule with the first bucket, then adds the others through /proc', () => {
    const p = planClusterip(v, [1, 3], { localNodes: [] });
    expect(p.commands).toEqual([
      [
        '-I',
        'INPUT',
        '-d',
        '198.18.0.100/32',
        '-i',
        'eth0',
        '-j',
        'CLUSTERIP',
        '--new',
        '--hashmode',
        'sourceip-sourceport',
        '--clustermac',
        '01:00:5E:12:00:64',
        '--total-nodes',
        '3',
        '--local-node',
        '1',
        '--hash-init',
        '4660',
      ],
    ]);
    expect(p.procWrites).toEqual(['+3']);
  });

  it('moves buckets with /proc writes only, and changes nothing when nothing changes', () => {
    const rule = `-A ${clusteripRuleSpec(v, 1).join(' ')}`;
    expect(planClusterip(v, [2, 3], { rule, localNodes: [1, 3] })).toEqual({ commands: [], procWrites: ['+2', '-1'] });
    expect(planClusterip(v, [1, 3], { rule, localNodes: [1, 3] })).toEqual({ commands: [], procWrites: [] });
  });

  it('rebuilds a rule made for other parameters, and removes exactly its own rule', () => {
    const other = `-A ${clusteripRuleSpec(vip({ backend: 'clusterip', buckets: 4 }), 1).join(' ')}`;
    const p = planClusterip(v, [2], { rule: other, localNodes: [1] });
    expect(p.commands[0][0]).toBe('-D');
    expect(p.commands[1]).toContain('--total-nodes');
    expect(p.commands[1][p.commands[1].indexOf('--local-node') + 1]).toBe('2');
    expect(planClusteripRemove(v, { rule: other, localNodes: [] }).commands).toEqual([['-D', ...other.split(' ').slice(1)]]);
  });

  it('refuses more than 16 buckets and IPv6', () => {
    expect(() => vip({ backend: 'clusterip', buckets: 17 })).toThrow(InputError);
    expect(() => parseVipSpec({ address: '2001:db8::1/64', interface: 'eth0', backend: 'clusterip', buckets: 3 })).toThrow(/IPv6/);
  });
});

describe('xt_cluster backend plan', () => {
  const v = vip({ backend: 'xt_cluster', buckets: 3, hashmode: 'sourceip' });

  it('writes one ACCEPT per served bucket, then a DROP, replacing the chain in one restore', () => {
    const text = renderXtChain(v, [1, 3]);
    const chain = text.split('\n')[1].slice(1).split(' ')[0];
    expect(text.split('\n')).toEqual([
      '*mangle',
      `:${chain} - [0:0]`,
      `-A ${chain} -m cluster --cluster-total-nodes 3 --cluster-local-node 1 --cluster-hash-seed 0x1234 -j ACCEPT`,
      `-A ${chain} -m cluster --cluster-total-nodes 3 --cluster-local-node 3 --cluster-hash-seed 0x1234 -j ACCEPT`,
      `-A ${chain} -j DROP`,
      'COMMIT',
      '',
    ]);
    expect(xtJumpRule(v)).toEqual(['PREROUTING', '-d', '198.18.0.100/32', '-i', 'eth0', '-m', 'comment', '--comment', 'aavip', '-j', chain]);
  });

  it('reads served buckets back from iptables -S (which prints masks)', () => {
    expect(
      servedFromRules([
        '-A X -m cluster --cluster-local-nodemask 0x00000001 --cluster-total-nodes 3 -j ACCEPT',
        '-A X -m cluster --cluster-local-nodemask 0x00000004 --cluster-total-nodes 3 -j ACCEPT',
        '-A X -j DROP',
      ]),
    ).toEqual([1, 3]);
  });

  it('plans the chain and the jump only where the kernel differs, with the variant that holds the chain', () => {
    const chain = xtChainName(v);
    const empty = { bin: 'iptables-legacy', chain: false, jump: false, rules: [] };
    expect(planXt(v, [3, 1], empty)).toEqual({
      bin: 'iptables-legacy',
      restore: renderXtChain(v, [1, 3]),
      commands: [['-t', 'mangle', '-I', 'PREROUTING', '-d', '198.18.0.100/32', '-i', 'eth0', '-m', 'comment', '--comment', 'aavip', '-j', chain]],
    });
    // As `iptables -S` prints the chain back: masks, hex seed.
    const printed = [
      `-A ${chain} -m cluster --cluster-local-nodemask 0x00000001 --cluster-total-nodes 3 --cluster-hash-seed 0x00001234 -j ACCEPT`,
      `-A ${chain} -m cluster --cluster-local-nodemask 0x00000004 --cluster-total-nodes 3 --cluster-hash-seed 0x00001234 -j ACCEPT`,
      `-A ${chain} -j DROP`,
    ];
    expect(xtRules(v, [1, 3])).toEqual(printed);
    const current = { bin: 'iptables', chain: true, jump: true, rules: printed };
    expect(planXt(v, [1, 3], current)).toEqual({ bin: 'iptables', commands: [] });
    expect(planXt(v, [1], current)).toEqual({ bin: 'iptables', restore: renderXtChain(v, [1]), commands: [] });
    // Another seed is another hash: the chain is rewritten even though the buckets are the same.
    expect(planXt(vip({ backend: 'xt_cluster', buckets: 3, hashmode: 'sourceip', seed: 7 }), [1, 3], current).restore).toContain('--cluster-hash-seed 0x7 ');
    expect(planXtRemove(v, current).commands).toEqual([
      ['-t', 'mangle', '-D', ...xtJumpRule(v)],
      ['-t', 'mangle', '-F', chain],
      ['-t', 'mangle', '-X', chain],
    ]);
    expect(planXtRemove(v, { ...empty, bin: 'iptables' }).commands).toEqual([]);
  });

  it('refuses hashmodes xt_cluster cannot do', () => {
    expect(() => vip({ backend: 'xt_cluster', buckets: 3, hashmode: 'sourceip-sourceport' })).toThrow(/cannot hash sourceip-sourceport/);
  });
});

describe('nft backend plan', () => {
  it('hashes the conntrack original tuple with the layout of the hashmode, one rule per port protocol', () => {
    const text = renderVipTables(vip({ hashmode: 'sourceip-sourceport-destport', buckets: 256 }), { owned: [1, 2], incoming: [3], draining: [4] });
    expect(text).toContain(
      'ct original protocol tcp jhash ct original ip saddr . ct original proto-src . ct original proto-dst mod 256 seed 0x1234 offset 1 vmap @buckets',
    );
    expect(text).toContain('ct original protocol != { tcp, udp, udplite, sctp, dccp } jhash ct original ip saddr mod 256 seed 0x1234 offset 1 vmap @buckets');
    expect(text).toContain('elements = { 1 : goto own, 2 : goto own, 3 : goto incoming, 4 : goto draining }');
    expect(text).toContain('arp saddr ip 198.18.0.100 arp saddr ether set 01:00:5e:12:00:64');
    expect(text).toContain('meta pkttype set host accept');
  });

  it('changes ownership by replacing the map elements only, and does nothing when nothing changes', () => {
    const v = vip();
    const state = { signature: undefined as string | undefined, ownership: { owned: [1], incoming: [], draining: [] }, arp: true };
    const full = planNft(v, state.ownership, undefined);
    state.signature = full.match(/aavip:([0-9a-f]+)/)![1];
    expect(planNft(v, { owned: [1], incoming: [], draining: [] }, state)).toBe('');
    expect(planNft(v, { owned: [1, 2], incoming: [], draining: [] }, state)).toBe(
      'flush map ip aavip_198_18_0_100 buckets\nadd element ip aavip_198_18_0_100 buckets { 1 : goto own, 2 : goto own }\n',
    );
    expect(planNft(vip({ hashmode: 'sourceip' }), state.ownership, state)).toContain('delete table ip aavip_198_18_0_100');
  });

  it('reads the state back from nft -j', () => {
    const json = {
      nftables: [
        {
          map: {
            name: 'buckets',
            elem: [
              [1, { goto: { target: 'own' } }],
              [7, { goto: { target: 'draining' } }],
            ],
          },
        },
        { rule: { chain: 'prerouting', comment: 'aavip:abc' } },
      ],
    };
    expect(parseTableState(json)).toEqual({ signature: 'abc', ownership: { owned: [1], incoming: [], draining: [7] }, arp: false });
  });
});
