// The control socket: one request per connection (data after the request line is ignored, not
// run again), and requests that change the daemon run one at a time.
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { askDaemon, DaemonNotRunning } from '../../src/daemon/control-client.js';
import type { ControlRequest } from '../../src/daemon/control-protocol.js';
import { openControlServer, type ControlServer } from '../../src/daemon/control-server.js';

let server: ControlServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const path = () => join(mkdtempSync(join(tmpdir(), 'aavip-ctl-')), 'ctl.sock');

describe('control socket', () => {
  it('runs a request once however many chunks follow it on the connection', async () => {
    const p = path();
    const seen: ControlRequest[] = [];
    server = await openControlServer(p, async (r) => {
      seen.push(r);
      return { ok: true };
    });
    await new Promise<void>((resolve) => {
      const c = connect(p, () => {
        c.write('{"cmd":"drain","node":"lb2"}\n');
        for (let i = 0; i < 5; i++) c.write(`{"cmd":"drain","node":"x${i}"}\n`);
      });
      c.on('data', () => {});
      c.on('close', () => resolve());
    });
    expect(seen).toEqual([{ cmd: 'drain', node: 'lb2' }]);
  });

  it('runs changing requests one at a time (status meanwhile)', async () => {
    const p = path();
    let running = 0;
    let most = 0;
    server = await openControlServer(p, async (r) => {
      if (r.cmd === 'status') return { running };
      running++;
      most = Math.max(most, running);
      await new Promise((res) => setTimeout(res, 30));
      running--;
      return { ok: true };
    });
    await Promise.all([askDaemon(p, { cmd: 'reload' }), askDaemon(p, { cmd: 'reload' }), askDaemon(p, { cmd: 'drain' }), askDaemon(p, { cmd: 'status' })]);
    expect(most).toBe(1);
  });

  it('says the daemon is not running when nobody listens', async () => {
    await expect(askDaemon(path(), { cmd: 'status' })).rejects.toBeInstanceOf(DaemonNotRunning);
  });
});
