// The baseline: resource-agents' ocf:heartbeat:IPaddr2 on the same three-node cluster and kernel.
// Cloned (its active/active mode) it needs iptables' CLUSTERIP target, which this kernel no longer
// has (removed in Linux 6.3): every instance fails to start. As a single floating address it runs,
// and the same crash gives the failover time to compare with the aavip clone's.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacemakerLab, outageFigures, type ClusterState } from '../../src/lab/pacemaker.js';
import { built } from '../../src/paths.js';

const TOKEN_MS = 1000;
const PORT = 8080;
let pl: PacemakerLab;
let nextPort = 10_000;
const tuples = (n: number) =>
  Array.from({ length: n }, () => {
    const sport = nextPort++;
    return { src: pl.lab.clientSources[sport % pl.lab.clientSources.length], sport };
  });

async function burst(target: string, n: number) {
  const opts = { target, port: PORT, sources: [], count: n, concurrency: 16, timeoutMs: 1500, tuples: tuples(n) };
  const r = await pl.lab.exec(pl.lab.clientNs, [process.execPath, built('lab/client.js'), JSON.stringify(opts)], { timeoutMs: 60_000 });
  const attempts = JSON.parse(r.stdout) as { node?: string }[];
  return { answeredBy: [...new Set(attempts.map((a) => a.node).filter(Boolean))].sort(), failed: attempts.filter((a) => !a.node).length };
}

const startedOn = (s: ClusterState, id: string) => s.resources.find((r) => r.id === id && r.role === 'Started')?.nodes[0];

function startResponder(i: number) {
  const r = pl.lab.spawn(pl.lab.nodeNs(i), [process.execPath, built('lab/responder.js'), `node${i}`, String(PORT)]);
  return once(r.stdout!, 'data');
}

beforeAll(async () => {
  pl = await PacemakerLab.create({ prefix: 'pmi', tokenMs: TOKEN_MS });
  for (const i of pl.lab.nodeIds) await startResponder(i);
  await pl.waitOnline(1, [1, 2, 3]);
}, 180_000);

afterAll(async () => {
  await pl?.destroy();
});

describe('ocf:heartbeat:IPaddr2 on this kernel', () => {
  it('cannot run as a clone: every instance fails to start for want of CLUSTERIP', async () => {
    await pl.crmConfigure(
      1,
      `primitive ip2 ocf:heartbeat:IPaddr2 \\
    params ip=198.18.0.100 cidr_netmask=24 nic=eth0 clusterip_hash=sourceip-sourceport \\
    op monitor interval=10s timeout=20s
clone ip2-clone ip2 \\
    meta clone-max=3 clone-node-max=3 globally-unique=true
`,
    );
    await pl.waitFor(
      async () => new Set((await pl.state(1)).failures.filter((f) => /^ip2:\d_start_0$/.test(f.opKey)).map((f) => `${f.opKey} ${f.node}`)).size === 9,
      60_000,
      'every IPaddr2 instance failing to start on every node',
    );
    const s = await pl.state(1);
    for (const f of s.failures.filter((x) => x.opKey.startsWith('ip2:'))) expect(f).toMatchObject({ exitCode: 1, exitReason: 'iptables failed' });
    expect(s.resources.filter((r) => r.id.startsWith('ip2:') && r.role === 'Started')).toEqual([]);
    expect((await burst('198.18.0.100', 30)).answeredBy).toEqual([]);
    process.stderr.write(
      `IPaddr2 clone on ${(await pl.exec(1, ['uname', '-r'])).stdout.trim()}: ${s.failures.length} start failures, reason "${s.failures[0]?.exitReason}"\n`,
    );
    await pl.exec(1, ['crm', '-w', 'resource', 'stop', 'ip2-clone']);
    await pl.exec(1, ['crm', '-w', 'configure', 'delete', 'ip2-clone']);
    await pl.exec(1, ['crm_resource', '--cleanup']);
  });

  it("runs as one floating address: a crashed node's address moves to a survivor", async () => {
    // On a node that is not the DC, as in the aavip test (losing the DC adds an election).
    const dc = (await pl.state(1)).dcName;
    const holder = [3, 2, 1].find((i) => pl.nodeName(i) !== dc)!;
    await pl.crmConfigure(
      1,
      `primitive ip1 ocf:heartbeat:IPaddr2 \\
    params ip=198.18.0.101 cidr_netmask=24 nic=eth0 \\
    op monitor interval=10s timeout=20s
location ip1-prefers ip1 100: node${holder}
`,
    );
    await pl.waitFor(async () => startedOn(await pl.state(1), 'ip1') === `node${holder}`, 60_000, 'ip1 started');
    const before = await burst('198.18.0.101', 60);
    expect(before).toEqual({ answeredBy: [`node${holder}`], failed: 0 });

    const observer = pl.lab.nodeIds.find((i) => i !== holder)!;
    const run = await pl.crashUnderLoad({
      crash: holder,
      observer,
      target: '198.18.0.101',
      port: PORT,
      tuples: tuples(800),
      everyMs: 15,
      beforeMs: 2000,
      recovered: (s) => {
        const n = startedOn(s, 'ip1');
        return n !== undefined && n !== `node${holder}`;
      },
    });
    const f = outageFigures(run, () => true);
    const now = startedOn(await pl.state(observer), 'ip1');
    const startMs = await pl.execTimeMs(observer, 'ip1_start_0', now!);
    process.stderr.write(
      `ocf:heartbeat:IPaddr2 primitive, token ${TOKEN_MS} ms: answered again ${f.outageMs} ms after node${holder} crashed ` +
        `(Pacemaker reported it on ${now} after ${f.pacemakerMs} ms, its start took ${startMs} ms; the crashed node ${run.crashedDc ? 'was' : 'was not'} the DC); ${f.lostAttempts} connections lost (all traffic)\n`,
    );
    expect(f.outageMs).toBeGreaterThan(0);
    expect(f.failedAfterRecovery).toBe(0);
    expect(now).not.toBe(`node${holder}`);

    await pl.restart(holder);
    await startResponder(holder);
    await pl.waitOnline(observer, [1, 2, 3]);
  });
});
