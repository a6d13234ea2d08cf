// `aavip lab track` as a user runs it: Debian's HAProxy on three nodes, each daemon tracking it.
// One round of kill -9 under load, then node 2's flapping service. Timing is bench/track.ts's;
// here: the victim's buckets are answered again at all, NEVER TWO OWNERS (no bucket taken by two
// nodes in any snapshot of the kernels' bucket maps), no failure in the other nodes' buckets, no
// reset when the node takes its share back, and a flap faster than `fall` moves no bucket while
// a lasting failure moves them once (NEVER NONE: its buckets are taken by the others, not left).
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { built } from '../../src/paths.js';

const haproxy = spawnSync('sh', ['-c', 'command -v haproxy']).status === 0;

describe.skipIf(!haproxy)('aavip lab track (HAProxy tracked on every node)', () => {
  afterAll(async () => {
    await NetnsLab.remove('trtest');
  });

  it('hands a node’s buckets over when its HAProxy dies, takes them back without resets, and holds still through a flap', async () => {
    const r = await run(process.execPath, [built('cli/main.js'), 'lab', 'track', '--rounds', '1', '--prefix', 'trtest', '--json'], {
      allowFailure: true,
      timeoutMs: 240_000,
    });
    expect(r.stdout, r.stderr.slice(-2000)).not.toBe('');
    const out = JSON.parse(r.stdout);
    const [round] = out.rounds;
    expect(round.victimAttempts).toBeGreaterThan(50);
    expect(round.servedAgainMs).not.toBeNull();
    expect(round.othersAttempts).toBeGreaterThan(100);
    expect(round.othersFailed).toBe(0);
    expect(round.snapshots).toBeGreaterThan(50);
    expect(round.overlaps).toBe(0); // never two owners
    expect(round.bucketsExpected).toBeGreaterThan(60);
    expect(round.bucketsBack).toBe(round.bucketsExpected);
    expect(round.longLived).toBeGreaterThanOrEqual(200);
    expect(round.resets).toBe(0);
    // What `aavip status --json` says while it is down: on the node, and on its peers.
    const own = round.statusWhileDown.own;
    expect(own).toMatchObject({ name: 'haproxy', kind: 'tcp', up: false, onFailure: 'out' });
    expect(own.lastMessage).toMatch(/refused/i);
    expect(Date.now() - Date.parse(own.since)).toBeLessThan(240_000);
    expect(round.statusWhileDown.peersSay).toEqual([['haproxy'], ['haproxy']]);
    const f = out.flap;
    expect(f.bucketsBefore).toBeGreaterThan(60);
    expect(f.epochsAfter).toEqual(f.epochsBefore);
    expect(f.bucketsAfterFlap).toBe(f.bucketsBefore);
    expect(f.bucketsWhileDown).toBe(0); // its buckets went to the others: the views gave them away
    expect(f.viewChangesOnDown).toBe(1);
    expect(f.bucketsAfterUp).toBe(f.bucketsBefore);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    expect(await NetnsLab.namespacesOf('trtest')).toEqual([]);
  }, 300_000);
});
