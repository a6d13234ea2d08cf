// The soak's real servers (run in a lab namespace by bench/soak.ts): HTTP listeners on port 80 that
// are hostile to a health check, and one that answers. argv: a JSON list of {kind, address}.
// Every 2 s (and on exit) a JSON line on stdout says, per server, connections accepted, open now
// and bytes sent: "open" staying small shows the checker closes what it gave up on.
import { createServer, type Socket } from 'node:net';

export type ServerKind = 'silent' | 'drip' | 'endless' | 'huge' | 'good';

interface Stats {
  kind: ServerKind;
  address: string;
  accepted: number;
  open: number;
  bytesSent: number;
}

/** What a huge-body server streams per connection (unless the checker hangs up first). */
const HUGE_BODY = 400 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

/** Writes `total` bytes of CHUNKs as fast as the peer reads them, stopping when it goes away. */
function stream(c: Socket, s: Stats, total: number): void {
  let left = total;
  const pump = () => {
    while (left > 0 && !c.destroyed) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      s.bytesSent += n;
      if (!c.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) return void c.once('drain', pump);
    }
    if (left <= 0) c.end();
  };
  pump();
}

const behaviour: Record<ServerKind, (c: Socket, s: Stats) => void> = {
  // Accepts and never answers: the check can end only by its own timeout.
  silent: () => {},
  // A valid reply, one byte a second: every byte is progress, none is enough.
  drip: (c, s) => {
    const reply = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nOK\n');
    let i = 0;
    const t = setInterval(() => {
      if (c.destroyed || i >= reply.length) return void clearInterval(t);
      c.write(reply.subarray(i, ++i));
      s.bytesSent++;
    }, 1000);
    c.on('close', () => clearInterval(t));
  },
  // A header line that never ends, as fast as the checker reads.
  endless: (c, s) => {
    c.write('HTTP/1.0 200 OK\r\nX-Endless: ');
    stream(c, s, Number.MAX_SAFE_INTEGER);
  },
  // A well-formed head announcing hundreds of MB, then the body, never containing the receive string.
  huge: (c, s) => {
    c.write(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HUGE_BODY}\r\n\r\n`);
    stream(c, s, HUGE_BODY);
  },
  good: (c, s) => {
    c.once('data', () => {
      const body = 'OK soak-alive\n';
      c.end(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      s.bytesSent += body.length;
    });
  },
};

const wanted = JSON.parse(process.argv[2] ?? '[]') as { kind: ServerKind; address: string }[];
const stats: Stats[] = [];
for (const w of wanted) {
  const s: Stats = { kind: w.kind, address: w.address, accepted: 0, open: 0, bytesSent: 0 };
  stats.push(s);
  const server = createServer((c) => {
    s.accepted++;
    s.open++;
    c.on('close', () => s.open--);
    c.on('error', () => {});
    // Reading is what notices the checker's FIN: a paused socket would count as open for ever.
    c.resume();
    behaviour[w.kind](c, s);
  });
  server.listen(80, w.address);
}
const report = () => process.stdout.write(`${JSON.stringify(stats)}\n`);
setInterval(report, 2000);
// The first line says every listener is up.
setTimeout(report, 200);
process.on('SIGTERM', () => {
  report();
  process.exit(0);
});
