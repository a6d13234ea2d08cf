// Running fallbackcommand: through the shell, in a process group of its own, for at most a
// bound. A command that hangs would otherwise hold the end of every round (and with it the
// next fallbackcommand) for ever; at the bound its whole group is killed (the shell and
// whatever it started), by PID.
import { spawn } from 'node:child_process';

export type CommandOutcome =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  | { kind: 'timed-out'; pid: number }
  | { kind: 'failed'; error: string };

export function runShellBounded(command: string, timeoutMs: number): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', detached: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // A negative PID is the process group the detached shell leads.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(timedOut ? { kind: 'timed-out', pid: child.pid! } : { kind: 'exited', code, signal });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ kind: 'failed', error: e.message });
    });
  });
}
