// The VM lab's kernel: Debian bookworm's 6.1 kernel package (the last line with iptables CLUSTERIP,
// and with IPVS), fetched once through apt, kept in a cache that is checked by SHA-256 on every
// use, and a small initramfs (static busybox + the netfilter/IPVS modules) built from it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { run } from '../exec.js';

/** A failure of the lab itself (not of the command run inside): missing packages, a broken cache, no boot. */
export class VmError extends Error {
  constructor(
    message: string,
    readonly kind: 'setup' | 'boot' | 'timeout' = 'setup',
  ) {
    super(message);
    this.name = 'VmError';
  }
}

export function vmCacheDir(): string {
  if (process.env.AAVIP_VM_CACHE) return process.env.AAVIP_VM_CACHE;
  if (process.getuid?.() === 0) return '/var/cache/aavip/vm';
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'aavip', 'vm');
}

/**
 * Modules the guest loads at boot, each with its dependencies (resolved by modprobe on the host).
 * The guest cannot load modules on demand, so everything a test might touch is here.
 */
export const VM_MODULES = [
  // the host share and the lab's links
  'virtio_pci',
  '9pnet_virtio',
  '9p',
  'veth',
  'bridge',
  'macvlan',
  'dummy',
  'sch_netem',
  // conntrack and nftables (jhash, ct, numgen, nat, reject, arp family is built into nf_tables)
  'nf_conntrack',
  'nf_defrag_ipv4',
  'nf_defrag_ipv6',
  'nf_conntrack_netlink',
  'nf_tables',
  'nft_hash',
  'nft_ct',
  'nft_compat',
  'nft_numgen',
  'nft_objref', // the VIP table's named counters (counter name "accepted")
  'nft_chain_nat',
  'nft_nat',
  'nft_masq',
  'nft_limit',
  'nft_reject_inet',
  // iptables (legacy tables: CLUSTERIP refuses nft-compat) and the matches/targets the labs use
  'x_tables',
  'ip_tables',
  'iptable_filter',
  'iptable_mangle',
  'iptable_raw',
  'iptable_nat',
  'ipt_CLUSTERIP',
  'ipt_REJECT',
  'ip6_tables',
  'ip6table_filter',
  'ip6table_mangle',
  'ip6table_raw',
  'xt_cluster',
  'xt_comment',
  'xt_mark',
  'xt_connmark',
  'xt_conntrack',
  'xt_state',
  'xt_tcpudp',
  'xt_multiport',
  'xt_addrtype',
  'xt_statistic',
  'xt_MASQUERADE',
  'xt_CT',
  'xt_ipvs',
  'arp_tables',
  'arptable_filter',
  'arpt_mangle',
  // IPVS and every scheduler ldirectord can name
  'ip_vs',
  'ip_vs_rr',
  'ip_vs_wrr',
  'ip_vs_lc',
  'ip_vs_wlc',
  'ip_vs_lblc',
  'ip_vs_lblcr',
  'ip_vs_dh',
  'ip_vs_sh',
  'ip_vs_sed',
  'ip_vs_nq',
  'ip_vs_fo',
  'ip_vs_ovf',
  'ip_vs_mh',
];

/** Module parameters: no devices created behind the labs' backs (dummy would add dummy0). */
export const MODULE_OPTIONS: Record<string, string> = { dummy: 'numdummies=0 ' };

/** Without these the lab is pointless: fail loudly if the package lacks one. */
export const ESSENTIAL = ['9pnet_virtio', '9p', 'veth', 'bridge', 'ipt_CLUSTERIP', 'xt_cluster', 'nf_tables', 'ip_vs'];

export interface Kernel {
  package: string;
  version: string;
  /** The cache folder of this package: the .deb, its unpacked tree (root/), manifest.json, initramfs files. */
  dir: string;
  vmlinuz: string;
  modulesRoot: string;
  debSha256: string;
}

interface Manifest {
  package: string;
  version: string;
  deb: string;
  debSha256: string;
  /** SHA-256 of every file unpacked from the .deb, by path relative to root/. */
  files: Record<string, string>;
}

export const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

/** The command's path, or a VmError naming the Debian package that provides it. */
export function requireCommand(command: string, aptPackage: string): void {
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' });
  if (r.status !== 0) throw new VmError(`${command} is missing: apt-get install ${aptPackage}`);
}

/** Debian's 6.1 kernel package apt can fetch now: AAVIP_VM_KERNEL, else the newest linux-image-6.1.0-N-amd64. */
async function aptKernel(): Promise<{ pkg: string; sha: string } | undefined> {
  // One apt-cache call: without a pkgcache.bin (as in containers) each call rebuilds apt's cache.
  const pattern = process.env.AAVIP_VM_KERNEL ? `^${process.env.AAVIP_VM_KERNEL.replace(/[.+]/g, '\\$&')}$` : '^linux-image-6\\.1\\.0-[0-9]+-amd64$';
  const show = await run('apt-cache', ['show', '--no-all-versions', pattern], { allowFailure: true, timeoutMs: 120_000 });
  const found = show.stdout
    .split(/\n\n+/)
    .map((block) => ({
      pkg: block.match(/^Package: (\S+)$/m)?.[1] ?? '',
      sha: block.match(/^SHA256: ([0-9a-f]{64})$/m)?.[1] ?? '',
    }))
    .filter((p) => p.pkg && p.sha);
  const abi = (pkg: string) => Number(pkg.match(/^linux-image-6\.1\.0-(\d+)-/)?.[1] ?? 0);
  return found.sort((a, b) => abi(b.pkg) - abi(a.pkg))[0];
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** Everything in the cache folder still is what was unpacked from the verified .deb (the files used at boot). */
async function verifyCache(dir: string, m: Manifest): Promise<string | undefined> {
  if ((await sha256(join(dir, m.deb)).catch(() => '')) !== m.debSha256) return `${m.deb} does not match its SHA-256`;
  const vmlinuz = `boot/vmlinuz-${m.version}`;
  if ((await sha256(join(dir, 'root', vmlinuz)).catch(() => '')) !== m.files[vmlinuz]) return `${vmlinuz} does not match its SHA-256`;
  return undefined;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** Downloads, verifies and unpacks the package into a new cache folder (atomically: a rename at the end). */
async function fetchKernel(cache: string, pkg: string, sha: string, log: (m: string) => void): Promise<string> {
  requireCommand('dpkg-deb', 'dpkg');
  requireCommand('depmod', 'kmod');
  const final = join(cache, `${pkg}_${sha.slice(0, 16)}`);
  const work = await mkdtemp(join(cache, '.tmp-'));
  try {
    await chmod(work, 0o777); // apt downloads as its _apt user
    log(`downloading ${pkg} with apt-get download`);
    const dl = await run('apt-get', ['download', pkg], { cwd: work, timeoutMs: 900_000, allowFailure: true });
    if (dl.status !== 0) throw new VmError(`apt-get download ${pkg} failed: ${dl.stderr.trim()}`);
    const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
    if (!deb) throw new VmError(`apt-get download ${pkg} left no .deb`);
    const got = await sha256(join(work, deb));
    if (got !== sha) throw new VmError(`${deb}: SHA-256 ${got} differs from apt's ${sha}`);
    await chmod(work, 0o755);
    log(`unpacking ${deb}`);
    const root = join(work, 'root');
    await run('dpkg-deb', ['-x', join(work, deb), root], { timeoutMs: 600_000 });
    const version = pkg.replace(/^linux-image-/, '');
    await run('depmod', ['-b', root, version], { timeoutMs: 120_000 });
    const files: Record<string, string> = {};
    for (const f of await walk(root)) files[relative(root, f)] = await sha256(f);
    const manifest: Manifest = { package: pkg, version, deb, debSha256: sha, files };
    await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
    try {
      await rename(work, final);
    } catch {
      // Another run unpacked the same package meanwhile; its copy is as good as ours.
      if (!(await readManifest(final))) throw new VmError(`cannot move the unpacked kernel into ${final}`);
    }
    return final;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Removes cache folders of other kernels and leftovers of interrupted downloads (older than an hour). */
async function pruneCache(cache: string, keep: string): Promise<void> {
  for (const name of await readdir(cache)) {
    const path = join(cache, name);
    if (path === keep) continue;
    if (name.startsWith('.tmp-') && Date.now() - (await stat(path)).mtimeMs < 3_600_000) continue;
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * The kernel to boot: Debian's newest 6.1 package as apt knows it, fetched on first use. On reuse the
 * cached .deb is checked against apt's SHA-256 and the kernel image against the one unpacked from it.
 * Without apt lists (offline), the newest verified cached kernel is used.
 */
export async function ensureKernel(log: (m: string) => void = () => {}): Promise<Kernel> {
  requireCommand('apt-get', 'apt');
  const cache = vmCacheDir();
  await mkdir(cache, { recursive: true });
  const fromApt = await aptKernel();
  let dir: string | undefined;
  if (fromApt) {
    dir = join(cache, `${fromApt.pkg}_${fromApt.sha.slice(0, 16)}`);
    const m = await readManifest(dir);
    const problem = m ? (m.debSha256 !== fromApt.sha ? 'it is not the package apt has' : await verifyCache(dir, m)) : 'not cached';
    if (problem) {
      if (m) log(`cached kernel rejected (${problem}); fetching it again`);
      await rm(dir, { recursive: true, force: true });
      dir = await fetchKernel(cache, fromApt.pkg, fromApt.sha, log);
      await pruneCache(cache, dir);
    }
  } else {
    for (const name of (await readdir(cache))
      .filter((n) => n.startsWith('linux-image-'))
      .sort()
      .reverse()) {
      const m = await readManifest(join(cache, name));
      if (m && !(await verifyCache(join(cache, name), m))) {
        dir = join(cache, name);
        break;
      }
    }
    if (!dir) {
      throw new VmError(
        'apt knows no linux-image-6.1.0-*-amd64 package and none is cached: the VM lab needs Debian 12 ' +
          '(bookworm) apt sources — run apt-get update (or set AAVIP_VM_KERNEL to a package name)',
      );
    }
    log(`apt knows no 6.1 kernel; using the cached ${basename(dir)}`);
  }
  const m = (await readManifest(dir))!;
  return {
    package: m.package,
    version: m.version,
    dir,
    modulesRoot: join(dir, 'root'),
    vmlinuz: join(dir, 'root', 'boot', `vmlinuz-${m.version}`),
    debSha256: m.debSha256,
  };
}
