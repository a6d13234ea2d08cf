// Running fallbackcommand (through the shell) and notify commands (without one): in a process
// group of its own, for at most a bound. A command that hangs would otherwise hold the end of
// every round (and with it the next command) for ever; at the bound its whole group is killed
// (the command and whatever it started), by PID.
import { spawn } from 'node:child_process';

export type CommandOutcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'timed-out'; pid: number }
  | { kind: 'failed'; error: string };

export function runShellBounded(command: string, timeoutMs: number): Promise<CommandOutcome> {
  return runBounded('/bin/sh', ['-c', command], timeoutMs);
}

/**
 * Runs `file args` (no shell) in a process group of its own, killed whole at `timeoutMs`; its
 * group id is in `running` while it runs (for whoever must kill it sooner).
 */
export function runBounded(file: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv, running?: Set<number>): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'ignore', detached: true, ...(env ? { env } : {}) });
    if (child.pid) running?.add(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // A negative PID is the process group the detached child leads.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (child.pid) running?.delete(child.pid);
      resolve(timedOut ? { kind: 'timed-out', pid: child.pid! } : { kind: 'exited', code, signal });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ kind: 'failed', error: e.message });
    });
  });
}
