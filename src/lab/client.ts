// The lab's client: a bounded burst of real TCP connections to the VIP from many source
// addresses, each recording its source port and which node answered. Runs inside the client
// namespace; prints one JSON document on stdout.
// Usage: node client.js '{"target":"198.18.0.100","port":8080,"sources":[...],"count":600,"concurrency":32,"timeoutMs":3000}'
//        node client.js - < options.json
import { connect } from 'node:net';

export interface BurstOptions {
  target: string;
  port: number;
  sources: string[];
  count: number;
  concurrency: number;
  timeoutMs: number;
  /** Exact (source address, source port) tuples to connect from, instead of `count` ephemeral ones. */
  tuples?: { src: string; sport: number }[];
  /** Report progress on stderr as `progress DONE TOTAL` lines. */
  progress?: boolean;
}

export interface Attempt {
  src: string;
  sport: number;
  /** The name the server answered with; undefined when the connection failed. */
  node?: string;
  error?: string;
  /** The TCP handshake completed (some node's kernel accepted the connection), answered or not. */
  connected?: boolean;
  ms: number;
}

export function attempt(target: string, port: number, src: string, timeoutMs: number, localPort?: number): Promise<Attempt> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target, port, localAddress: src, localPort });
    let sport = localPort ?? 0;
    let buf = '';
    let connected = false;
    let settled = false;
    const done = (r: Omit<Attempt, 'src' | 'sport' | 'ms' | 'connected'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // A connection that never completed has its port from its bound socket.
      if (!sport) sport = socket.localPort ?? 0;
      socket.destroy();
      resolve({ src, sport, connected, ms: performance.now() - t0, ...r });
    };
    // The verdict waits for the I/O already queued: when this process was stalled (a loaded
    // machine), the timer runs before the poll phase that holds the answer that came in time.
    const timer = setTimeout(() => setImmediate(() => done({ error: 'timeout' })), timeoutMs);
    socket.on('connect', () => {
      connected = true;
      sport = socket.localPort ?? 0;
    });
    socket.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) done({ node: buf.slice(0, nl) });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    socket.on('close', () => done({ error: 'closed' }));
  });
}

export async function burst(o: BurstOptions): Promise<Attempt[]> {
  const count = o.tuples?.length ?? o.count;
  const results: Attempt[] = new Array(count);
  let next = 0;
  let done = 0;
  const every = Math.max(1, Math.floor(count / 100));
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const t = o.tuples?.[i];
      results[i] = await attempt(o.target, o.port, t ? t.src : o.sources[i % o.sources.length], o.timeoutMs, t?.sport);
      if (o.progress && (++done % every === 0 || done === count)) process.stderr.write(`progress ${done} ${count}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, count) }, worker));
  return results;
}

async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

if (process.argv[1]?.endsWith('client.js') && process.argv[2]) {
  // '-': the options come on stdin (a long tuple list would not fit in one argument).
  const text = process.argv[2] === '-' ? readStdin() : Promise.resolve(process.argv[2]);
  text.then((t) => burst(JSON.parse(t) as BurstOptions)).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
