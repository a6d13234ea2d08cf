// A per-VIP lock for read-modify-write of ownership: several Pacemaker clone instances may start
// on one node at once. It is a kernel flock(2) on a file under /run/aavip, held by a small `flock`
// child for as long as the work runs: the kernel releases it when that child exits, which it does
// when we close its stdin or die, so a crashed holder never leaves a stale lock behind (a PID file
// cannot promise that without races). The lock file itself stays; deleting it would let two
// waiters lock two different files.
// The kernel state it guards belongs to a network namespace, so the lock is per (namespace, VIP):
// lab nodes in namespaces of one machine share /run but not their rules.
import { spawn } from 'node:child_process';
import { mkdir, readlink } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { formatAddress } from '../hash/flow.js';
import type { VipSpec } from './types.js';
import { runDir } from '../paths.js';

const lockDir = runDir;

export async function vipLockPath(vip: VipSpec): Promise<string> {
  const netns = (await readlink('/proc/self/ns/net').catch(() => '')).match(/\[(\d+)\]/)?.[1] ?? 'net';
  return `${lockDir()}/vip-${netns}-${formatAddress(vip.address).replace(/[:.]/g, '_')}.lock`;
}

/** Holds an exclusive flock on `path` until release() (or until this process dies); timeoutMs 0 does not wait. */
export async function holdLock(path: string, timeoutMs: number): Promise<() => Promise<void>> {
  // `flock -w T FILE sh -c ...` prints once it holds the lock, then waits for stdin to close.
  const child = spawn('flock', ['--exclusive', '--wait', String(Math.ceil(timeoutMs / 1000)), path, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.once('close', r));
  const locked = new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout! }).once('line', () => resolve(true));
    child.once('error', () => resolve(false));
    void exited.then(() => resolve(false));
  });
  if (!(await locked)) {
    const status = await exited;
    throw new Error(`could not lock ${path} within ${timeoutMs} ms${status === 1 ? ' (held by another aavip)' : ''}${stderr ? `: ${stderr.trim()}` : ''}`);
  }
  return async () => {
    child.stdin!.end();
    await exited;
  };
}

export async function withVipLock<T>(vip: VipSpec, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  await mkdir(lockDir(), { recursive: true });
  const release = await holdLock(await vipLockPath(vip), timeoutMs);
  try {
    return await fn();
  } finally {
    await release();
  }
}
