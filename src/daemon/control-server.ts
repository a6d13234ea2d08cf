// The daemon's control socket: a unix socket only root can reach (mode 0600, in a 0700 folder).
// One request line per connection; anything after it is ignored, a line longer than 64 KiB
// closes the connection. Requests that change the daemon (reload, drain) run one at a time.
import { createServer, type Server } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ControlRequest } from './control-protocol.js';

const MAX_REQUEST = 65536;

export interface ControlServer {
  close(): Promise<void>;
}

export async function openControlServer(path: string, handle: (r: ControlRequest) => Promise<unknown>): Promise<ControlServer> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await rm(path, { force: true });
  let serial: Promise<unknown> = Promise.resolve();
  const run = (r: ControlRequest): Promise<unknown> => {
    if (r.cmd === 'status') return handle(r);
    const next = serial.then(() => handle(r));
    serial = next.catch(() => undefined);
    return next;
  };
  const server: Server = createServer((conn) => {
    let buf = '';
    let taken = false;
    conn.on('error', () => conn.destroy());
    conn.on('data', (d) => {
      if (taken) return;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > MAX_REQUEST) conn.destroy();
        return;
      }
      taken = true;
      let request: ControlRequest;
      try {
        request = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch (e) {
        conn.end(JSON.stringify({ error: (e as Error).message }) + '\n');
        return;
      }
      run(request).then(
        (reply) => conn.end(JSON.stringify(reply) + '\n'),
        (e: Error) => conn.end(JSON.stringify({ error: e.message }) + '\n'),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(path, 0o600);
  return {
    close: async () => {
      await new Promise((r) => server.close(() => r(undefined)));
      await rm(path, { force: true });
    },
  };
}
