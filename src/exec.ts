// Running other programs (nft, iptables, ip, conntrack, getent, the labs' tools). One place for spawning, so every failure
// reads the same: the command, its exit status and its stderr.
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${status}): ${stderr.trim()}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  input?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  timeoutMs?: number;
  cwd?: string;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdout!.on('data', (d) => {
      stdout += d;
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(`${command} ${args.join(' ')}`, null, e.message));
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      if (status !== 0 && !opts.allowFailure) reject(new CommandError(`${command} ${args.join(' ')}`, status, stderr));
      else resolve({ status, stdout, stderr });
    });
    if (child.stdin) {
      // A tool that exits before reading its input must not crash us with EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(opts.input);
    }
  });
}
