// The VM lab's kernel: Debian bookworm's 6.1 kernel package (the last line with iptables CLUSTERIP,
// and with IPVS), fetched once through apt, kept in a cache that is checked by SHA-256 on every
// use, and a small initramfs (static busybox + the netfilter/IPVS modules) built from it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { run } from '../dataplane/exec.js';

/** A failure of the lab itself (not of the command run inside): missing packages, a broken cache, no boot. */
export class VmError extends Error {
  constructor(message: string, readonly kind: 'setup' | 'boot' | 'timeout' = 'setup') {
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
  'virtio_pci', '9pnet_virtio', '9p', 'veth', 'bridge', 'macvlan', 'dummy', 'sch_netem',
  // conntrack and nftables (jhash, ct, numgen, nat, reject, arp family is built into nf_tables)
  'nf_conntrack', 'nf_defrag_ipv4', 'nf_defrag_ipv6', 'nf_conntrack_netlink', 'nf_tables', 'nft_hash', 'nft_ct',
  'nft_compat', 'nft_numgen', 'nft_chain_nat', 'nft_nat', 'nft_masq', 'nft_limit', 'nft_reject_inet',
  // iptables (legacy tables: CLUSTERIP refuses nft-compat) and the matches/targets the labs use
  'x_tables', 'ip_tables', 'iptable_filter', 'iptable_mangle', 'iptable_raw', 'iptable_nat', 'ipt_CLUSTERIP', 'ipt_REJECT',
  'ip6_tables', 'ip6table_filter', 'ip6table_mangle', 'ip6table_raw',
  'xt_cluster', 'xt_comment', 'xt_mark', 'xt_connmark', 'xt_conntrack', 'xt_state', 'xt_tcpudp', 'xt_multiport',
  'xt_addrtype', 'xt_statistic', 'xt_MASQUERADE', 'xt_CT', 'xt_ipvs',
  'arp_tables', 'arptable_filter', 'arpt_mangle',
  // IPVS and every scheduler ldirectord can name
  'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_wlc', 'ip_vs_lblc', 'ip_vs_lblcr', 'ip_vs_dh', 'ip_vs_sh',
  'ip_vs_sed', 'ip_vs_nq', 'ip_vs_fo', 'ip_vs_ovf', 'ip_vs_mh',
];

/** Module parameters: no devices created behind the labs' backs (dummy would add dummy0). */
const MODULE_OPTIONS: Record<string, string> = { dummy: 'numdummies=0 ' };

/** Without these the lab is pointless: fail loudly if the package lacks one. */
const ESSENTIAL = ['9pnet_virtio', '9p', 'veth', 'bridge', 'ipt_CLUSTERIP', 'xt_cluster', 'nf_tables', 'ip_vs'];

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

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

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
  const found = show.stdout.split(/\n\n+/).map((block) => ({
    pkg: block.match(/^Package: (\S+)$/m)?.[1] ?? '',
    sha: block.match(/^SHA256: ([0-9a-f]{64})$/m)?.[1] ?? '',
  })).filter((p) => p.pkg && p.sha);
  const abi = (pkg: string) => Number(pkg.match(/^linux-image-6\.1\.0-(\d+)-/)?.[1] ?? 0);
  return found.sort((a, b) => abi(b.pkg) - abi(a.pkg))[0];
}

async function readManifest(dir: string): Promise<Manifest | undefined> {
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
    for (const name of (await readdir(cache)).filter((n) => n.startsWith('linux-image-')).sort().reverse()) {
      const m = await readManifest(join(cache, name));
      if (m && !(await verifyCache(join(cache, name), m))) { dir = join(cache, name); break; }
    }
    if (!dir) {
      throw new VmError('apt knows no linux-image-6.1.0-*-amd64 package and none is cached: the VM lab needs Debian 12 '
        + '(bookworm) apt sources — run apt-get update (or set AAVIP_VM_KERNEL to a package name)');
    }
    log(`apt knows no 6.1 kernel; using the cached ${basename(dir)}`);
  }
  const m = (await readManifest(dir))!;
  return {
    package: m.package, version: m.version, dir, modulesRoot: join(dir, 'root'),
    vmlinuz: join(dir, 'root', 'boot', `vmlinuz-${m.version}`), debSha256: m.debSha256,
  };
}

/** Module files (relative to the unpacked root) in load order, dependencies first. */
export async function moduleOrder(k: Kernel, names: readonly string[]): Promise<string[]> {
  requireCommand('modprobe', 'kmod');
  const r = await run('modprobe', ['-d', k.modulesRoot, '-S', k.version, '-a', '--show-depends', ...names], { allowFailure: true });
  // Names it does not know are absent from this build (fine unless essential); "builtin X" lines need nothing.
  const missing = [...r.stderr.matchAll(/Module (\S+) not found/g)].map((m) => m[1]);
  const lacking = missing.filter((m) => ESSENTIAL.includes(m));
  if (lacking.length) throw new VmError(`${k.package} has no module ${lacking.join(', ')}`);
  const order: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const path = line.match(/^insmod (\S+)/)?.[1];
    if (!path) continue;
    const rel = relative(k.modulesRoot, path);
    // CPU-accelerated crypto (crc32c-intel...) needs instructions qemu's default CPU lacks; the generic twin follows it.
    if (rel.includes('/kernel/arch/x86/crypto/')) continue;
    if (!order.includes(rel)) order.push(rel);
  }
  return order;
}

/** True when an ELF executable has no program interpreter (PT_INTERP), i.e. runs without a libc. */
function isStaticElf(b: Buffer): boolean {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // ELF64 only (amd64)
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

/**
 * The guest's /init. It loads the modules, mounts the host's root read-only (tag "host"), tmpfs on
 * /run and /tmp, the results folder (tag "results") on /mnt, then runs the per-run mounts.sh and
 * launch.sh (environment, working directory, run.sh) from the results folder — so this script, and the initramfs, are the same for every run.
 */
const INIT = (modules: string[]) => `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
${modules.map((m) => basename(m)).map((m) => `insmod /modules/${m} ${MODULE_OPTIONS[m.replace(/\.ko$/, '')] ?? ''}|| echo "aavip-vm: insmod ${m} failed"`).join('\n')}
fail() { echo "aavip-vm: $1"; poweroff -f; }
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o $opts,ro,cache=loose host /host || fail "cannot mount the host's root"
mount -t tmpfs -o mode=755 tmpfs /host/run || fail "cannot mount /run"
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || fail "cannot mount /tmp"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts /host/dev/shm && mount -t devpts devpts /host/dev/pts && mount -t tmpfs tmpfs /host/dev/shm
mount -t 9p -o $opts results /host/mnt || fail "cannot mount the results folder"
. /host/mnt/mounts.sh || fail "cannot mount the extra shares"
hostname aavip-vm
ip link set lo up
echo "aavip-vm: running"
chroot /host /usr/bin/env -i /bin/sh /mnt/launch.sh
echo $? > /host/mnt/exit
sync
echo "aavip-vm: done"
poweroff -f
`;

/**
 * A gzip'd cpio initramfs with a static busybox, the modules (checked against the package's
 * manifest as they are copied) and /init. Cached next to the kernel by its content; its SHA-256 is
 * recorded and checked on reuse.
 */
export async function buildInitramfs(k: Kernel, extraModules: readonly string[] = []): Promise<string> {
  const modules = await moduleOrder(k, [...VM_MODULES, ...extraModules]);
  const init = INIT(modules);
  const key = createHash('sha256').update(k.debSha256).update(modules.join('\n')).update(init).digest('hex').slice(0, 16);
  const out = join(k.dir, `initramfs-${key}.cpio.gz`);
  const recorded = await readFile(`${out}.sha256`, 'utf8').catch(() => '');
  if (recorded && existsSync(out) && (await sha256(out)) === recorded.trim()) {
    const now = new Date();
    await utimes(out, now, now); // marks it in use (see pruneInitramfs)
    return out;
  }

  requireCommand('cpio', 'cpio');
  requireCommand('gzip', 'gzip');
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox || !isStaticElf(await readFile(busybox))) throw new VmError('a static busybox is missing: apt-get install busybox-static');
  const manifest = (await readManifest(k.dir))!;
  const dir = await mkdtemp(join(k.dir, '.initramfs-'));
  try {
    for (const d of ['bin', 'proc', 'sys', 'dev', 'modules', 'host']) await mkdir(join(dir, d));
    await copyFile(busybox, join(dir, 'bin', 'busybox'));
    for (const m of modules) {
      if ((await sha256(join(k.modulesRoot, m))) !== manifest.files[m]) throw new VmError(`${m} in the kernel cache does not match its SHA-256; remove ${k.dir}`);
      await copyFile(join(k.modulesRoot, m), join(dir, 'modules', basename(m)));
    }
    await writeFile(join(dir, 'init'), init, { mode: 0o755 });
    const tmp = `${out}.${process.pid}.tmp`;
    await run('sh', ['-c', 'cd "$1" && find . | cpio -o -H newc --quiet | gzip -6 > "$2"', 'sh', dir, tmp], { timeoutMs: 120_000 });
    await writeFile(`${out}.sha256`, `${await sha256(tmp)}\n`);
    await rename(tmp, out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  await pruneInitramfs(k.dir, out);
  return out;
}

/** Removes initramfs files (other module sets, older /init scripts, interrupted builds) not used for a day. */
async function pruneInitramfs(dir: string, keep: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if (!name.startsWith('initramfs-') || path === keep || path === `${keep}.sha256`) continue;
    const image = path.replace(/\.sha256$/, '');
    const used = await stat(image).then((s) => s.mtimeMs, () => 0);
    if (Date.now() - used > 86_400_000) await rm(path, { force: true });
  }
}
