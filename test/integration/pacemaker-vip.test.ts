// ocf:aavip:vip cloned under a real three-node Corosync + Pacemaker cluster (namespaces on this
// machine), configured with conf/pacemaker-crm.txt through crmsh: every connection from the client
// is answered by the node running the instance that serves its bucket; a crashed node's instance
// restarts on a survivor and its bucket answers again (the failover time is measured); the node
// comes back.
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { run } from '../../src/exec.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { parseAddress } from '../../src/hash/flow.js';
import { bucketOf } from '../../src/hash/mechanisms.js';
import type { TimedAttempt } from '../../src/lab/load.js';
import { outageFigures, PacemakerLab, type ClusterState } from '../../src/lab/pacemaker.js';
import { built, PACKAGE_ROOT } from '../../src/paths.js';

const TOKEN_MS = 1000;
const PORT = 8080;
/** HAProxy's port on every node (the last test): it forwards to the node's own responder. */
const PROXY_PORT = 8081;
// The VIP exactly as conf/pacemaker-crm.txt configures it.
const VIP = parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', hashmode: 'sourceip-sourceport', buckets: 3 });
let pl: PacemakerLab;

const bucketOfTuple = (src: string, sport: number) =>
  bucketOf(
    { mechanism: 'nft', hashmode: VIP.hashmode, seed: VIP.seed, buckets: VIP.buckets },
    { src: parseAddress(src)!, srcPort: sport, dst: VIP.address, dstPort: PORT, proto: 6 },
  );

/** Unique client tuples (source address, source port), each used once. */
let nextPort = 10_000;
function tuples(n: number): { src: string; sport: number }[] {
  const sources = pl.lab.clientSources;
  return Array.from({ length: n }, () => {
    const sport = nextPort++;
    return { src: sources[sport % sources.length], sport };
  });
}

/** Which node runs the instance serving each bucket: instance vip:N serves bucket N+1. */
function bucketNodes(s: ClusterState): Map<number, string> {
  const m = new Map<number, string>();
  for (const r of s.resources) {
    const n = r.id.match(/^vip:(\d+)$/);
    if (n && r.role === 'Started' && r.nodes.length === 1) m.set(Number(n[1]) + 1, r.nodes[0]);
  }
  return m;
}

async function burst(n: number, owners: Map<number, string>) {
  const opts = { target: '198.18.0.100', port: PORT, sources: [], count: n, concurrency: 16, timeoutMs: 2000, tuples: tuples(n) };
  const r = await pl.lab.exec(pl.lab.clientNs, [process.execPath, built('lab/client.js'), JSON.stringify(opts)], { timeoutMs: 60_000 });
  const attempts = JSON.parse(r.stdout) as { src: string; sport: number; node?: string }[];
  const perNode: Record<string, number> = {};
  for (const a of attempts) if (a.node) perNode[a.node] = (perNode[a.node] ?? 0) + 1;
  return {
    perNode,
    failed: attempts.filter((a) => !a.node).length,
    mispredicted: attempts.filter((a) => a.node && a.node !== owners.get(bucketOfTuple(a.src, a.sport))).length,
  };
}

function startResponder(i: number) {
  const r = pl.lab.spawn(pl.lab.nodeNs(i), [process.execPath, built('lab/responder.js'), `node${i}`, String(PORT)]);
  return once(r.stdout!, 'data');
}

beforeAll(async () => {
  installAgents('/');
  pl = await PacemakerLab.create({ prefix: 'pmv', tokenMs: TOKEN_MS });
  for (const i of pl.lab.nodeIds) await startResponder(i);
  await pl.waitOnline(1, [1, 2, 3]);
}, 180_000);

afterAll(async () => {
  await pl?.destroy();
});

describe('a cloned ocf:aavip:vip under Pacemaker', () => {
  let owners: Map<number, string>;

  it('takes conf/pacemaker-crm.txt through crmsh and starts one instance per node', async () => {
    // The lab has no ldirectord.cf at this path (and this kernel no IPVS): that resource is created
    // and its agent, run by Pacemaker on every node, says so.
    const conf = readFileSync(join(PACKAGE_ROOT, 'conf/pacemaker-crm.txt'), 'utf8').replace('/etc/ha.d/ldirectord.cf', join(pl.dir, 'absent.cf'));
    await pl.crmConfigure(1, conf);
    await pl.waitFor(async () => bucketNodes(await pl.state(1)).size === 3, 60_000, 'three vip instances started');
    const s = await pl.state(1);
    owners = bucketNodes(s);
    expect([...owners.values()].sort()).toEqual(['node1', 'node2', 'node3']);
    expect(s.resources.filter((r) => r.id.startsWith('vip:')).every((r) => r.agent === 'ocf:aavip:vip')).toBe(true);
    const shown = (await pl.exec(1, ['crm', 'configure', 'show'])).stdout;
    expect(shown).toMatch(/clone vip-clone vip[\s\S]*globally-unique=true/);
    expect(shown).toMatch(/colocation ldirectord-with-vip inf: ldirectord-clone vip-clone/);
    await pl.waitFor(
      async () => (await pl.state(1)).failures.filter((f) => f.opKey.startsWith('ldirectord_start')).length === 3,
      30_000,
      'ldirectord start results',
    );
    for (const f of (await pl.state(1)).failures)
      expect(f).toMatchObject({ opKey: 'ldirectord_start_0', exitCode: 5, exitReason: expect.stringMatching(/not found/) });
  });

  it('answers every connection from the node running the instance of its bucket', async () => {
    const b = await burst(300, owners);
    expect(b).toMatchObject({ failed: 0, mispredicted: 0 });
    expect(Object.keys(b.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  let victim: number;

  it("restarts a crashed node's instance on a survivor: its bucket answers again, the others never stop", async () => {
    // Crash a node that is not the DC (losing the DC adds an election; the IPaddr2 baseline does the same).
    const dc = (await pl.state(1)).dcName;
    victim = [3, 2, 1].find((i) => pl.nodeName(i) !== dc)!;
    const observer = [1, 2, 3].find((i) => i !== victim)!;
    const deadBucket = [...owners].find(([, n]) => n === pl.nodeName(victim))![0];
    const run = await pl.crashUnderLoad({
      crash: victim,
      observer,
      target: '198.18.0.100',
      port: PORT,
      tuples: tuples(800),
      everyMs: 15,
      beforeMs: 2000,
      recovered: (s) => {
        const o = bucketNodes(s);
        return o.size === 3 && o.get(deadBucket) !== pl.nodeName(victim);
      },
    });
    const lost = (a: TimedAttempt) => bucketOfTuple(a.src, a.sport) === deadBucket;
    const f = outageFigures(run, lost);
    const after = bucketNodes(await pl.state(observer));
    const startMs = await pl.execTimeMs(observer, `vip:${deadBucket - 1}_start_0`, after.get(deadBucket)!);
    process.stderr.write(
      `ocf:aavip:vip clone, token ${TOKEN_MS} ms: bucket ${deadBucket} answered again ${f.outageMs} ms after node${victim} crashed ` +
        `(Pacemaker reported the instance on ${after.get(deadBucket)} after ${f.pacemakerMs} ms, its start took ${startMs} ms; the crashed node ${run.crashedDc ? 'was' : 'was not'} the DC); ${f.lostAttempts} connections lost in that bucket, ` +
        `${f.failedElsewhere} elsewhere\n`,
    );
    expect(f.outageMs).toBeGreaterThan(0);
    expect(f.outageMs).toBeLessThan(30_000);
    expect(f.failedElsewhere).toBe(0);
    expect(f.failedAfterRecovery).toBe(0);
    expect(after.get(deadBucket)).not.toBe(pl.nodeName(victim));
    // Everything after the recovery went to the instance's new node.
    const wrong = run.attempts.filter((a) => a.node && a.start > run.recoveredAt && a.node !== after.get(bucketOfTuple(a.src, a.sport)));
    expect(wrong).toEqual([]);
    owners = after;
  });

  it('takes the node back into the cluster; the VIP keeps answering', async () => {
    await pl.restart(victim);
    await startResponder(victim);
    await pl.waitOnline(victim, [1, 2, 3]);
    const s = await pl.state(victim);
    expect(s.online).toEqual(['node1', 'node2', 'node3']);
    const b = await burst(150, bucketNodes(s));
    expect(b).toMatchObject({ failed: 0, mispredicted: 0 });
  });

  it('moves a node’s instance away when its HAProxy dies, as conf/pacemaker-haproxy-crm.txt colocates them', async () => {
    // The example's HAProxy is systemd:haproxy; the lab runs no systemd, so the same clone,
    // monitor, migration-threshold and colocation run HAProxy through ocf:heartbeat:anything.
    const cfg = join(pl.dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      'global\n  maxconn 2000\ndefaults\n  mode tcp\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n' +
        `listen vip\n  bind :${PROXY_PORT}\n  server local 127.0.0.1:${PORT}\n`,
    );
    const conf = readFileSync(join(PACKAGE_ROOT, 'conf/pacemaker-haproxy-crm.txt'), 'utf8');
    expect(conf).toMatch(/primitive haproxy systemd:haproxy/);
    await pl.crmConfigure(1, conf.replace('systemd:haproxy', `ocf:heartbeat:anything params binfile=/usr/sbin/haproxy cmdline_options="-db -f ${cfg}"`));
    const proxies = (st: ClusterState) => st.resources.filter((r) => r.id === 'haproxy' && r.role === 'Started').flatMap((r) => r.nodes);
    await pl.waitFor(async () => proxies(await pl.state(1)).length === 3 && bucketNodes(await pl.state(1)).size === 3, 60_000, 'HAProxy on every node');
    owners = bucketNodes(await pl.state(1));
    const dc = (await pl.state(1)).dcName;
    const victim = [1, 2, 3].find((i) => pl.nodeName(i) !== dc && [...owners.values()].includes(pl.nodeName(i)))!;
    const observer = [1, 2, 3].find((i) => i !== victim)!;
    // After the crash above, one node may run two instances: every bucket of the victim moves.
    const buckets = [...owners].filter(([, n]) => n === pl.nodeName(victim)).map(([b]) => b);
    const pids = (await run('ip', ['netns', 'pids', pl.lab.nodeNs(victim)])).stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0);
    const haproxyPid = pids.find((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'haproxy';
      } catch {
        return false;
      }
    });
    expect(haproxyPid, `HAProxy's pid in ${pl.lab.nodeNs(victim)}`).toBeDefined();
    const killed = await pl.crashUnderLoad({
      crash: victim,
      fault: async () => process.kill(haproxyPid!, 'SIGKILL'),
      observer,
      target: '198.18.0.100',
      port: PROXY_PORT,
      tuples: tuples(600),
      everyMs: 15,
      beforeMs: 2000,
      recovered: (st) => {
        const o = bucketNodes(st);
        return o.size === 3 && buckets.every((b) => o.get(b) !== pl.nodeName(victim));
      },
    });
    // Each bucket's instance moves on its own: each has its outage, and the figure is the longest.
    const all = outageFigures(killed, (a) => buckets.includes(bucketOfTuple(a.src, a.sport)));
    const each = buckets.map((b) => outageFigures(killed, (a) => bucketOfTuple(a.src, a.sport) === b));
    const f = {
      ...all,
      outageMs: Math.max(...each.map((x) => x.outageMs)),
      failedAfterRecovery: each.reduce((n, x) => n + x.failedAfterRecovery, 0),
    };
    const after = bucketNodes(await pl.state(observer));
    process.stderr.write(
      `HAProxy killed on node${victim}: Pacemaker moved ${buckets.map((b) => `vip:${b - 1} to ${after.get(b)}`).join(', ')} after ${f.pacemakerMs} ms; ` +
        `its buckets answered again through HAProxy after ${f.outageMs} ms; ${f.lostAttempts} lost in them, ${f.failedElsewhere} elsewhere ` +
        '(aavip’s own tracking: bench/track.ts)\n',
    );
    for (const b of buckets) expect(after.get(b)).not.toBe(pl.nodeName(victim)); // the colocation moved them
    expect(proxies(await pl.state(observer))).not.toContain(pl.nodeName(victim));
    expect(f.outageMs).toBeGreaterThan(0);
    expect(f.outageMs).toBeLessThan(30_000);
    expect(f.failedElsewhere).toBe(0);
    expect(f.failedAfterRecovery).toBe(0);
  }, 120_000);
});
