// The labs' side of holder.ts: long-lived connections opened from the client namespace, probed on
// demand (each probe is a line sent on every connection and echoed by the server that holds it),
// and closed. One holder process per set.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { built } from '../paths.js';
import type { HolderOptions } from './holder.js';
import type { NetnsLab } from './netns.js';

export interface HeldConnection {
  src: string;
  sport: number;
  /** The server's greeting: which node or real server holds it. */
  node: string;
}

export class LongLived {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: AsyncIterator<string>,
    readonly opened: HeldConnection[],
  ) {}

  static async open(lab: NetnsLab, o: HolderOptions): Promise<LongLived> {
    const child = lab.spawn(lab.clientNs, [process.execPath, built('lab/holder.js'), JSON.stringify(o)], process.env, ['pipe', 'pipe', 'ignore']);
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error('the lab holder exited before opening its connections');
    return new LongLived(child, lines, (JSON.parse(first.value) as { opened: HeldConnection[] }).opened);
  }

  /** Which connections still echo a line within timeoutMs (default: the holder's), in `opened` order. */
  async probe(timeoutMs?: number): Promise<boolean[]> {
    this.child.stdin!.write(timeoutMs ? `probe ${timeoutMs}\n` : 'probe\n');
    const r = await this.lines.next();
    if (r.done) throw new Error('the lab holder exited');
    return (JSON.parse(r.value) as { alive: boolean[] }).alive;
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) this.child.stdin!.write('close\n');
    this.child.kill();
  }
}
