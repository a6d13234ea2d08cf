// The real servers of bench/lvs-checks.ts: N tiny HTTP responders on loopback in one process,
// counting the connections they accept, so every checker is measured the same way (checks per
// second = connections accepted per second). Run as a child with an IPC channel:
//   node lvs-listeners.js HOST BASEPORT N
// Messages in: { op: 'count' } | { op: 'close', index } | { op: 'hang', index } | { op: 'open', index };
// every message is answered with { accepted } (after the change). 'close' stops a server (connections
// are refused); 'hang' replaces it with one that accepts and never answers; 'open' restores it.
// 'ready' is sent once all ports listen.
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export type ListenerRequest = { op: 'count' } | { op: 'close' | 'hang' | 'open'; index: number };
export interface ListenerReply {
  accepted: number;
}

const REPLY = Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK');

async function serve(host: string, basePort: number, n: number): Promise<void> {
  let accepted = 0;
  const onConnection = (c: Socket) => {
    accepted++;
    c.on('error', () => {});
    // Answer once the request has arrived (closing with it unread would reset the connection).
    c.once('data', () => c.end(REPLY));
  };
  const listen = (s: Server, port: number) =>
    new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen({ port, host, backlog: 511 }, () => {
        s.off('error', reject);
        resolve();
      });
    });
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const s = createServer(onConnection);
    await listen(s, basePort + i);
    servers.push(s);
  }
  // Connections held by hung servers, dropped when the server is restored.
  const held = new Map<number, Socket[]>();
  const stop = async (i: number) => {
    // Held connections first: close() waits for the server's connections to end.
    for (const c of held.get(i) ?? []) c.destroy();
    held.delete(i);
    if (servers[i]?.listening) await new Promise((r) => servers[i].close(r));
  };
  process.on('message', (m: ListenerRequest) => {
    void (async () => {
      if (m.op === 'close') await stop(m.index);
      if (m.op === 'hang') {
        await stop(m.index);
        const sockets: Socket[] = [];
        held.set(m.index, sockets);
        servers[m.index] = createServer((c) => {
          accepted++;
          c.on('error', () => {});
          sockets.push(c);
        });
        await listen(servers[m.index], basePort + m.index);
      }
      if (m.op === 'open') {
        await stop(m.index);
        servers[m.index] = createServer(onConnection);
        await listen(servers[m.index], basePort + m.index);
      }
      process.send!({ accepted } satisfies ListenerReply);
    })();
  });
  // The parent going away ends this process too.
  process.on('disconnect', () => process.exit(0));
  process.send!('ready');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, basePort, n] = process.argv.slice(2);
  serve(host, Number(basePort), Number(n)).catch((e: Error) => {
    process.stderr.write(`listeners: ${e.message}\n`);
    process.exit(1);
  });
}
