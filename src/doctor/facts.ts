// The facts `aavip doctor` judges, read from the current network namespace: /proc/sys (which
// follows the namespace of the reader), the registered netfilter targets and matches, the
// modules modprobe could load, the interfaces' flags (`ip -j link`, which follows the namespace
// where /sys/class/net need not), and what nft's kernel side accepts (`nft --check`).
import { access, readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { hostKernel, resolveMechanism } from '../dataplane/backend.js';
import { renderVipTables } from '../dataplane/nft.js';
import { noBuckets, type VipSpec } from '../dataplane/types.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { run } from '../exec.js';
import { factsNeeded, type Availability, type DoctorInput, type KernelFacts, type LinkFacts } from './rules.js';

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
const lines = async (path: string) => (await readFile(path, 'utf8').catch(() => '')).split('\n');

/**
 * Where a module's feature shows when it is in the kernel, loaded or built in (a built-in
 * module without parameters has no /sys/module entry). Other modules: /sys/module alone.
 */
const REGISTERED: Record<string, () => Promise<boolean>> = {
  ip_vs: () => exists('/proc/net/ip_vs'),
  ipt_CLUSTERIP: async () => (await lines('/proc/net/ip_tables_targets')).includes('CLUSTERIP'),
  xt_cluster: async () => (await lines('/proc/net/ip_tables_matches')).includes('cluster') || (await lines('/proc/net/ip6_tables_matches')).includes('cluster'),
  nf_conntrack: () => exists('/proc/sys/net/netfilter/nf_conntrack_max'),
};

async function availability(module: string): Promise<Availability> {
  if ((await REGISTERED[module]?.()) || (await exists(`/sys/module/${module}`))) return 'present';
  // -n: nothing is loaded; a module built in (modules.builtin) or on disk counts as loadable.
  const r = await run('modprobe', ['-n', '-q', module], { allowFailure: true }).catch(() => undefined);
  return r?.status === 0 ? 'loadable' : 'absent';
}

async function sysctl(path: string): Promise<string | undefined> {
  return readFile(`/proc/sys/${path}`, 'utf8').then(
    (v) => v.trim(),
    () => undefined,
  );
}

interface IpLink {
  ifname: string;
  flags: string[];
  address?: string;
}

async function links(): Promise<Map<string, IpLink>> {
  const r = await run('ip', ['-j', 'link', 'show']);
  return new Map((JSON.parse(r.stdout) as IpLink[]).map((l) => [l.ifname, l]));
}

/** nft's message for each nft VIP whose own tables this kernel refuses (checked, never committed). */
async function nftRefusals(vips: VipSpec[], ipLinks: Map<string, IpLink>): Promise<Record<string, string>> {
  const refused: Record<string, string> = {};
  for (const vip of vips) {
    // An IPv6 table rewrites neighbour discovery with the interface's MAC; any unicast MAC checks the same.
    const script = renderVipTables(vip, noBuckets(), ipLinks.get(vip.interface)?.address ?? '02:00:00:00:00:01');
    const r = await run('nft', ['--check', '-f', '-'], { input: script, allowFailure: true });
    if (r.status !== 0) refused[vipCidr(vip)] = r.stderr.trim().split('\n')[0] || `nft exited ${r.status}`;
  }
  return refused;
}

/** The facts the rules need for `input`, read in this process's network namespace. */
export async function readKernelFacts(input: DoctorInput): Promise<KernelFacts> {
  const needed = factsNeeded(input);
  const nft = hostKernel();
  const ipLinks = await links();
  const linkFacts: Record<string, LinkFacts | undefined> = {};
  for (const name of needed.links) {
    const l = ipLinks.get(name);
    if (l) linkFacts[name] = { up: l.flags.includes('UP'), multicast: l.flags.includes('MULTICAST') };
  }
  const sysctls: Record<string, string | undefined> = {};
  for (const path of needed.sysctls) sysctls[path] = await sysctl(path);
  const modules: Record<string, Availability> = {};
  for (const m of needed.modules) modules[m] = await availability(m);
  const nftVips = input.vips.filter((v) => resolveMechanism(v.backend, nft) === 'nft');
  return { release: release(), nft, nftRefused: nft.nftJhash ? await nftRefusals(nftVips, ipLinks) : {}, sysctl: sysctls, links: linkFacts, modules };
}
