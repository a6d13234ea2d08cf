// fallbackcommand runs for at most checktimeout: a command that hangs is killed with its whole
// process group (the shell and what it started), the kill is logged, and the round ends. The
// real server is a real connect check against a closed loopback port (down at once).
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { Director } from '../../src/lvs/director.js';
import { MemoryIpvs } from '../../src/lvs/ipvs/memory.js';

const dir = mkdtempSync(join(tmpdir(), 'hdr-fallbackcmd-'));
afterAll(() => {
  // Whatever the outcome (a hung command included), nothing this test started outlives it.
  const pids = existsSync(join(dir, 'pids')) ? readFileSync(join(dir, 'pids'), 'utf8').trim().split(' ').map(Number) : [];
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !fn(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!fn()) throw new Error(`not seen within 5 s: ${what}`);
}

describe('fallbackcommand', () => {
  it('is killed with its process group at checktimeout, logged, and the round goes on', async () => {
    const script = join(dir, 'hang.sh');
    // Records its own PID and its child's, then waits for ever (well beyond the test's timeout).
    writeFileSync(script, `#!/bin/sh\necho "$@" > ${dir}/args\nsleep 600 &\necho $$ $! > ${dir}/pids\nwait\n`);
    chmodSync(script, 0o755);
    const lines: { level: number; msg: string; pid?: number }[] = [];
    const log = pino(
      { level: 'info' },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    );
    const config = parseLdirectordConfig(
      `checkinterval=60\nchecktimeout=1\nfallbackcommand="${script}"\nvirtual=198.18.0.100:80\n\treal=127.0.0.1:1 masq\n\tchecktype=connect\n`,
      'test.cf',
    );
    const director = new Director(config, new MemoryIpvs(), { log });
    try {
      // start() runs the first round to its end, fallbackcommand included: it returns only because the command was bounded.
      await director.start();
    } finally {
      await director.stop();
    }
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe('start 198.18.0.100:80 tcp');
    const [shell, sleeper] = readFileSync(join(dir, 'pids'), 'utf8').trim().split(' ').map(Number);
    await until('the command and its child gone', () => !running(shell) && !running(sleeper));
    const killed = lines.find((l) => l.level === 50 && /fallbackcommand timed out after 1 s/.test(l.msg));
    expect(killed).toBeDefined();
    expect(existsSync(`/proc/${sleeper}/cmdline`) && running(sleeper)).toBe(false);
  }, 20_000);
});
