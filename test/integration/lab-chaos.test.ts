// `aavip lab chaos` as a user runs it: three real daemons in namespaces under long-lived
// connections and a random fault every few seconds, both ownership invariants judged from the
// kernels' bucket maps. A short run here; the README's ten-minute run is `npm run bench:chaos`.
// Checks NEVER TWO OWNERS (twoOwnersMs), NEVER NONE beyond the takeover bound
// (unservedBeyondBoundMs), and that no long-lived connection through an unharmed node is lost.
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { built } from '../../src/paths.js';

describe('aavip lab chaos', () => {
  afterAll(async () => {
    await NetnsLab.remove('chtest');
  });

  it('injects faults of every kind and finds no bucket with two owners or none, and no reset through an unharmed node', async () => {
    const r = await run(process.execPath, [built('cli/main.js'), 'lab', 'chaos', '--minutes', '1.5', '--seed', '11', '--prefix', 'chtest', '--json'], {
      allowFailure: true,
      timeoutMs: 400_000,
    });
    const out = JSON.parse(r.stdout);
    expect(Object.values(out.faults as Record<string, number>).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(12);
    expect(out.samples).toBeGreaterThan(300);
    expect(out.longLivedOpened).toBeGreaterThan(200);
    expect(out.incidents).toEqual([]);
    expect(out.twoOwnersMs).toBe(0); // never two owners
    expect(out.unservedBeyondBoundMs).toBe(0); // never none beyond the takeover bound
    expect(out.unexpectedResets).toBe(0);
    expect(out.downRefused).toBe(out.faults['down-beside-daemon']);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(await NetnsLab.namespacesOf('chtest')).toEqual([]);
  }, 480_000);
});
