// The VM lab: Debian's 6.1 kernel — the last line with iptables CLUSTERIP, and with IPVS, which
// this host's kernel lacks — booted under qemu (software emulation), running a script with the
// host's own filesystem shared read-only, so the very same aavip build is tested against real
// kernel code. The guest has no network device: nothing it does can leave the VM.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';
import { buildInitramfs } from './vm-initramfs.js';
import { ensureKernel, requireCommand, VmError } from './vm-kernel.js';

export { VmError, VM_MODULES, vmCacheDir } from './vm-kernel.js';

/** Where the guest sees the results folder. */
export const GUEST_RESULTS = '/mnt';

export interface VmRunOptions {
  /** A shell script run as root inside the VM (by /bin/sh). */
  script: string;
  /** The script's working directory (a host path; default: the results folder). */
  cwd?: string;
  /** Variables exported to the script, on top of a fixed minimal environment. */
  env?: Record<string, string>;
  /** Files to put in the results folder before boot (name → content). */
  files?: Record<string, string>;
  /** Host folders under /tmp or /run the guest must still see (those get a tmpfs in the guest). cwd and the package are added. */
  keepVisible?: string[];
  /** Modules to load besides VM_MODULES. */
  modules?: string[];
  timeoutMs?: number;
  memoryMb?: number;
  /** Copy the files the script left in the results folder to this host folder (created if needed). */
  saveFilesTo?: string;
  /** Progress messages (download, boot, still running). */
  log?: (m: string) => void;
  /** The script's output as it is written (the whole output is returned as well). */
  onStdout?: (chunk: string) => void;
  onStderr?: (chunk: string) => void;
}

export interface VmRunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  bootMs: number;
  runMs: number;
  /** Other files the script left in its folder (name → content). */
  files: Record<string, string>;
  /** The guest's serial console (kernel and /init messages), last 64 KiB. */
  console: string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const CONSOLE_KEEP = 65_536;

/** Follows a file the guest appends to, handing new text to `on`. */
function follower(path: string, on?: (chunk: string) => void): () => void {
  let offset = 0;
  const buf = Buffer.alloc(65_536);
  return () => {
    if (!on) return;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      for (let n; (n = readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n) on(buf.subarray(0, n).toString());
    } finally {
      closeSync(fd);
    }
  };
}

/** Host folders hidden by the guest's tmpfs mounts that must stay visible: shared again at the same path. */
async function hiddenFolders(paths: string[]): Promise<string[]> {
  const real = await Promise.all(paths.map((p) => realpath(p).catch(() => undefined)));
  const hidden = real.filter((p): p is string => !!p && /^\/(tmp|run)(\/|$)/.test(p) && !/^\/(tmp|run)\/?$/.test(p));
  return [...new Set(hidden)].filter((p, _, all) => !all.some((q) => q !== p && p.startsWith(`${q}/`)));
}

/** qemu's -virtfs option value: commas in a path are doubled. */
const virtfs = (path: string, tag: string, readonly: boolean) =>
  `local,path=${path.replace(/,/g, ',,')},mount_tag=${tag},security_model=none,multidevs=remap${readonly ? ',readonly=on' : ''}`;

/**
 * Boots the VM, runs `script` as root inside it and returns its exit status and output. The qemu
 * process and the results folder are removed afterwards, also on failure, timeout or a signal.
 * Throws VmError when the lab itself fails (kind 'setup', 'boot' or 'timeout').
 */
export async function runInVm(o: VmRunOptions): Promise<VmRunResult> {
  const log = o.log ?? (() => {});
  requireCommand('qemu-system-x86_64', 'qemu-system-x86');
  const kernel = await ensureKernel(log);
  const initrd = await buildInitramfs(kernel, o.modules);
  const results = await mkdtemp(join(tmpdir(), 'aavip-vm-'));
  let qemuPid: number | undefined;
  // If this process is told to stop, take the VM and its folder with it (synchronously: it is leaving).
  const cleanUp = () => {
    if (qemuPid)
      try {
        process.kill(qemuPid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    rmSync(results, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => {
    cleanUp();
    removeHandlers();
    process.kill(process.pid, signal);
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const removeHandlers = () => {
    process.off('exit', cleanUp);
    for (const s of signals) process.off(s, onSignal);
  };
  process.on('exit', cleanUp);
  for (const s of signals) process.on(s, onSignal);
  try {
    await chmod(results, 0o755);
    const shares = await writeGuestScripts(results, o);
    const run = await bootAndRun(kernel, initrd, results, shares, o, log, (pid) => {
      qemuPid = pid;
    });
    qemuPid = undefined;
    return await collect(results, run, o, log);
  } finally {
    cleanUp();
    removeHandlers();
  }
}

/** Writes the guest's scripts into the results folder; returns the host folders shared again. */
async function writeGuestScripts(results: string, o: VmRunOptions): Promise<string[]> {
  const cwd = o.cwd ?? results;
  const shares = await hiddenFolders([...(o.keepVisible ?? []), cwd, PACKAGE_ROOT].filter((p) => p !== results));
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    AAVIP_IN_VM: '1',
    AAVIP_RESULTS: GUEST_RESULTS,
    ...o.env,
  };
  const guestCwd = cwd === results ? GUEST_RESULTS : cwd;
  await writeFile(
    join(results, 'mounts.sh'),
    shares.map((p, i) => `mkdir -p ${shellQuote(`/host${p}`)} && mount -t 9p -o $opts,ro,cache=loose keep${i} ${shellQuote(`/host${p}`)} || exit 1\n`).join(''),
  );
  await writeFile(
    join(results, 'launch.sh'),
    [
      `exec </dev/null >${GUEST_RESULTS}/stdout 2>${GUEST_RESULTS}/stderr`,
      ...Object.entries(env).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
      `cd ${shellQuote(guestCwd)} || exit 125`,
      `/bin/sh ${GUEST_RESULTS}/run.sh`,
    ].join('\n') + '\n',
  );
  await writeFile(join(results, 'run.sh'), o.script);
  for (const [name, content] of Object.entries(o.files ?? {})) await writeFile(join(results, name), content);
  return shares;
}

interface QemuRun {
  consoleText: string;
  t0: number;
  tRun: number;
  tEnd: number;
  timedOut: boolean;
  timeoutMs: number;
}

/** Boots qemu and waits until it exits (the guest powers off when its script ends) or times out. */
async function bootAndRun(
  kernel: { vmlinuz: string; version: string },
  initrd: string,
  results: string,
  shares: string[],
  o: VmRunOptions,
  log: (m: string) => void,
  onPid: (pid: number | undefined) => void,
): Promise<QemuRun> {
  const args = [
    '-accel',
    'tcg',
    '-m',
    String(o.memoryMb ?? 1024),
    '-smp',
    '2',
    '-nographic',
    '-no-reboot',
    '-nic',
    'none',
    '-kernel',
    kernel.vmlinuz,
    '-initrd',
    initrd,
    '-append',
    'console=ttyS0 quiet panic=-1 mitigations=off',
    '-virtfs',
    virtfs('/', 'host', true),
    '-virtfs',
    virtfs(results, 'results', false),
    ...shares.flatMap((p, i) => ['-virtfs', virtfs(p, `keep${i}`, true)]),
  ];
  const t0 = Date.now();
  let tRun = 0;
  const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onPid(qemu.pid);
  log(`booting ${kernel.version} under qemu (software emulation, pid ${qemu.pid})`);
  let consoleText = '';
  const onConsole = (d: Buffer) => {
    consoleText = (consoleText + d.toString()).slice(-CONSOLE_KEEP);
    if (!tRun && consoleText.includes('aavip-vm: running')) {
      tRun = Date.now();
      log(`booted in ${((tRun - t0) / 1000).toFixed(1)} s; running`);
    }
  };
  qemu.stdout.on('data', onConsole);
  qemu.stderr.on('data', onConsole);
  const exited = new Promise<string | undefined>((resolve) => {
    qemu.on('error', (e) => resolve(e.message));
    qemu.on('exit', () => resolve(undefined));
  });
  const followOut = follower(join(results, 'stdout'), o.onStdout);
  const followErr = follower(join(results, 'stderr'), o.onStderr);
  const timeoutMs = o.timeoutMs ?? 600_000;
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutMs);
  let reported = 0;
  const ticker = setInterval(() => {
    followOut();
    followErr();
    const minutes = Math.floor((Date.now() - t0) / 60_000);
    if (minutes > reported) log(`${tRun ? 'running' : 'booting'} for ${(reported = minutes)} min`);
  }, 1000);
  const spawnError = await exited;
  clearTimeout(killer);
  clearInterval(ticker);
  onPid(undefined);
  followOut();
  followErr();
  if (spawnError) throw new VmError(`cannot start qemu-system-x86_64: ${spawnError}`, 'boot');
  return { consoleText, t0, tRun, tEnd: Date.now(), timedOut, timeoutMs };
}

/** The script's exit status, output and files, or the reason the VM did not finish it. */
async function collect(results: string, r: QemuRun, o: VmRunOptions, log: (m: string) => void): Promise<VmRunResult> {
  for (const m of r.consoleText.matchAll(/aavip-vm: (insmod \S+ failed)/g)) log(`warning: ${m[1]}`);
  const read = (f: string) => readFile(join(results, f), 'utf8').catch(() => '');
  const exitText = (await read('exit')).trim();
  if (r.timedOut) {
    throw new VmError(
      `the VM did not finish within ${r.timeoutMs / 1000} s (${r.tRun ? 'the script was running' : 'it had not booted'}); ` +
        `the script's last output:\n${(await read('stderr')).slice(-3000)}`,
      'timeout',
    );
  }
  if (!/^\d+$/.test(exitText)) {
    throw new VmError(
      `the VM stopped without finishing the script (${r.tRun ? 'it crashed while running' : 'it did not boot'}); console:\n${r.consoleText.slice(-3000)}`,
      'boot',
    );
  }
  const ours = new Set(['mounts.sh', 'launch.sh', 'run.sh', 'stdout', 'stderr', 'exit']);
  const files: Record<string, string> = {};
  for (const f of await readdir(results)) {
    if (ours.has(f)) continue;
    files[f] = await read(f);
    if (o.saveFilesTo) {
      await mkdir(o.saveFilesTo, { recursive: true });
      await cp(join(results, f), join(o.saveFilesTo, f), { recursive: true });
    }
  }
  return {
    exitCode: Number(exitText),
    stdout: await read('stdout'),
    stderr: await read('stderr'),
    console: r.consoleText,
    bootMs: (r.tRun || r.tEnd) - r.t0,
    runMs: r.tRun ? r.tEnd - r.tRun : 0,
    files,
  };
}
