// The check life cycle against misbehaving real servers on loopback: a check that ends — answered,
// failed, capped or timed out — leaves no socket of its own open, and never reads past its caps.
// Sockets are counted in /proc: the process's socket fds (/proc/self/fd) whose inode the kernel
// lists as UDP or TCP (/proc/self/net/*), the TCP ones also by the test server's port.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { externalCheck, negotiateCheck, type CheckTarget } from '../../src/lvs/checks/checks.js';
import { startCheck } from '../../src/lvs/checks/lifecycle.js';

const HOST = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function target(over: Partial<CheckTarget>): CheckTarget {
  return {
    service: 'smtp',
    request: '',
    receive: '',
    httpmethod: 'GET',
    virtualhost: undefined,
    login: '',
    passwd: '',
    database: '',
    secret: '',
    checkcommand: '',
    host: HOST,
    port: 0,
    realPort: 0,
    virtualHost: '198.18.0.100',
    virtualPort: 25,
    protocol: 'tcp',
    timeoutMs: 1000,
    checkcount: 1,
    ...over,
  };
}

/** Inodes of this process's sockets. */
function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* the fd closed while listing */
    }
  }
  return inodes;
}

/** Rows of /proc/self/net/<table> (tcp, tcp6, udp, udp6): local port, remote port, inode. */
function socketRows(table: string): { local: number; remote: number; inode: string }[] {
  return readFileSync(`/proc/self/net/${table}`, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim())
    .map((l) => {
      const f = l.trim().split(/\s+/);
      return { local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), inode: f[9] };
    });
}

/** UDP sockets this process holds, excluding `except` (the test's own server). */
function ownUdpSockets(exceptPort: number): number {
  const own = ownSocketInodes();
  return [...socketRows('udp'), ...socketRows('udp6')].filter((r) => own.has(r.inode) && r.local !== exceptPort).length;
}

/** TCP sockets this process holds towards `port` (the client side of the test server's connections). */
function ownTcpSocketsTo(port: number): number {
  const own = ownSocketInodes();
  return [...socketRows('tcp'), ...socketRows('tcp6')].filter((r) => own.has(r.inode) && r.remote === port).length;
}

/** Waits (bounded) until `cond` holds; returns whether it did. */
async function eventually(cond: () => boolean, ms = 5000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

interface TcpServer {
  server: Server;
  port: number;
  closedByPeer: number;
  written: number;
}

/** A TCP server on loopback; `serve` runs for each connection, which counts its closes. */
async function tcpServer(serve: (c: Socket, s: TcpServer) => void): Promise<TcpServer> {
  const state: TcpServer = { server: createServer(), port: 0, closedByPeer: 0, written: 0 };
  state.server.on('connection', (c) => {
    c.on('error', () => {});
    c.on('close', () => {
      state.closedByPeer++;
    });
    serve(c, state);
  });
  await new Promise<void>((r) => state.server.listen(0, HOST, () => r()));
  state.port = (state.server.address() as { port: number }).port;
  return state;
}

const servers: { close(): void }[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

describe('sip over UDP to a server that never answers', () => {
  let silent: UdpSocket;
  let port: number;
  beforeAll(async () => {
    silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, HOST, () => r()));
    port = silent.address().port;
    servers.push(silent);
  });

  it('100 checks: each times out, and no UDP socket is left open', async () => {
    const before = ownUdpSockets(port);
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        negotiateCheck(target({ service: 'sip', protocol: 'udp', port, realPort: port, virtualPort: 5060, login: 'alice@198.18.0.100', timeoutMs: 300 })),
      ),
    );
    expect(results.every((r) => !r.up && r.message === 'sip check timed out')).toBe(true);
    expect(await eventually(() => ownUdpSockets(port) <= before)).toBe(true);
    expect(ownUdpSockets(port)).toBe(before);
  });
});

/** Writes `chunk` again and again, as fast as the client reads, until `total` bytes have gone (counted in s.written). */
function pump(c: Socket, s: TcpServer, chunk: Buffer, total: number): void {
  while (!c.destroyed && s.written < total) {
    s.written += chunk.length;
    if (!c.write(chunk)) {
      c.once('drain', () => pump(c, s, chunk, total));
      return;
    }
  }
}

describe('a dialogue server that sends an endless line without a newline', () => {
  const TOTAL = 8 * 1024 * 1024;
  let srv: TcpServer;
  beforeAll(async () => {
    // Writes up to TOTAL bytes of one line as fast as the client reads, then holds the connection.
    srv = await tcpServer((c, s) => {
      pump(c, s, Buffer.alloc(16 * 1024, 0x41), TOTAL);
    });
    servers.push(srv.server);
  });

  it('fails at the line cap, closes the connection and stops reading', async () => {
    const r = await negotiateCheck(target({ service: 'smtp', port: srv.port, realPort: srv.port, timeoutMs: 5000 }));
    expect(r).toEqual({ up: false, message: 'smtp: a reply line longer than 65536 bytes' });
    expect(await eventually(() => srv.closedByPeer === 1)).toBe(true);
    expect(srv.written).toBeLessThan(TOTAL);
    expect(ownTcpSocketsTo(srv.port)).toBe(0);
  });
});

describe('a dialogue server that drips one byte every 100 ms', () => {
  /** The server gives up dripping after this many bytes (bounds the test if the client never closes). */
  const MAX_DRIPS = 100;
  let srv: TcpServer;
  beforeAll(async () => {
    srv = await tcpServer((c, s) => {
      let n = 0;
      const t = setInterval(() => {
        if (c.destroyed || n++ >= MAX_DRIPS) {
          clearInterval(t);
          return;
        }
        c.write('2');
        s.written++;
      }, 100);
      c.on('close', () => clearInterval(t));
    });
    servers.push(srv.server);
  });

  for (const service of ['smtp', 'pop', 'imap', 'ftp', 'nntp'] as const) {
    it(`${service}: down at the timeout, and no TCP socket left open`, async () => {
      const closedBefore = srv.closedByPeer;
      const r = await negotiateCheck(target({ service, port: srv.port, realPort: srv.port, timeoutMs: 1000 }));
      expect(r).toEqual({ up: false, message: `${service} check timed out` });
      expect(ownTcpSocketsTo(srv.port)).toBe(0);
      expect(await eventually(() => srv.closedByPeer === closedBefore + 1)).toBe(true);
    });
  }

  it('http: down at the timeout, and no TCP socket left open', async () => {
    const closedBefore = srv.closedByPeer;
    const r = await negotiateCheck(target({ service: 'http', request: '/', port: srv.port, realPort: srv.port, virtualPort: 80, timeoutMs: 1000 }));
    expect(r).toEqual({ up: false, message: 'http check timed out' });
    expect(ownTcpSocketsTo(srv.port)).toBe(0);
    expect(await eventually(() => srv.closedByPeer === closedBefore + 1)).toBe(true);
  });
});

describe('an HTTP server with an endless body or endless headers', () => {
  const TOTAL = 64 * 1024 * 1024;
  let body: TcpServer;
  let head: TcpServer;
  /** After `prefix`, writes up to TOTAL bytes as fast as the client reads, then holds the connection. */
  const endless = (prefix: string, fill: number) => (c: Socket, s: TcpServer) => {
    const chunk = Buffer.alloc(64 * 1024, fill);
    c.once('data', () => {
      c.write(prefix);
      pump(c, s, chunk, TOTAL);
    });
  };
  beforeAll(async () => {
    body = await tcpServer(endless('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n', 0x61));
    head = await tcpServer(endless('HTTP/1.0 200 OK\r\nX-Filler: ', 0x62));
    servers.push(body.server, head.server);
  });
  const http = (port: number, receive: string) => target({ service: 'http', request: '/', receive, port, realPort: port, virtualPort: 80, timeoutMs: 5000 });

  it('with a receive string: judged on the first MiB of the body, then the connection is closed', async () => {
    const r = await negotiateCheck(http(body.port, 'never-there'));
    expect(r).toEqual({ up: false, message: 'HTTP 200, body does not match /never-there/ (first 1048576 bytes read)' });
    expect(await eventually(() => body.closedByPeer === 1)).toBe(true);
    expect(body.written).toBeLessThan(TOTAL);
    expect(ownTcpSocketsTo(body.port)).toBe(0);
  });

  it('without a receive string: up on the status, the body not read', async () => {
    const r = await negotiateCheck(http(body.port, ''));
    expect(r).toEqual({ up: true, message: 'HTTP 200' });
    expect(await eventually(() => body.closedByPeer === 2)).toBe(true);
    expect(ownTcpSocketsTo(body.port)).toBe(0);
  });

  it('headers that never end: down, not judged on a status line alone', async () => {
    const r = await negotiateCheck(http(head.port, ''));
    expect(r).toEqual({ up: false, message: 'HTTP: headers longer than 65536 bytes' });
    expect(await eventually(() => head.closedByPeer === 1)).toBe(true);
    expect(ownTcpSocketsTo(head.port)).toBe(0);
  });
});

describe('the life cycle itself', () => {
  it('an external command still running at the deadline is killed, and the check is down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aavip-checks-'));
    const script = join(dir, 'hang.sh');
    writeFileSync(script, `#!/bin/sh\necho $$ > ${dir}/pid\nexec sleep 30\n`);
    chmodSync(script, 0o755);
    try {
      const r = await externalCheck(target({ checkcommand: script, timeoutMs: 500 }));
      expect(r).toEqual({ up: false, message: 'external check timed out' });
      const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      expect(await eventually(() => !existsSync(`/proc/${pid}`))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a check that throws is down with the reason; one that opens after it ended is refused', async () => {
    let late: unknown;
    const r = await startCheck(
      'probe',
      {
        run: (run) => {
          run.tcp(HOST, 1);
          setImmediate(() => {
            try {
              run.tcp(HOST, 1);
            } catch (e) {
              late = e;
            }
          });
          throw new Error('bad request line');
        },
      },
      target({}),
    );
    expect(r).toEqual({ up: false, message: 'bad request line' });
    expect(await eventually(() => late !== undefined)).toBe(true);
    expect((late as Error).message).toBe('probe check has ended: nothing more may be opened');
  });

  it('a timer a check set is not run once the check has ended', async () => {
    let fired = false;
    const r = await startCheck(
      'probe',
      {
        run: (run) => {
          run.after(200, () => {
            fired = true;
          });
          run.settle({ up: true, message: 'early' });
        },
      },
      target({}),
    );
    expect(r).toEqual({ up: true, message: 'early' });
    await sleep(400);
    expect(fired).toBe(false);
  });
});

describe('an HTTP server that keeps the connection open after its reply', () => {
  let srv: TcpServer;
  beforeAll(async () => {
    // Ignores "Connection: close": the reply is complete by its Content-Length, the socket stays open.
    srv = await tcpServer((c) => c.once('data', () => c.write('HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhealth OK')));
    servers.push(srv.server);
  });

  it('is judged on the body its Content-Length gives, not left to time out', async () => {
    const r = await negotiateCheck(
      target({ service: 'http', request: '/', receive: 'health OK', port: srv.port, realPort: srv.port, virtualPort: 80, timeoutMs: 30_000 }),
    );
    expect(r).toEqual({ up: true, message: 'HTTP 200' });
    expect(await eventually(() => srv.closedByPeer === 1)).toBe(true);
  });
});

describe('an HTTP server that sends its reply a byte at a time', () => {
  let srv: TcpServer;
  beforeAll(async () => {
    // The head's CR LF CR LF comes over four reads: the check must find it across them.
    srv = await tcpServer((c) =>
      c.once('data', () => {
        const reply = Buffer.from('HTTP/1.0 200 OK\r\nX-A: b\r\n\r\nbody OK');
        let i = 0;
        const t = setInterval(() => {
          if (c.destroyed || i >= reply.length) {
            clearInterval(t);
            c.end();
            return;
          }
          c.write(reply.subarray(i, ++i));
        }, 5);
      }),
    );
    servers.push(srv.server);
  });

  it('reads the head across chunks and matches the body', async () => {
    const r = await negotiateCheck(
      target({ service: 'http', request: '/', receive: '^body OK$', port: srv.port, realPort: srv.port, virtualPort: 80, timeoutMs: 10_000 }),
    );
    expect(r).toEqual({ up: true, message: 'HTTP 200' });
  });
});

describe('http redirects', () => {
  let srv: Server;
  let port: number;
  beforeAll(async () => {
    srv = createHttpServer((req, res) => {
      if (req.url === '/a') res.writeHead(302, { Location: '/b' }).end();
      else if (req.url === '/b') res.end('landed OK');
      else res.writeHead(302, { Location: '/loop' }).end();
    });
    await new Promise<void>((r) => srv.listen(0, HOST, () => r()));
    port = (srv.address() as { port: number }).port;
    servers.push(srv);
  });
  const http = (request: string) => target({ service: 'http', request, receive: 'landed', port, realPort: port, virtualPort: 80, timeoutMs: 3000 });

  it("follows a redirect and matches the final body; each hop's connection is closed", async () => {
    expect(await negotiateCheck(http('/a'))).toEqual({ up: true, message: 'HTTP 200' });
    expect(ownTcpSocketsTo(port)).toBe(0);
  });

  it('gives up after 5 redirects', async () => {
    expect(await negotiateCheck(http('/loop'))).toEqual({ up: false, message: 'HTTP 302' });
    expect(ownTcpSocketsTo(port)).toBe(0);
  });
});
