// Helpers shared by the integration tests: long-lived connections held from the client namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { join } from 'node:path';
import type { NetnsLab } from '../../src/lab/netns.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

export const DIST = join(PACKAGE_ROOT, 'dist', 'src');

/**
 * `nft -j list ruleset` without what the kernel changes by itself between two reads: counters
 * (traffic the lab did not send: ND, a late retransmit), the flows each VIP table remembers, and
 * the time left on leases.
 */
export function withoutLiveState(json: string): string {
  const doc = JSON.parse(json) as { nftables: Record<string, any>[] };
  for (const o of doc.nftables) {
    if (o.set?.name === 'flows' || o.set?.name === 'closing') delete o.set.elem;
    for (const e of o.map?.elem ?? []) if (e[0]?.elem) delete e[0].elem.expires;
  }
  // Every counter's values, in rules and named counters alike, wherever they sit.
  const strip = (x: unknown): void => {
    if (!x || typeof x !== 'object') return;
    for (const k of ['packets', 'bytes']) delete (x as Record<string, unknown>)[k];
    for (const v of Object.values(x)) strip(v);
  };
  strip(doc);
  return JSON.stringify(doc);
}

export interface HeldConnection {
  src: string;
  sport: number;
  node: string;
}

export class Holder {
  private lines: AsyncIterator<string>;
  private constructor(
    private readonly child: ChildProcess,
    rl: Interface,
  ) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  static async open(
    lab: NetnsLab,
    opts: { target: string; port: number; count: number; sources?: string[] },
  ): Promise<{ holder: Holder; opened: HeldConnection[] }> {
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        lab.clientNs,
        process.execPath,
        join(DIST, 'lab', 'holder.js'),
        JSON.stringify({ ...opts, sources: opts.sources ?? lab.clientSources, timeoutMs: 3000 }),
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const holder = new Holder(child, createInterface({ input: child.stdout! }));
    const first = JSON.parse(await holder.next()) as { opened: HeldConnection[] };
    return { holder, opened: first.opened };
  }

  private async next(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) throw new Error('holder exited');
    return r.value;
  }

  async probe(): Promise<{ alive: boolean[]; closed: (string | null)[] }> {
    this.child.stdin!.write('probe\n');
    return JSON.parse(await this.next());
  }

  async close(): Promise<void> {
    // Killed by the SIGKILL below, a holder has a signalCode and no exitCode: closing twice must not wait forever.
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end('close\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await done;
    clearTimeout(t);
  }
}

/** Whether a process of this pid runs (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `f` every 20 ms until it holds or `ms` pass; returns its last value. */
export async function waitFor(f: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end && !f(); ) await new Promise((r) => setTimeout(r, 20));
  return f();
}
