// The VM lab: Debian's 6.1 kernel — the last line with iptables CLUSTERIP, and with IPVS, which
// this host's kernel lacks — booted under qemu (software emulation), running a script with the
// host's own filesystem shared read-only, so the very same aavip build is tested against real
// kernel code. The guest has no network device: nothing it does can leave the VM.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { run } from '../dataplane/exec.js';

export const VM_CACHE = process.env.AAVIP_VM_CACHE ?? '/var/cache/aavip/vm';

/** Modules the guest loads (with their dependencies, in order); missing or built-in ones are skipped. */
export const VM_MODULES = [
  'virtio_pci', '9pnet_virtio', '9p', 'veth', 'bridge', 'af_packet',
  'nf_conntrack', 'nf_conntrack_netlink', 'nf_tables', 'nft_hash', 'nft_ct', 'nft_compat', 'nft_numgen', 'nft_chain_nat',
  'x_tables', 'ip_tables', 'iptable_filter', 'iptable_mangle', 'iptable_raw', 'iptable_nat', 'ipt_CLUSTERIP', 'ip6_tables', 'ip6table_mangle',
  'xt_cluster', 'xt_comment', 'xt_mark', 'xt_conntrack', 'xt_MASQUERADE', 'arp_tables', 'arptable_filter', 'arpt_mangle',
  'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_sh', 'ip_vs_lc', 'ip_vs_wlc',
];

export interface Kernel { version: string; vmlinuz: string; modulesRoot: string; debSha256: string }

async function need(binary: string, pkg: string): Promise<void> {
  const r = await run('sh', ['-c', `command -v ${binary}`], { allowFailure: true });
  if (r.status !== 0) throw new Error(`${binary} is missing: apt-get install ${pkg}`);
}

/** Debian's current 6.1 kernel package, downloaded once through apt and verified against apt's SHA256. */
export async function ensureKernel(log: (m: string) => void = () => {}): Promise<Kernel> {
  await need('apt-get', 'apt');
  const deps = await run('apt-cache', ['depends', 'linux-image-amd64']);
  const pkg = deps.stdout.match(/Depends: (linux-image-6\.1\.\S+-amd64)\b/)?.[1];
  if (!pkg) throw new Error('apt knows no linux-image-6.1 package: run apt-get update (Debian 12 sources needed)');
  const show = await run('apt-cache', ['show', pkg]);
  const sha = show.stdout.match(/^SHA256: (\w+)/m)?.[1];
  const version = pkg.replace(/^linux-image-/, '');
  if (!sha) throw new Error(`apt-cache show ${pkg} gives no SHA256`);
  await mkdir(VM_CACHE, { recursive: true });
  const root = join(VM_CACHE, `root-${sha.slice(0, 16)}`);
  const vmlinuz = join(root, 'boot', `vmlinuz-${version}`);
  if (!existsSync(join(root, '.complete'))) {
    const dl = await mkdtemp(join(tmpdir(), 'aavip-kernel-'));
    try {
      await chmod(dl, 0o755); // apt's _apt user writes here
      log(`downloading ${pkg} with apt-get`);
      await run('apt-get', ['download', pkg], { cwd: dl, timeoutMs: 600_000 });
      const deb = (await readdir(dl)).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
      const got = createHash('sha256').update(await readFile(join(dl, deb))).digest('hex');
      if (got !== sha) throw new Error(`${deb}: SHA256 ${got} differs from apt's ${sha}`);
      await rm(root, { recursive: true, force: true });
      await run('dpkg-deb', ['-x', join(dl, deb), root], { timeoutMs: 300_000 });
      await run('depmod', ['-b', root, version]);
      await writeFile(join(root, '.complete'), `${pkg} ${sha}\n`);
    } finally {
      await rm(dl, { recursive: true, force: true });
    }
  }
  return { version, vmlinuz, modulesRoot: root, debSha256: sha };
}

/** Module files in load order for VM_MODULES. */
export async function moduleOrder(k: Kernel): Promise<string[]> {
  const order: string[] = [];
  for (const m of VM_MODULES) {
    const r = await run('modprobe', ['-d', k.modulesRoot, '-S', k.version, '--show-depends', m], { allowFailure: true });
    for (const line of r.stdout.split('\n')) {
      const path = line.match(/^insmod (\S+)/)?.[1];
      if (path && !order.includes(path)) order.push(path);
    }
  }
  return order;
}

const INIT = (modules: string[]) => `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
${modules.map((m) => `insmod /modules/${m} 2>/dev/null`).join('\n')}
mkdir -p /host
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose host /host || { echo "aavip-vm: cannot mount the host"; poweroff -f; }
mount -t tmpfs tmpfs /host/run
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mount -t 9p -o trans=virtio,version=9p2000.L results /host/mnt || { echo "aavip-vm: cannot mount the results"; poweroff -f; }
mkdir -p /host/run/netns /host/run/tmp
echo "aavip-vm: running"
chroot /host /bin/sh -c 'ip link set lo up; cd /mnt && . /mnt/env.sh && /bin/sh /mnt/run.sh > /mnt/stdout 2> /mnt/stderr; echo $? > /mnt/exit; sync'
echo "aavip-vm: done"
poweroff -f
`;

/** A small initramfs: static busybox, the modules, and an /init that mounts the host and runs the script. */
export async function buildInitramfs(k: Kernel): Promise<string> {
  const modules = await moduleOrder(k);
  const key = createHash('sha256').update(k.debSha256).update(modules.join('\n')).update(INIT(modules.map((m) => basename(m)))).digest('hex').slice(0, 16);
  const out = join(VM_CACHE, `initramfs-${key}.cpio.gz`);
  if (existsSync(out)) return out;
  await need('cpio', 'cpio');
  if (!existsSync('/bin/busybox')) throw new Error('static busybox is missing: apt-get install busybox-static');
  const dir = await mkdtemp(join(tmpdir(), 'aavip-initramfs-'));
  try {
    for (const d of ['bin', 'proc', 'sys', 'dev', 'modules', 'host']) await mkdir(join(dir, d));
    await copyFile('/bin/busybox', join(dir, 'bin', 'busybox'));
    for (const m of modules) await copyFile(m, join(dir, 'modules', basename(m)));
    await writeFile(join(dir, 'init'), INIT(modules.map((m) => basename(m))), { mode: 0o755 });
    await run('sh', ['-c', `cd ${dir} && find . | cpio -o -H newc --quiet | gzip -1 > ${out}.tmp && mv ${out}.tmp ${out}`], { timeoutMs: 120_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

export interface VmRunOptions {
  /** A shell script run as root inside the VM, in the results folder. */
  script: string;
  /** Variables exported to the script. */
  env?: Record<string, string>;
  /** Files to put in the results folder before boot (name → content). */
  files?: Record<string, string>;
  timeoutMs?: number;
  memoryMb?: number;
  log?: (m: string) => void;
  /** Keep the results folder (and return its path) instead of removing it. */
  keepResults?: boolean;
}

export interface VmRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  console: string;
  bootMs: number;
  runMs: number;
  /** Files the script left in its folder (name → content), when small. */
  files: Record<string, string>;
  resultsDir?: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export async function runInVm(o: VmRunOptions): Promise<VmRunResult> {
  const log = o.log ?? (() => {});
  await need('qemu-system-x86_64', 'qemu-system-x86');
  const kernel = await ensureKernel(log);
  const initrd = await buildInitramfs(kernel);
  const results = await mkdtemp(join(tmpdir(), 'aavip-vm-'));
  await chmod(results, 0o777);
  try {
    // The host's /tmp stays visible (the tree under test may live there); scratch space is /run/tmp.
    const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/run/tmp', TMPDIR: '/run/tmp', AAVIP_RUN_DIR: '/run/aavip', AAVIP_IN_VM: '1', ...o.env };
    await writeFile(join(results, 'env.sh'), Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`).join('\n') + '\n');
    await writeFile(join(results, 'run.sh'), o.script);
    for (const [name, content] of Object.entries(o.files ?? {})) await writeFile(join(results, name), content);
    const args = [
      '-accel', 'tcg', '-m', String(o.memoryMb ?? 1024), '-smp', '2', '-nographic', '-no-reboot', '-nic', 'none',
      '-kernel', kernel.vmlinuz, '-initrd', initrd, '-append', 'console=ttyS0 quiet panic=-1 mitigations=off',
      '-virtfs', 'local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap',
      '-virtfs', `local,path=${results},mount_tag=results,security_model=none`,
    ];
    log(`booting ${kernel.version} under qemu (software emulation)`);
    const t0 = Date.now();
    let tRun = 0;
    const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let consoleOut = '';
    qemu.stdout.on('data', (d: Buffer) => {
      consoleOut += d;
      if (!tRun && consoleOut.includes('aavip-vm: running')) { tRun = Date.now(); log(`booted in ${((tRun - t0) / 1000).toFixed(1)} s; running`); }
    });
    qemu.stderr.on('data', (d: Buffer) => { consoleOut += d; });
    const timeoutMs = o.timeoutMs ?? 600_000;
    const timer = setTimeout(() => { log('timed out: stopping qemu'); qemu.kill('SIGKILL'); }, timeoutMs);
    await new Promise<void>((resolve) => qemu.on('exit', () => resolve()));
    clearTimeout(timer);
    const tEnd = Date.now();
    const read = async (f: string) => (await readFile(join(results, f), 'utf8').catch(() => ''));
    const exitText = (await read('exit')).trim();
    const files: Record<string, string> = {};
    for (const f of await readdir(results)) if (!['env.sh', 'run.sh', 'stdout', 'stderr', 'exit'].includes(f)) files[f] = await read(f);
    if (exitText === '') throw new Error(`the VM did not finish the script (${tRun ? 'timed out or crashed while running' : 'it did not boot'}); console:\n${consoleOut.slice(-3000)}`);
    return {
      exitCode: Number(exitText), stdout: await read('stdout'), stderr: await read('stderr'), console: consoleOut,
      bootMs: (tRun || tEnd) - t0, runMs: tRun ? tEnd - tRun : 0, files, resultsDir: o.keepResults ? results : undefined,
    };
  } finally {
    if (!o.keepResults) await rm(results, { recursive: true, force: true });
  }
}
