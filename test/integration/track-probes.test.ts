// Tracked services' checks against real services on loopback: TCP, HTTP (status and body), an
// external command (exit code, and a hang killed at its timeout), a process by name or pid file,
// and a Tracker that turns their results into the node's verdict with rise and fall.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, waitFor } from './lab-helpers.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { systemClock } from '../../src/daemon/clock.js';
import { runProbe } from '../../src/track/probes.js';
import type { Probe, TrackSpec } from '../../src/track/settings.js';
import type { TrackVerdict } from '../../src/track/state.js';
import { Tracker } from '../../src/track/tracker.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-trackp-'));
const spec = (probe: Probe, over: Partial<TrackSpec> = {}): TrackSpec => ({ name: 't', probe, intervalMs: 100, timeoutMs: 1000, rise: 1, fall: 1, ...over });

let tcp: Server;
let http: HttpServer;
let tcpPort = 0;
let httpPort = 0;
beforeAll(async () => {
  tcp = createServer((s) => s.end());
  http = createHttpServer((req, res) => {
    if (req.url === '/health') res.end('ok: all good\n');
    else if (req.url === '/moved') res.writeHead(302, { location: '/health' }).end();
    else res.writeHead(503).end('draining\n');
  });
  await Promise.all([new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r)), new Promise<void>((r) => http.listen(0, '127.0.0.1', r))]);
  tcpPort = (tcp.address() as { port: number }).port;
  httpPort = (http.address() as { port: number }).port;
});
afterAll(() => {
  tcp.close();
  http.close();
});

describe('track probes', () => {
  it('TCP: up while something listens, down with the refusal once it stops', async () => {
    expect(await runProbe(spec({ kind: 'tcp', host: '127.0.0.1', port: tcpPort }))).toMatchObject({ up: true });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const r = await runProbe(spec({ kind: 'tcp', host: '127.0.0.1', port }));
    expect(r.up).toBe(false);
    expect(r.message).toMatch(/ECONNREFUSED|refused/i);
  });

  it('HTTP: a 2xx with the expected body is up; another status or body is down', async () => {
    const url = (p: string) => `http://127.0.0.1:${httpPort}${p}`;
    expect(await runProbe(spec({ kind: 'http', url: url('/health') }))).toMatchObject({ up: true });
    expect(await runProbe(spec({ kind: 'http', url: url('/health'), body: '^ok: all' }))).toMatchObject({ up: true });
    expect((await runProbe(spec({ kind: 'http', url: url('/health'), body: 'degraded' }))).up).toBe(false);
    expect((await runProbe(spec({ kind: 'http', url: url('/') }))).up).toBe(false);
  });

  it('HTTP: redirects are followed unless the expected status is the redirect; a given status is the only one up', async () => {
    const url = (p: string) => `http://127.0.0.1:${httpPort}${p}`;
    expect(await runProbe(spec({ kind: 'http', url: url('/moved'), body: '^ok' }))).toMatchObject({ up: true });
    expect(await runProbe(spec({ kind: 'http', url: url('/moved'), status: 302 }))).toMatchObject({ up: true, message: 'HTTP 302' });
    expect(await runProbe(spec({ kind: 'http', url: url('/'), status: 503 }))).toMatchObject({ up: true });
    expect(await runProbe(spec({ kind: 'http', url: url('/health'), status: 204 }))).toMatchObject({ up: false, message: 'HTTP 200 (wanted 204)' });
  });

  it('command: exit 0 is up, another exit is down with its code', async () => {
    expect(await runProbe(spec({ kind: 'command', argv: ['/bin/true'] }))).toMatchObject({ up: true });
    expect(await runProbe(spec({ kind: 'command', argv: ['/bin/sh', '-c', 'exit 3'] }))).toMatchObject({
      up: false,
      message: expect.stringContaining('exit 3'),
    });
  });

  it('command: a hang is killed at its timeout and counts as a failure', async () => {
    const pidfile = join(dir, 'hang.pid');
    const t0 = performance.now();
    const r = await runProbe(spec({ kind: 'command', argv: ['/bin/sh', '-c', `echo $$ > ${pidfile}; exec sleep 30`] }, { timeoutMs: 400 }));
    const ms = performance.now() - t0;
    expect(r.up).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(5_000);
    const pid = Number(readFileSync(pidfile, 'utf8'));
    expect(await waitFor(() => !alive(pid), 3_000), `the hung check (pid ${pid}) is gone`).toBe(true);
  });

  it('command: one that ignores SIGTERM is killed all the same', async () => {
    const pidfile = join(dir, 'stubborn.pid');
    const r = await runProbe(
      spec({ kind: 'command', argv: ['/bin/sh', '-c', `trap '' TERM; echo $$ > ${pidfile}; while :; do sleep 0.1; done`] }, { timeoutMs: 300 }),
    );
    expect(r.up).toBe(false);
    const pid = Number(readFileSync(pidfile, 'utf8'));
    expect(await waitFor(() => !alive(pid), 5_000), `the stubborn check (pid ${pid}) is gone`).toBe(true);
  });

  it('process: by name and by pid file, down once the process is gone', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pidfile = join(dir, 'sleep.pid');
      writeFileSync(pidfile, `${child.pid}\n`);
      expect(await runProbe(spec({ kind: 'process', name: 'sleep' }))).toMatchObject({ up: true });
      expect(await runProbe(spec({ kind: 'process', pidfile }))).toMatchObject({ up: true, message: `pid ${child.pid} runs` });
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      expect((await runProbe(spec({ kind: 'process', pidfile }))).up).toBe(false);
      expect((await runProbe(spec({ kind: 'process', name: 'no-such-proc' }))).up).toBe(false);
      expect((await runProbe(spec({ kind: 'process', pidfile: join(dir, 'none.pid') }))).message).toMatch(/no pid in/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  const systemctl = spawnSync('sh', ['-c', 'command -v systemctl && systemctl is-system-running 2>/dev/null; true']).stdout.toString();
  it.skipIf(!systemctl.trim() || !existsSync('/run/systemd/system'))('systemd: a unit that is not active is down', async () => {
    expect((await runProbe(spec({ kind: 'systemd', unit: 'aavip-no-such-unit.service' }))).up).toBe(false);
  });
});

describe('the tracker', () => {
  it('counts fall failures before the verdict goes out, rise successes before it comes back, and logs both', async () => {
    const srv = createServer((s) => s.end());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(l) });
    const verdicts: TrackVerdict[] = [];
    const tracker = new Tracker([spec({ kind: 'tcp', host: '127.0.0.1', port }, { name: 'svc', intervalMs: 50, timeoutMs: 200, fall: 3, rise: 2 })], {
      clock: systemClock(),
      log,
      onChange: (v) => verdicts.push(v),
    });
    tracker.start();
    try {
      expect(await waitFor(() => tracker.status()[0].up === true, 2_000)).toBe(true);
      await new Promise((r) => srv.close(r));
      expect(await waitFor(() => tracker.verdict().out, 3_000)).toBe(true);
      expect(tracker.status()[0]).toMatchObject({ name: 'svc', kind: 'tcp', up: false, onFailure: 'out' });
      expect(tracker.status()[0].lastMessage).toMatch(/refused/i);
      await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
      expect(await waitFor(() => !tracker.verdict().out, 3_000)).toBe(true);
    } finally {
      tracker.stop();
      srv.close();
    }
    expect(verdicts.map((v) => v.out)).toEqual([false, true, false]);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; track: string; message: string });
    expect(logged.filter((l) => l.track === 'svc').map((l) => l.msg)).toEqual(['tracked service up', 'tracked service down', 'tracked service up']);
    expect(logged.find((l) => l.msg === 'tracked service down')!.message).toMatch(/refused/i);
  });
});
