// One daemon per node, and an incarnation that counts up whatever the wall clock does.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nextIncarnation, takeIncarnation } from '../../src/daemon/incarnation.js';
import { AlreadyRunning, lockInstance, runningDaemon } from '../../src/daemon/instance-lock.js';

const releases: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const r of releases.splice(0)) await r();
});

describe('one daemon per node', () => {
  it("refuses a second daemon for the same node, naming the first one's pid, and frees the lock when it stops", async () => {
    const sock = join(mkdtempSync(join(tmpdir(), 'aavip-lock-')), 'web-lb1.sock');
    expect(await runningDaemon(sock)).toBeUndefined();
    const first = await lockInstance(sock);
    releases.push(() => first.release());
    const second = lockInstance(sock);
    await expect(second).rejects.toBeInstanceOf(AlreadyRunning);
    await expect(second).rejects.toThrow(`(pid ${process.pid})`);
    expect(await runningDaemon(sock)).toBe(process.pid);
    await first.release();
    releases.pop();
    const again = await lockInstance(sock);
    releases.push(() => again.release());
  });
});

describe('incarnations', () => {
  it('count up from the stored one even when the clock went back', () => {
    expect(nextIncarnation(undefined, 1_700_000_000_000)).toBe(1_700_000_000_000);
    expect(nextIncarnation(1_700_000_000_000, 1_600_000_000_000)).toBe(1_700_000_000_001);
    expect(nextIncarnation(5, 1_700_000_000_000)).toBe(1_700_000_000_000);
  });
  it('are kept on disk across starts', () => {
    process.env.AAVIP_STATE_DIR = mkdtempSync(join(tmpdir(), 'aavip-state-'));
    try {
      const a = takeIncarnation('web', 'lb1', 2_000_000_000_000, () => {});
      const b = takeIncarnation('web', 'lb1', 1_000_000_000_000, () => {}); // clock stepped back
      expect(b).toBe(a + 1);
      expect(Number(readFileSync(join(process.env.AAVIP_STATE_DIR, 'web-lb1.incarnation'), 'utf8'))).toBe(b);
    } finally {
      delete process.env.AAVIP_STATE_DIR;
    }
  });
});
