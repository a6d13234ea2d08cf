// The doctor's pure rules: each fires on its bad setting, names it with a fix, and stays quiet on the good one.
import { describe, expect, it } from 'vitest';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { startupRefusal } from '../../src/doctor/doctor.js';
import { diagnose, type DoctorInput, type KernelFacts, type LvsService, RULE_IDS, sysctlName } from '../../src/doctor/rules.js';

const NFT = { nftJhash: true };
const vip = (address: string, backend: string, iface = 'eth0', hashmode?: string) =>
  parseVipSpec({ address, interface: iface, backend, hashmode, buckets: backend === 'nft' ? 256 : 4 }, {}, NFT);

/** A kernel and settings on which every rule is satisfied. */
const goodFacts = (): KernelFacts => ({
  release: '6.1.0-test',
  nft: { nftJhash: true },
  nftRefused: {},
  sysctl: {
    'net/ipv4/conf/all/rp_filter': '0',
    'net/ipv4/conf/eth0/rp_filter': '2',
    'net/ipv4/conf/eth0.100/rp_filter': '0',
    'net/netfilter/nf_conntrack_tcp_loose': '0',
    'net/ipv4/vs/sync_version': '1',
  },
  links: { eth0: { up: true, multicast: true }, 'eth0.100': { up: true, multicast: true } },
  modules: { nf_conntrack: 'present', xt_cluster: 'present', ipt_CLUSTERIP: 'present', ip_vs: 'present', ip_vs_wrr: 'loadable', ip_vs_sh: 'present' },
});

const lvs = (...services: Partial<LvsService>[]): DoctorInput['lvs'] => ({
  file: '/etc/ha.d/ldirectord.cf',
  services: services.map((s, i) => ({ line: 1 + 3 * i, family: 4, protocol: 'tcp', scheduler: 'wrr', ...s })),
});

const ids = (input: DoctorInput, facts: KernelFacts) => diagnose(input, facts).map((f) => f.id);
const only = (input: DoctorInput, facts: KernelFacts) => {
  const found = diagnose(input, facts);
  expect(found).toHaveLength(1);
  return found[0];
};

describe('doctor rules', () => {
  const every: DoctorInput = {
    vips: [vip('198.18.0.100/16', 'nft'), vip('198.18.0.101/16', 'xt_cluster', 'eth0', 'sourceip'), vip('198.18.0.102/16', 'clusterip', 'eth0.100')],
    lvs: lvs({ scheduler: 'wrr' }, { scheduler: 'sh', family: 6 }),
  };

  it('finds nothing on a good kernel with good settings', () => {
    expect(diagnose(every, goodFacts())).toEqual([]);
  });

  it('names strict rp_filter on a VIP interface, whether from all or the interface, with the sysctl fix', () => {
    const input = { vips: [vip('198.18.0.100/16', 'nft')] };
    const own = goodFacts();
    own.sysctl['net/ipv4/conf/eth0/rp_filter'] = '1';
    const f = only(input, own);
    expect(f).toMatchObject({ id: 'rp-filter-strict', severity: 'warning' });
    expect(f.setting).toContain('net.ipv4.conf.eth0.rp_filter=1');
    expect(f.breaks).toMatch(/asymmetric/);
    expect(f.fix).toMatch(/^sysctl -w net\.ipv4\.conf\.eth0\.rp_filter=2/);

    // all=1 with the interface at 0: the larger value (strict) applies.
    const all = goodFacts();
    all.sysctl['net/ipv4/conf/all/rp_filter'] = '1';
    all.sysctl['net/ipv4/conf/eth0/rp_filter'] = '0';
    expect(ids(input, all)).toEqual(['rp-filter-strict']);
    // all=1 with the interface at 2: loose (2) applies.
    all.sysctl['net/ipv4/conf/eth0/rp_filter'] = '2';
    expect(ids(input, all)).toEqual([]);
    // IPv6 VIPs have no rp_filter.
    expect(ids({ vips: [vip('2001:db8::100/64', 'nft')] }, own)).toEqual([]);
  });

  it('writes a VLAN interface in sysctl(8) form', () => {
    expect(sysctlName('net/ipv4/conf/eth0.100/rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter');
  });

  it('names nf_conntrack_tcp_loose=1 with xt_cluster only, also when conntrack is not loaded yet', () => {
    const facts = goodFacts();
    facts.sysctl['net/netfilter/nf_conntrack_tcp_loose'] = '1';
    const f = only({ vips: [vip('198.18.0.101/16', 'xt_cluster', 'eth0', 'sourceip')] }, facts);
    expect(f).toMatchObject({
      id: 'xt-cluster-tcp-loose',
      severity: 'error',
      fix: expect.stringContaining('sysctl -w net.netfilter.nf_conntrack_tcp_loose=0'),
    });
    expect(ids({ vips: [vip('198.18.0.100/16', 'nft')] }, facts)).toEqual([]);
    facts.sysctl['net/netfilter/nf_conntrack_tcp_loose'] = undefined;
    facts.modules.nf_conntrack = 'loadable';
    expect(only({ vips: [vip('198.18.0.101/16', 'xt_cluster', 'eth0', 'sourceip')] }, facts).fix).toMatch(/^modprobe nf_conntrack; sysctl -w/);
  });

  it("names the backend's missing kernel support: CLUSTERIP, xt_cluster, nft jhash, nft refusing the tables", () => {
    const facts = goodFacts();
    facts.modules.ipt_CLUSTERIP = 'absent';
    facts.modules.xt_cluster = 'absent';
    expect(ids(every, facts)).toEqual(['clusterip-missing', 'xt-cluster-missing']);
    expect(diagnose(every, facts)[0].breaks).toMatch(/6\.3/);
    // A loadable module is fine: the backend loads it.
    facts.modules.ipt_CLUSTERIP = 'loadable';
    facts.modules.xt_cluster = 'loadable';
    expect(ids(every, facts)).toEqual([]);

    const noJhash = goodFacts();
    noJhash.nft = { nftJhash: false };
    expect(ids({ vips: [vip('198.18.0.100/16', 'nft')] }, noJhash)).toEqual(['nft-no-jhash']);
    // `auto` without jhash is CLUSTERIP: judged as such.
    noJhash.modules.ipt_CLUSTERIP = 'absent';
    expect(ids({ vips: [vip('198.18.0.100/16', 'auto')] }, noJhash)).toEqual(['clusterip-missing']);

    const refused = goodFacts();
    refused.nftRefused['198.18.0.100/16'] = 'Error: Could not process rule: No such file or directory';
    const f = only({ vips: [vip('198.18.0.100/16', 'nft')] }, refused);
    expect(f).toMatchObject({ id: 'nft-tables-refused', breaks: expect.stringContaining('No such file or directory') });
  });

  it('names IPVS missing only with lvs.config, and each missing scheduler module once, at its line', () => {
    const facts = goodFacts();
    facts.modules.ip_vs = 'absent';
    expect(ids(every, facts)).toEqual(['ipvs-missing']);
    expect(ids({ vips: every.vips }, facts)).toEqual([]);

    const sched = goodFacts();
    sched.modules.ip_vs_sh = 'absent';
    const f = only({ vips: [], lvs: lvs({ scheduler: 'wrr' }, { scheduler: 'sh' }, { scheduler: 'sh' }) }, sched);
    expect(f).toMatchObject({
      id: 'ipvs-scheduler-missing',
      setting: '/etc/ha.d/ldirectord.cf:4: scheduler=sh',
      fix: expect.stringContaining('modprobe ip_vs_sh'),
    });
  });

  it('checks the IPVS sync interface as it checks a VIP interface: present, up, MULTICAST', () => {
    const input: DoctorInput = { vips: [vip('198.18.0.100/16', 'nft')], lvs: { ...lvs({}), sync: { interface: 'sync0' } } };
    const facts = goodFacts();
    expect(only(input, facts)).toMatchObject({ id: 'interface-missing', setting: 'interface sync0 (IPVS sync)' });
    facts.links.sync0 = { up: true, multicast: false };
    const f = only(input, facts);
    expect(f).toMatchObject({ id: 'interface-no-multicast', fix: 'ip link set dev sync0 multicast on' });
    expect(f.breaks).toMatch(/^the IPVS sync daemon/);
    // Sync on the VIP's own interface: one finding naming both uses.
    const shared: DoctorInput = { vips: input.vips, lvs: { ...lvs({}), sync: { interface: 'eth0' } } };
    facts.links.eth0 = { up: true, multicast: false };
    expect(only(shared, facts).setting).toBe('interface eth0: MULTICAST flag off (VIP 198.18.0.100/16; IPVS sync)');
  });

  it('names net.ipv4.vs.conntrack=1 on a director with the nft backend only (its flows lose their conntrack tuple)', () => {
    const director = { vips: [vip('198.18.0.100/16', 'nft')], lvs: lvs({ scheduler: 'wrr' }) };
    const on = goodFacts();
    on.sysctl['net/ipv4/vs/conntrack'] = '1';
    const f = only(director, on);
    expect(f).toMatchObject({ id: 'director-conntrack', severity: 'error', fix: 'sysctl -w net.ipv4.vs.conntrack=0' });
    expect(f.breaks).toMatch(/ct state invalid/);
    // The default (0), no lvs.config, or a backend that does not hash conntrack's tuple in nft: nothing.
    on.sysctl['net/ipv4/vs/conntrack'] = '0';
    expect(ids(director, on)).toEqual([]);
    on.sysctl['net/ipv4/vs/conntrack'] = '1';
    expect(ids({ vips: director.vips }, on)).toEqual([]);
    expect(ids({ vips: [vip('198.18.0.102/16', 'clusterip', 'eth0.100')], lvs: director.lvs }, on)).toEqual([]);
  });

  it('names a VIP interface that is missing, down, or without MULTICAST, once per interface', () => {
    const input = { vips: [vip('198.18.0.100/16', 'nft'), vip('198.18.0.110/16', 'nft')] };
    const facts = goodFacts();
    facts.links.eth0 = { up: false, multicast: false };
    expect(ids(input, facts)).toEqual(['interface-down', 'interface-no-multicast']);
    expect(diagnose(input, facts).map((f) => f.fix)).toEqual(['ip link set dev eth0 up', 'ip link set dev eth0 multicast on']);
    facts.links.eth0 = undefined;
    expect(only(input, facts)).toMatchObject({ id: 'interface-missing', setting: 'interface eth0 (VIP 198.18.0.100/16, 198.18.0.110/16)' });
  });

  it('lists errors before warnings, and every finding names a setting, what breaks and a fix', () => {
    const facts = goodFacts();
    facts.sysctl['net/ipv4/conf/all/rp_filter'] = '1';
    facts.links['eth0.100'] = { up: true, multicast: false };
    const found = diagnose(every, facts);
    expect(found.map((f) => f.severity)).toEqual(['error', 'warning']);
    for (const f of found) for (const field of ['setting', 'breaks', 'fix'] as const) expect(f[field].length).toBeGreaterThan(10);
    expect(new Set(RULE_IDS).size).toBe(RULE_IDS.length);
  });

  it("turns the error-level findings into aavip up's refusal, one line each, and warnings into none", () => {
    const facts = goodFacts();
    facts.sysctl['net/ipv4/conf/all/rp_filter'] = '1';
    facts.links['eth0.100'] = undefined;
    facts.modules.ip_vs = 'absent';
    const found = diagnose(every, facts);
    expect(found.map((f) => f.id)).toEqual(['interface-missing', 'ipvs-missing', 'rp-filter-strict']);
    const refusal = startupRefusal(found, '/etc/aavip/cluster.yaml');
    const lines = refusal!.message.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\/etc\/aavip\/cluster\.yaml: this node cannot run it: interface eth0\.100 .*\(fix: create eth0\.100/);
    expect(
      startupRefusal(
        found.filter((f) => f.severity === 'warning'),
        'f',
      ),
    ).toBeUndefined();
  });
});
