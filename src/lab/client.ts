// The lab's client: a bounded burst of real TCP connections to the VIP from many source
// addresses, each recording its source port and which node answered. Runs inside the client
// namespace; prints one JSON document on stdout.
// Usage: node client.js '{"target":"198.18.0.100","port":8080,"sources":[...],"count":600,"concurrency":32,"timeoutMs":3000}'
import { connect } from 'node:net';

export interface BurstOptions {
  target: string;
  port: number;
  sources: string[];
  count: number;
  concurrency: number;
  timeoutMs: number;
}

export interface Attempt {
  src: string;
  sport: number;
  /** The name the server answered with; undefined when the connection failed. */
  node?: string;
  error?: string;
  ms: number;
}

export function attempt(target: string, port: number, src: string, timeoutMs: number, localPort?: number): Promise<Attempt> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: target, port, localAddress: src, localPort });
    let sport = localPort ?? 0;
    let buf = '';
    const done = (r: Omit<Attempt, 'src' | 'sport' | 'ms'>) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ src, sport, ms: performance.now() - t0, ...r });
    };
    const timer = setTimeout(() => done({ error: 'timeout' }), timeoutMs);
    socket.on('connect', () => { sport = socket.localPort ?? 0; });
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
  const results: Attempt[] = new Array(o.count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < o.count; i = next++) results[i] = await attempt(o.target, o.port, o.sources[i % o.sources.length], o.timeoutMs);
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, worker));
  return results;
}

if (process.argv[1]?.endsWith('client.js') && process.argv[2]) {
  const opts = JSON.parse(process.argv[2]) as BurstOptions;
  burst(opts).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
}
