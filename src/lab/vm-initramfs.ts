// The VM lab's initramfs: static busybox, the kernel modules the labs need in dependency order,
// and an init that mounts the host's folders and runs the script (built from the cached kernel).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { run } from '../exec.js';
import { ESSENTIAL, MODULE_OPTIONS, readManifest, requireCommand, sha256, VM_MODULES, VmError, type Kernel } from './vm-kernel.js';
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
${modules
  .map((m) => basename(m))
  .map((m) => `insmod /modules/${m} ${MODULE_OPTIONS[m.replace(/\.ko$/, '')] ?? ''}|| echo "aavip-vm: insmod ${m} failed"`)
  .join('\n')}
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
      if ((await sha256(join(k.modulesRoot, m))) !== manifest.files[m])
        throw new VmError(`${m} in the kernel cache does not match its SHA-256; remove ${k.dir}`);
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
    const used = await stat(image).then(
      (s) => s.mtimeMs,
      () => 0,
    );
    if (Date.now() - used > 86_400_000) await rm(path, { force: true });
  }
}
