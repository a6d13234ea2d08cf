// The client side of the daemon's control socket (a unix socket: local and root-only; there is
// no network-facing control port). One JSON request line, one JSON reply.
import { connect } from 'node:net';
import type { ControlRequest } from './control-protocol.js';

/** The daemon is not running here (no socket, or nobody listening on it): a user error, not a bug. */
export class DaemonNotRunning extends Error {
  constructor(readonly socketPath: string) {
    super(`aavip is not running here (no daemon on ${socketPath}); if it runs under another configuration or node, give --config/--node`);
    this.name = 'DaemonNotRunning';
  }
}

export function askDaemon(socketPath: string, request: ControlRequest, timeoutMs = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const conn = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    conn.on('connect', () => conn.write(JSON.stringify(request) + '\n'));
    conn.on('data', (d) => {
      buf += d;
    });
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(buf));
      } catch (e) {
        reject(e);
      }
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? new DaemonNotRunning(socketPath) : e);
    });
  });
}
