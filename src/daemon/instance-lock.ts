// One daemon per node: a second `aavip up` for the same node would take the heartbeat port, make
// the first one deaf and, on exit, remove its control socket. The lock is a kernel flock beside
// the control socket (released by the kernel when the holder dies, so never stale), and the
// holder's pid is written next to it for the refusal's message.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { holdLock } from '../dataplane/lock.js';

export class AlreadyRunning extends Error {
  constructor(
    readonly pid: number | undefined,
    socket: string,
  ) {
    super(`aavip is already running for this node${pid ? ` (pid ${pid})` : ''}: its control socket is ${socket}`);
    this.name = 'AlreadyRunning';
  }
}

export interface InstanceLock {
  release(): Promise<void>;
}

export async function lockInstance(controlSocket: string): Promise<InstanceLock> {
  const lockFile = `${controlSocket}.lock`;
  const pidFile = `${controlSocket}.pid`;
  await mkdir(dirname(controlSocket), { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await holdLock(lockFile, 0);
  } catch {
    const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim()) || undefined;
    throw new AlreadyRunning(pid, controlSocket);
  }
  await writeFile(pidFile, `${process.pid}\n`);
  return {
    release: async () => {
      await rm(pidFile, { force: true });
      await release();
    },
  };
}

/** The pid of the daemon holding the node's lock, if one runs (for `aavip down`). */
export async function runningDaemon(controlSocket: string): Promise<number | undefined> {
  let release: (() => Promise<void>) | undefined;
  try {
    release = await holdLock(`${controlSocket}.lock`, 0);
  } catch {
    return Number((await readFile(`${controlSocket}.pid`, 'utf8').catch(() => '')).trim()) || -1;
  }
  await release();
  return undefined;
}
