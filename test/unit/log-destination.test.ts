// Logging must never kill or hang the process: a child that logs 10,000 lines to a destination
// that fails (a full disk, /dev/full, a closed pipe) keeps running, and exits when told.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'aavip-log-'));
const script = join(dir, 'logger.mjs');
// Logs 10,000 lines, then answers on stdout: "ping" → its log counters, "exit" → exits the way
// the daemon does (its event loop runs dry), "exit-now" → process.exit (pino used to hang there).
writeFileSync(
  script,
  `import { log, logStats } from ${JSON.stringify(join(process.cwd(), 'dist/src/log.js'))};
for (let i = 0; i < 10000; i++) log.info({ i, pad: 'x'.repeat(64) }, 'a line of log');
process.stdout.write('logged\\n');
if (process.argv[2] === 'exit-at-once') process.exit(0); // with most lines still queued
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  for (const cmd of d.split('\\n').filter(Boolean)) {
    if (cmd === 'ping') process.stdout.write(JSON.stringify(logStats()) + '\\n');
    if (cmd === 'exit') process.stdin.destroy();
    if (cmd === 'exit-now') process.exit(0);
  }
});
`,
);

/** Bounds every wait: a child that hangs is killed, and the test fails on what it saw. */
const BOUND_MS = 30_000;

interface Outcome {
  lines: string[];
  stats?: { written: number; dropped: number; lastError?: string };
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the logger child, pings it once logging is done, then tells it to exit. */
function drive(child: ChildProcess, how: 'exit' | 'exit-now'): Promise<Outcome> {
  return new Promise((resolve) => {
    const lines: string[] = [];
    let stderr = '';
    let buf = '';
    const killer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS);
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    child.stdout!.on('data', (d) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line === 'logged') setTimeout(() => child.stdin!.write('ping\n'), 500);
        else if (line.startsWith('{')) child.stdin!.write(`${how}\n`);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      const stats = lines.find((l) => l.startsWith('{'));
      resolve({ lines, stats: stats ? JSON.parse(stats) : undefined, code, signal, stderr });
    });
  });
}

function expectSurvived(o: Outcome): void {
  expect(o.signal, `killed after ${BOUND_MS} ms: it hung (${o.stderr.slice(0, 300)})`).toBeNull();
  expect(o.lines[0], o.stderr.slice(0, 300)).toBe('logged');
  expect(o.stats, 'it answered after logging').toBeDefined();
  expect(o.code).toBe(0);
}

describe('the log on a failing destination', () => {
  for (const how of ['exit', 'exit-now'] as const) {
    it(`writes every line, in order, to a destination that works (${how}: what is queued is flushed)`, async () => {
      const file = join(dir, `ok-${how}.log`);
      const fd = openSync(file, 'w');
      const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', fd] });
      closeSync(fd);
      const o = await drive(child, how);
      expectSurvived(o);
      expect(o.stats).toEqual({ written: 10000, dropped: 0 });
      const lines = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 10000 }, (_, i) => i));
    });
  }

  for (const how of ['exit', 'exit-now'] as const) {
    it(`drops and counts lines on /dev/full (ENOSPC), keeps running and exits when told (${how})`, async () => {
      const full = openSync('/dev/full', 'w');
      const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', full] });
      closeSync(full);
      const o = await drive(child, how);
      expectSurvived(o);
      expect(o.stats).toMatchObject({ written: 0, dropped: 10000, lastError: 'ENOSPC' });
    });
  }

  it('writes every line, in order, through a pipe that is read (written asynchronously)', async () => {
    const o = await drive(spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] }), 'exit');
    expectSurvived(o);
    expect(o.stats).toEqual({ written: 10000, dropped: 0 });
    expect(
      o.stderr
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).i),
    ).toEqual(Array.from({ length: 10000 }, (_, i) => i));
  });

  it('flushes what is queued when the process exits at once after logging', () => {
    const file = join(dir, 'at-once.log');
    const fd = openSync(file, 'w');
    const r = spawnSync(process.execPath, [script, 'exit-at-once'], { stdio: ['ignore', 'pipe', fd], encoding: 'utf8', timeout: BOUND_MS });
    closeSync(fd);
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).i),
    ).toEqual(Array.from({ length: 10000 }, (_, i) => i));
    const full = openSync('/dev/full', 'w');
    const onFull = spawnSync(process.execPath, [script, 'exit-at-once'], { stdio: ['ignore', 'pipe', full], encoding: 'utf8', timeout: BOUND_MS });
    closeSync(full);
    expect(onFull.signal, 'the exit flush gave up instead of retrying for ever').toBeNull();
    expect(onFull.status).toBe(0);
  });

  it('drops and counts lines on a closed pipe (EPIPE)', async () => {
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr!.destroy();
    const o = await drive(child, 'exit-now');
    expectSurvived(o);
    expect(o.stats!.written).toBe(0);
    expect(o.stats!.dropped).toBe(10000);
  });

  it.runIf(process.getuid?.() === 0)('writes what fits on a tmpfs that fills up, then drops the rest, and the file holds whole lines', () => {
    const mnt = mkdtempSync(join(tmpdir(), 'aavip-logfs-'));
    // A private mount namespace: the 256 KiB tmpfs exists for this shell and its child only.
    const sh = `mount -t tmpfs -o size=256k aavip-log-test "$1" || exit 90
      printf 'ping\\nexit\\n' | (sleep 2; cat) | timeout -s KILL ${BOUND_MS / 1000} "$2" "$3" 2>"$1/log"; rc=$?
      echo "rc=$rc lines=$(wc -l < "$1/log") bad=$(head -n "$(wc -l < "$1/log")" "$1/log" | grep -cv '^{.*}$')"`;
    const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', sh, 'sh', mnt, process.execPath, script], {
      encoding: 'utf8',
      timeout: BOUND_MS + 10_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout.trim().split('\n');
    expect(out[0]).toBe('logged');
    const stats = JSON.parse(out[1]);
    const [, rc, lines, bad] = out[2].match(/^rc=(\d+) lines=(\d+) bad=(\d+)$/)!.map(Number);
    expect(rc, 'the child exited by itself (137: killed as hung)').toBe(0);
    expect(stats.lastError).toBe('ENOSPC');
    expect(stats.written).toBeGreaterThan(100);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.written + stats.dropped).toBe(10000);
    expect(lines).toBe(stats.written);
    // The disk may cut the last line short; every line before it is whole.
    expect(bad, 'every line in the file is a whole JSON line').toBe(0);
  });
});
