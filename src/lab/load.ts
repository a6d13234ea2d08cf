// Continuous client load for the failover lab: starts a new connection every `everyMs` for
// `durationMs` (at most `concurrency` at once), each given up after `timeoutMs`, from the given
// (source address, source port) tuples in order — chosen by the caller so that each attempt's
// bucket is known even when it fails. Prints one JSON array of attempts with wall-clock start/end
// times, so they can be set against the moment a node was killed.
// Usage: node load.js FILE   (FILE holds the LoadOptions as JSON)
import { readFileSync } from 'node:fs';
import { attempt } from './client.js';

export interface LoadOptions {
  target: string;
  port: number;
  everyMs: number;
  durationMs: number;
  concurrency: number;
  timeoutMs: number;
  tuples: { src: string; sport: number }[];
}
export interface TimedAttempt {
  src: string;
  sport: number;
  node?: string;
  error?: string;
  connected?: boolean;
  start: number;
  end: number;
}

export async function load(o: LoadOptions): Promise<TimedAttempt[]> {
  const out: TimedAttempt[] = [];
  const pending = new Set<Promise<void>>();
  const stopAt = Date.now() + o.durationMs;
  let i = 0;
  while (Date.now() < stopAt && i < o.tuples.length) {
    if (pending.size < o.concurrency) {
      const { src, sport } = o.tuples[i++];
      const start = Date.now();
      const p = attempt(o.target, o.port, src, o.timeoutMs, sport).then((a) => {
        out.push({ src, sport, node: a.node, error: a.error, connected: a.connected, start, end: Date.now() });
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await new Promise((r) => setTimeout(r, o.everyMs));
  }
  await Promise.all(pending);
  return out.sort((a, b) => a.start - b.start);
}

if (process.argv[1]?.endsWith('load.js') && process.argv[2]) {
  load(JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadOptions).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
