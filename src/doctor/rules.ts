// What `aavip doctor` judges, as a pure function: the facts of this node's kernel (read by
// facts.ts) and the configuration in, findings out. Adding a check is one entry in RULES.
import type { KernelFacts as BackendFacts } from '../dataplane/backend.js';
import { resolveMechanism } from '../dataplane/backend.js';
import type { VipSpec } from '../dataplane/types.js';
import { vipCidr } from '../dataplane/vipspec.js';

export type Severity = 'error' | 'warning';

/** One thing that stops (error) or may defeat (warning) the configuration on this node. */
export interface Finding {
  id: string;
  severity: Severity;
  /** The setting at fault and its value, as the operator would look it up. */
  setting: string;
  /** What goes wrong because of it. */
  breaks: string;
  /** A command (or configuration change) that cures it. */
  fix: string;
}

/** Whether the kernel can do something now (`present`), after a modprobe (`loadable`), or not at all. */
export type Availability = 'present' | 'loadable' | 'absent';

export interface LinkFacts {
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** IFF_MULTICAST: the interface accepts frames to the multicast MACs it joins. */
  multicast: boolean;
}

/** The facts of this node's network namespace that the rules read. */
export interface KernelFacts {
  /** `uname -r`, for messages. */
  release: string;
  /** What backend.ts probes to resolve `auto` (nf_tables with jhash). */
  nft: BackendFacts;
  /** By VIP (vipCidr): nft's message when `nft --check` refused the VIP's own tables. */
  nftRefused: Record<string, string>;
  /** By /proc/sys path below /proc/sys (`net/ipv4/conf/all/rp_filter`); absent: no such sysctl here. */
  sysctl: Record<string, string | undefined>;
  /** By interface name; absent: no such interface in this namespace. */
  links: Record<string, LinkFacts | undefined>;
  /** By kernel module name (ip_vs, ip_vs_wrr, xt_cluster, ipt_CLUSTERIP, nf_conntrack). */
  modules: Record<string, Availability>;
}

/** An IPVS virtual service of the ldirectord.cf, as far as the rules care. */
export interface LvsService {
  line: number;
  family: 4 | 6;
  protocol: 'tcp' | 'udp' | 'fwm';
  scheduler: string;
}

/** The configuration, as far as the rules care. */
export interface DoctorInput {
  vips: VipSpec[];
  /** Set when cluster.yaml has `lvs.config`. */
  lvs?: { file: string; services: LvsService[] /** Set when the IPVS connection sync is on. */; sync?: { interface: string } };
}

/** What facts.ts must read for `input`: the one place that knows which facts the rules use. */
export function factsNeeded(input: DoctorInput): { sysctls: string[]; links: string[]; modules: string[] } {
  const links = interfaces(input);
  const sysctls = [RP_ALL, ...links.map(rpPath), TCP_LOOSE, VS_CONNTRACK, ...IPVS_SYSCTLS.map((s) => s.path)];
  const modules = ['nf_conntrack', 'xt_cluster', 'ipt_CLUSTERIP', 'ip_vs', ...schedulerModules(input)];
  return { sysctls, links, modules: [...new Set(modules)] };
}

const RP_ALL = 'net/ipv4/conf/all/rp_filter';
const rpPath = (ifname: string) => `net/ipv4/conf/${ifname}/rp_filter`;
const TCP_LOOSE = 'net/netfilter/nf_conntrack_tcp_loose';
const VS_CONNTRACK = 'net/ipv4/vs/conntrack';
const schedulerModules = (input: DoctorInput) => (input.lvs?.services ?? []).map((s) => `ip_vs_${s.scheduler}`);

/** A /proc/sys path as sysctl(8) names it: dots between levels, a dot inside one (eth0.100) as '/'. */
export const sysctlName = (path: string) =>
  path
    .split('/')
    .map((p) => p.replace(/\./g, '/'))
    .join('.');

type Found = Omit<Finding, 'id' | 'severity'>;

interface Rule {
  id: string;
  severity: Severity;
  /** Every place the rule finds its bad setting (none: all is well). */
  check: (input: DoctorInput, facts: KernelFacts) => Found[];
}

const interfaces = (input: DoctorInput) => [...new Set([...input.vips.map((v) => v.interface), ...(input.lvs?.sync ? [input.lvs.sync.interface] : [])])];
/** What an interface carries, for messages: `VIP a, b; IPVS sync`. */
const uses = (input: DoctorInput, ifname: string) => {
  const vips = input.vips.filter((v) => v.interface === ifname);
  return [...(vips.length ? [`VIP ${names(vips)}`] : []), ...(input.lvs?.sync?.interface === ifname ? ['IPVS sync'] : [])].join('; ');
};
const ipv4Interfaces = (input: DoctorInput) => [...new Set(input.vips.filter((v) => v.address.family === 4).map((v) => v.interface))];
const vipsOn = (input: DoctorInput, mechanism: string, facts: KernelFacts) => input.vips.filter((v) => resolveMechanism(v.backend, facts.nft) === mechanism);
const names = (vips: VipSpec[]) => vips.map(vipCidr).join(', ');
const numeric = (facts: KernelFacts, path: string) => {
  const v = facts.sysctl[path];
  return v === undefined ? undefined : Number(v.trim());
};

/** A missing module as a finding, or none when the kernel has it or can load it. */
function missingModule(facts: KernelFacts, module: string, found: (release: string) => Found): Found[] {
  return facts.modules[module] === 'absent' ? [found(facts.release)] : [];
}

/**
 * IPVS sysctls the appliance depends on: each, the value that defeats it and why. Only read
 * where IPVS is loaded (they do not exist before), and only with `lvs.config`.
 */
const IPVS_SYSCTLS: { path: string; bad: (value: number, input: DoctorInput) => boolean; breaks: string; good: string }[] = [
  // net/ipv4/vs/sync_version: only version 1 messages carry IPv6, firewall marks and persistence
  // templates (appliance.md), but aavip up sets it to 1 itself where sync is on
  // (src/appliance/sync.ts), so a 0 found before the start is no finding.
  // net/ipv4/vs/conntrack: a rule of its own (director-conntrack), an error with the nft backend.
];

const RULES: Rule[] = [
  {
    id: 'interface-missing',
    severity: 'error',
    check: (input, facts) =>
      interfaces(input)
        .filter((i) => facts.links[i] === undefined)
        .map((i) => ({
          setting: `interface ${i} (${uses(input, i)})`,
          breaks: `there is no such interface in this network namespace: nothing can be served or synchronised on it`,
          fix: `create ${i}, or name one that exists (ip -br link) in cluster.yaml`,
        })),
  },
  {
    id: 'interface-down',
    severity: 'error',
    check: (input, facts) =>
      interfaces(input)
        .filter((i) => facts.links[i] && !facts.links[i]!.up)
        .map((i) => ({
          setting: `interface ${i}: down (${uses(input, i)})`,
          breaks: 'nothing is received on a down interface',
          fix: `ip link set dev ${i} up`,
        })),
  },
  {
    id: 'interface-no-multicast',
    severity: 'error',
    check: (input, facts) =>
      interfaces(input)
        .filter((i) => facts.links[i] && !facts.links[i]!.multicast)
        .map((i) => ({
          setting: `interface ${i}: MULTICAST flag off (${uses(input, i)})`,
          breaks: [
            ...(input.vips.some((v) => v.interface === i)
              ? [
                  `every client frame to the VIP is sent to the cluster multicast MAC, which ${i} does not take in without the flag: this node serves none of its buckets`,
                ]
              : []),
            ...(input.lvs?.sync?.interface === i ? ['the IPVS sync daemon sends and receives multicast (224.0.0.81) here: no connection is synchronised'] : []),
          ].join('; '),
          fix: `ip link set dev ${i} multicast on`,
        })),
  },
  {
    id: 'rp-filter-strict',
    severity: 'warning',
    check: (input, facts) =>
      ipv4Interfaces(input).flatMap((i) => {
        const all = numeric(facts, RP_ALL) ?? 0;
        const own = numeric(facts, rpPath(i)) ?? 0;
        // The kernel applies the larger of the two (1 strict, 2 loose).
        if (Math.max(all, own) !== 1) return [];
        return [
          {
            setting: `${sysctlName(RP_ALL)}=${all}, ${sysctlName(rpPath(i))}=${own} (strict reverse-path filtering on ${i})`,
            breaks: `a packet to the VIP is dropped unless this node would route its reply out of ${i}: with asymmetric paths (clients reached through another interface or router), and packets another director forwards, active/active nodes drop traffic they should serve`,
            fix: `sysctl -w ${sysctlName(rpPath(i))}=2 (loose; ${all === 1 ? `with all=1 the larger value applies, so 2 on ${i} is enough; ` : ''}keep it in /etc/sysctl.d/)`,
          },
        ];
      }),
  },
  {
    id: 'nft-no-jhash',
    severity: 'error',
    check: (input, facts) => {
      const vips = vipsOn(input, 'nft', facts);
      if (!vips.length || facts.nft.nftJhash) return [];
      return [
        {
          setting: `nf_tables jhash expression (VIP ${names(vips)}, backend nft)`,
          breaks: `this kernel (${facts.release}) refuses nft's jhash, which hashes each packet into its bucket: the nft backend cannot run`,
          fix: 'modprobe nft_hash (CONFIG_NFT_HASH), or choose backend clusterip or xt_cluster in cluster.yaml',
        },
      ];
    },
  },
  {
    id: 'nft-tables-refused',
    severity: 'error',
    check: (input, facts) =>
      facts.nft.nftJhash
        ? vipsOn(input, 'nft', facts)
            .filter((v) => facts.nftRefused[vipCidr(v)] !== undefined)
            .map((v) => ({
              setting: `nf_tables support for VIP ${vipCidr(v)}'s tables (maps with timeouts, ct, pkttype)`,
              breaks: `nft --check refused the VIP's tables on this kernel (${facts.release}): ${facts.nftRefused[vipCidr(v)]}`,
              fix: 'load the nf_tables modules nft names (modprobe nft_ct nft_hash nft_set_hash nft_objref), or choose backend xt_cluster',
            }))
        : [],
  },
  {
    id: 'clusterip-missing',
    severity: 'error',
    check: (input, facts) => {
      const vips = vipsOn(input, 'clusterip', facts);
      return vips.length
        ? missingModule(facts, 'ipt_CLUSTERIP', (release) => ({
            setting: `iptables CLUSTERIP target (VIP ${names(vips)}, backend clusterip)`,
            breaks: `this kernel (${release}) has no CLUSTERIP target (Linux 6.3 removed it): the VIP cannot be served`,
            fix: 'set backend: nft (or auto) for the VIP in cluster.yaml',
          }))
        : [];
    },
  },
  {
    id: 'xt-cluster-missing',
    severity: 'error',
    check: (input, facts) => {
      const vips = vipsOn(input, 'xt_cluster', facts);
      return vips.length
        ? missingModule(facts, 'xt_cluster', (release) => ({
            setting: `xt_cluster match (VIP ${names(vips)}, backend xt_cluster)`,
            breaks: `this kernel (${release}) has no xt_cluster module: the VIP cannot be served`,
            fix: 'set backend: nft for the VIP in cluster.yaml, or use a kernel with CONFIG_NETFILTER_XT_MATCH_CLUSTER',
          }))
        : [];
    },
  },
  {
    // Measured on 6.1 (test/kernel/conntrack-ipvs.test.ts): with vs.conntrack=1 the entry of a
    // direct-routed flow stays SYN_SENT [UNREPLIED] and outlives it; the nft rules hash such
    // invalid packets on their headers, so they still reach their owner.
    id: 'director-conntrack',
    severity: 'error',
    check: (input, facts) => {
      const vips = input.lvs ? vipsOn(input, 'nft', facts) : [];
      if (!vips.length) return [];
      const on = `(VIP ${names(vips)}, backend nft, lvs.config)`;
      if (numeric(facts, VS_CONNTRACK) !== 1) return [];
      return [
        {
          setting: `${sysctlName(VS_CONNTRACK)}=1 ${on}`,
          breaks:
            "IPVS keeps each forwarded flow's conntrack entry unreplied (SYN_SENT) and past the flow's end, so at a high connection rate the table fills and the kernel drops new flows; every packet after the SYN is ct state invalid, and the handover tells flows apart by aavip's own flow set only",
          fix: `sysctl -w ${sysctlName(VS_CONNTRACK)}=0`,
        },
      ];
    },
  },
  {
    id: 'xt-cluster-tcp-loose',
    severity: 'error',
    check: (input, facts) => {
      const vips = vipsOn(input, 'xt_cluster', facts);
      // Before nf_conntrack is loaded the sysctl does not exist; the module starts with 1.
      const unloaded = facts.sysctl[TCP_LOOSE] === undefined && facts.modules.nf_conntrack !== 'absent';
      if (!vips.length || (numeric(facts, TCP_LOOSE) !== 1 && !unloaded)) return [];
      return [
        {
          setting: `${sysctlName(TCP_LOOSE)}=1${unloaded ? ' (its default: nf_conntrack is not loaded yet)' : ''} (VIP ${names(vips)}, backend xt_cluster)`,
          breaks:
            'conntrack picks TCP connections up mid-stream, so a reply-direction packet can start an entry whose original source is the wrong end; xt_cluster hashes that original source, so the connection lands in another bucket on this node than on its owner (libxt_cluster asks for 0)',
          fix: `${unloaded ? 'modprobe nf_conntrack; ' : ''}sysctl -w ${sysctlName(TCP_LOOSE)}=0 (keep it in /etc/sysctl.d/; the setting is per network namespace)`,
        },
      ];
    },
  },
  {
    id: 'ipvs-missing',
    severity: 'error',
    check: (input, facts) =>
      input.lvs
        ? missingModule(facts, 'ip_vs', (release) => ({
            setting: `IPVS (ip_vs module; lvs.config ${input.lvs!.file})`,
            breaks: `this kernel (${release}) has no IPVS: no /proc/net/ip_vs and no ip_vs module to load, so the director role cannot forward any connection`,
            fix: 'install a kernel with IPVS (CONFIG_IP_VS, e.g. Debian linux-image-amd64) and modprobe ip_vs, or remove lvs from cluster.yaml',
          }))
        : [],
  },
  {
    id: 'ipvs-scheduler-missing',
    severity: 'error',
    check: (input, facts) => {
      // Without IPVS at all the one finding above says enough.
      if (!input.lvs || facts.modules.ip_vs === 'absent') return [];
      const seen = new Set<string>();
      return input.lvs.services.flatMap((s) => {
        const module = `ip_vs_${s.scheduler}`;
        if (seen.has(module) || facts.modules[module] !== 'absent') return [];
        seen.add(module);
        return [
          {
            setting: `${input.lvs!.file}:${s.line}: scheduler=${s.scheduler}`,
            breaks: `this kernel has no ${module} module: IPVS refuses the virtual service (Scheduler not found)`,
            fix: `modprobe ${module} on a kernel that has it, or choose a scheduler this kernel has (e.g. wrr)`,
          },
        ];
      });
    },
  },
  {
    id: 'ipvs-sysctl',
    severity: 'warning',
    check: (input, facts) =>
      input.lvs
        ? IPVS_SYSCTLS.flatMap((s) => {
            const v = numeric(facts, s.path);
            if (v === undefined || !s.bad(v, input)) return [];
            return [{ setting: `${sysctlName(s.path)}=${v}`, breaks: s.breaks, fix: `sysctl -w ${sysctlName(s.path)}=${s.good}` }];
          })
        : [],
  },
];

/** Every finding for this configuration on a kernel with these facts, errors first. */
export function diagnose(input: DoctorInput, facts: KernelFacts): Finding[] {
  const found = RULES.flatMap((r) => r.check(input, facts).map((f) => ({ id: r.id, severity: r.severity, ...f })));
  return [...found.filter((f) => f.severity === 'error'), ...found.filter((f) => f.severity === 'warning')];
}

/** The rule ids, for tests and documentation. */
export const RULE_IDS = RULES.map((r) => r.id);
