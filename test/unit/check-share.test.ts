// Shared checks: the pure rules (who checks which real, what a heartbeat says, which verdicts a
// node takes), and three real Director instances on in-memory IPVS tables exchanging their
// heartbeats' verdicts by hand: one check per real per round in total, every table the same.
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckSharing } from '../../src/daemon/check-sharing.js';
import { checkerOf, checksHere, encodeVerdicts, planShare, realIdsDigest, type ShareView, verdictsToAdopt } from '../../src/lvs/check-share.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { Director } from '../../src/lvs/director.js';
import { MemoryIpvs } from '../../src/lvs/ipvs/memory.js';
import type { View } from '../../src/membership/membership.js';
import type { Heartbeat } from '../../src/membership/wire.js';

const ids = Array.from({ length: 300 }, (_, k) => `tcp:198.18.0.100:80 198.18.1.${k % 250}:${80 + Math.floor(k / 250)}`).sort();
/** Node `local`'s plan of who checks what (over `list`, the reals). */
const shared = (live: number[], local: number, o: Partial<ShareView> = {}, list = ids) =>
  planShare(list, { mode: 'shared', local, live, quorate: true, agreed: true, ...o });

describe('who checks which real', () => {
  it('is pinned: every node and every release computes the same checker, whatever the order of the live list (golden)', () => {
    // The highest sha256 of "id|node" (as `printf '%s' "$id|$n" | sha256sum` computes it).
    for (const [id, checker] of Object.entries(GOLDEN)) {
      expect(checkerOf(id, [1, 2, 3]), id).toBe(checker);
      expect(checkerOf(id, [3, 1, 2]), id).toBe(checker);
    }
    expect(checkerOf('x', [])).toBeUndefined();
  });

  it('spreads 300 reals evenly over three nodes, and a death moves only the dead node’s reals', () => {
    const before = new Map(ids.map((id) => [id, checkerOf(id, [1, 2, 3])]));
    const counts = [1, 2, 3].map((n) => [...before.values()].filter((c) => c === n).length);
    for (const c of counts) expect(c).toBeGreaterThanOrEqual(80);
    const after = new Map(ids.map((id) => [id, checkerOf(id, [1, 2])]));
    expect(ids.filter((id) => before.get(id) !== 3 && after.get(id) !== before.get(id))).toEqual([]);
    expect(ids.filter((id) => after.get(id) === 3)).toEqual([]);
  });

  it('gives each real exactly one checker among the live nodes while they share', () => {
    for (const id of ids) expect([1, 2, 3].filter((n) => checksHere(shared([1, 2, 3], n), id))).toHaveLength(1);
  });

  it('has a node check everything when it does not share: local mode, alone, without quorum, or while configs differ', () => {
    for (const v of [
      shared([1, 2, 3], 1, { mode: 'local' }),
      shared([1], 1),
      shared([1, 2, 3], 1, { quorate: false }),
      shared([1, 2, 3], 1, { agreed: false }),
    ])
      expect(ids.every((id) => checksHere(v, id))).toBe(true);
  });
});

describe('verdicts in the heartbeat', () => {
  const mine = (n: number) => ids.filter((id) => checkerOf(id, [1, 2, 3]) === n);

  it('are taken from the real’s checker only, for reals the receiver does not check', () => {
    const fromTwo = new Map(mine(2).map((id, k) => [id, k % 2 === 0]));
    const msg = encodeVerdicts(shared([1, 2, 3], 2), fromTwo);
    expect(verdictsToAdopt(shared([1, 2, 3], 1), msg, 2)).toEqual(fromTwo);
    // Claimed by a node that is not their checker in the receiver's view: ignored.
    expect(verdictsToAdopt(shared([1, 2, 3], 1), msg, 3).size).toBe(0);
    // After node 2's death its reals are no longer its to vouch for.
    expect(verdictsToAdopt(shared([1, 3], 1), msg, 2).size).toBe(0);
  });

  it('are ignored against another list of reals, or by a node that is not sharing', () => {
    const msg = encodeVerdicts(shared([1, 2, 3], 2), new Map(mine(2).map((id) => [id, true])));
    expect(verdictsToAdopt(shared([1, 2, 3], 1, {}, ids.slice(1)), msg, 2).size).toBe(0);
    expect(verdictsToAdopt(shared([1, 2, 3], 1, { quorate: false }), msg, 2).size).toBe(0);
    expect(msg.of).toBe(realIdsDigest(ids));
  });
});

describe('three directors sharing their checks', () => {
  const reals = Array.from({ length: 12 }, (_, k) => `198.18.1.${k + 1}`);
  const cf = parseLdirectordConfig(
    `checkinterval=60\nchecktimeout=1\nquiescent=yes\nvirtual=198.18.0.100:80\n${reals.map((a) => `\treal=${a}:80 gate 1\n`).join('')}\tchecktype=connect\n\tscheduler=wrr\n`,
    'test.cf',
  );
  let nodes: { d: Director; ipvs: MemoryIpvs; cs: CheckSharing }[] = [];
  const checks = new Map<string, number>();
  const down = new Set<string>();
  afterEach(async () => {
    for (const n of nodes) await n.d.stop();
    nodes = [];
  });

  async function cluster(mode: 'shared' | 'local') {
    checks.clear();
    down.clear();
    const log = pino({ level: 'silent' });
    nodes = [1, 2, 3].map((i) => {
      const ipvs = new MemoryIpvs();
      const d = new Director(cf, ipvs, {
        log,
        runCheck: async (_how, t) => {
          checks.set(t.host, (checks.get(t.host) ?? 0) + 1);
          return { up: !down.has(t.host), message: down.has(t.host) ? 'refused' : 'connected' };
        },
      });
      return {
        d,
        ipvs,
        cs: new CheckSharing({ director: d, config: { local: i, lvs: { checks: mode } }, name: (n) => `node${n}` }),
      };
    });
    exchange([1, 2, 3]);
    for (const n of nodes) await n.d.start();
  }
  /** One heartbeat round among the live nodes: each updates its share, then takes the others' verdicts. */
  function exchange(live: number[]) {
    const view = { live, quorate: live.length >= 2 } as View;
    const hb = (i: number) => ({ from: i, checks: nodes[i - 1].cs.outgoing() }) as Heartbeat;
    for (const i of live) nodes[i - 1].cs.update(view, live.filter((j) => j !== i).map(hb));
    for (const i of live) for (const j of live) if (j !== i) nodes[i - 1].cs.onHeartbeat(hb(j));
  }
  const settle = () => Promise.all(nodes.map((n) => n.d.reconcile()));
  const tables = () => nodes.map((n) => Object.fromEntries(n.ipvs.table[0].realServers.map((r) => [r.address, r.weight])));
  const round = async (live: number[]) => {
    checks.clear();
    for (const i of live) await nodes[i - 1].d.round();
    exchange(live);
    await settle();
  };

  it('checks each real once per round in total (three times with lvs.checks: local), and every table agrees', async () => {
    await cluster('shared');
    await round([1, 2, 3]);
    expect(reals.map((a) => checks.get(a))).toEqual(reals.map(() => 1));
    const all = Object.fromEntries(reals.map((a) => [`${a}:80`, 1]));
    expect(tables()).toEqual([all, all, all]);

    await cluster('local');
    await round([1, 2, 3]);
    expect(reals.map((a) => checks.get(a))).toEqual(reals.map(() => 3));
  });

  it('quiesces a failed real on every director from its checker’s one check, and restores it', async () => {
    await cluster('shared');
    await round([1, 2, 3]);
    down.add(reals[4]);
    await round([1, 2, 3]);
    expect(checks.get(reals[4])).toBe(1);
    expect(tables().map((t) => t[`${reals[4]}:80`])).toEqual([0, 0, 0]);
    down.delete(reals[4]);
    await round([1, 2, 3]);
    expect(tables().map((t) => t[`${reals[4]}:80`])).toEqual([1, 1, 1]);
  });

  it('has the survivors take over a dead checker’s reals at the next round, each still checked once', async () => {
    await cluster('shared');
    await round([1, 2, 3]);
    const third = reals.filter((a) => checkerOf(`tcp:198.18.0.100:80 ${a}:80`, [1, 2, 3]) === 3);
    expect(third.length).toBeGreaterThan(0);
    exchange([1, 2]);
    await round([1, 2]);
    expect(reals.map((a) => checks.get(a))).toEqual(reals.map(() => 1));
    down.add(third[0]);
    await round([1, 2]);
    expect(
      tables()
        .slice(0, 2)
        .map((t) => t[`${third[0]}:80`]),
    ).toEqual([0, 0]);
    // Alone (no quorum), a node checks everything itself.
    exchange([1]);
    await round([1]);
    expect(reals.map((a) => checks.get(a))).toEqual(reals.map(() => 1));
    expect(checks.size).toBe(reals.length);
  });
});

/** Pinned checkers of the golden test (live nodes 1, 2, 3). */
const GOLDEN: Record<string, number> = {
  'tcp:198.18.0.100:80 198.18.1.1:80': 3,
  'tcp:198.18.0.100:80 198.18.1.2:80': 2,
  'tcp:198.18.0.100:80 198.18.1.5:80': 1,
  'fwm:1 198.18.0.11:80': 3,
  'udp:[2001:db8::100]:53 [2001:db8::1:1]:53': 3,
};
