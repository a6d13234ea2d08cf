// Long-lived connections for the labs: opens `count` connections to the VIP and keeps them. On
// stdin, `probe [MS]` sends a line on each and reports which still echo it back within MS (the
// default timeout otherwise; and any that were reset); `close` ends them. Each answer is one JSON
// line on stdout.
// Usage: node holder.js '{"target":"198.18.0.100","port":8080,"sources":[...],"count":200,"timeoutMs":3000}'
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';

interface Held {
  src: string;
  sport: number;
  node: string;
  socket: Socket;
  buf: string;
  closed?: string;
}

export interface HolderOptions {
  target: string;
  port: number;
  sources: string[];
  count: number;
  timeoutMs: number;
  /** Exact (source address, source port) tuples to connect from, instead of `count` ephemeral ones. */
  tuples?: { src: string; sport: number }[];
}

async function open(o: HolderOptions, src: string, localPort?: number): Promise<Held | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: o.target, port: o.port, localAddress: src, localPort });
    const h: Held = { src, sport: 0, node: '', socket, buf: '' };
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, o.timeoutMs);
    socket.on('connect', () => {
      h.sport = socket.localPort ?? 0;
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      h.closed ??= e.code ?? e.message;
      clearTimeout(timer);
      resolve(h.node ? h : undefined);
    });
    socket.on('close', () => {
      h.closed ??= 'closed';
    });
    socket.on('data', (d) => {
      h.buf += d;
      if (!h.node) {
        const nl = h.buf.indexOf('\n');
        if (nl >= 0) {
          h.node = h.buf.slice(0, nl);
          h.buf = h.buf.slice(nl + 1);
          clearTimeout(timer);
          resolve(h);
        }
      }
    });
  });
}

function probe(h: Held, timeoutMs: number): Promise<boolean> {
  if (h.closed) return Promise.resolve(false);
  return new Promise((resolve) => {
    h.buf = '';
    const onData = () => {
      if (h.buf.includes('probe\n')) finish(true);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      h.socket.off('data', onData);
      resolve(ok);
    };
    h.socket.on('data', onData);
    h.socket.write('probe\n');
  });
}

async function main(o: HolderOptions): Promise<void> {
  const held: Held[] = [];
  const tuples: { src: string; sport?: number }[] =
    o.tuples ?? Array.from({ length: o.count }, (_, i) => ({ src: o.sources[i % o.sources.length], sport: undefined }));
  for (let i = 0; i < tuples.length; i += 32) {
    const batch = await Promise.all(tuples.slice(i, i + 32).map((t) => open(o, t.src, t.sport)));
    for (const h of batch) if (h) held.push(h);
  }
  const describe = () => held.map((h) => ({ src: h.src, sport: h.sport, node: h.node }));
  process.stdout.write(JSON.stringify({ opened: describe() }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, ms] = line.trim().split(/\s+/);
    if (cmd === 'probe') {
      const alive = await Promise.all(held.map((h) => probe(h, Number(ms) || o.timeoutMs)));
      process.stdout.write(JSON.stringify({ alive, closed: held.map((h) => h.closed ?? null) }) + '\n');
    } else if (cmd === 'close') break;
  }
  for (const h of held) h.socket.destroy();
}

if (process.argv[1]?.endsWith('holder.js') && process.argv[2]) void main(JSON.parse(process.argv[2]) as HolderOptions);
