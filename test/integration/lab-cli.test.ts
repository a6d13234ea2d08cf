// `aavip lab demo|up|status|down` as a user runs them (root, real kernel): the demo's JSON verdict,
// a lab left running that serves the VIP, and a `down` that leaves nothing behind.
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import type { BurstOptions, Attempt } from '../../src/lab/client.js';
import { isRunning, NetnsLab } from '../../src/lab/netns.js';
import { built } from '../../src/paths.js';

const aavip = (args: string[]) => run(process.execPath, [built('cli/main.js'), ...args], { allowFailure: true, timeoutMs: 180_000 });

describe('aavip lab', () => {
  afterAll(async () => {
    await NetnsLab.remove('dpdm');
    await aavip(['lab', 'down', '--prefix', 'dpup']);
  });

  it('demo --json: three nodes answer every connection as the model predicts, and the lab is gone afterwards', async () => {
    const r = await aavip(['lab', 'demo', '--json', '--prefix', 'dpdm', '--connections', '600', '--hashmode', 'sourceip-sourceport-destport']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ connections: 600, failed: 0, mispredicted: 0, hashmode: 'sourceip-sourceport-destport', clientSeesMac: out.clusterMac });
    expect(Object.keys(out.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(Object.values(out.perNode as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(600);
    expect(await NetnsLab.namespacesOf('dpdm')).toEqual([]);
  });

  it('up leaves a serving lab, status shows every bucket on one node, down removes it and its processes', async () => {
    const up = await aavip(['lab', 'up', '--prefix', 'dpup']);
    expect(up.status, up.stderr).toBe(0);
    const st = await aavip(['lab', 'status', '--prefix', 'dpup', '--json']);
    expect(st.status, st.stderr).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(status.namespaces).toEqual(['dpup-c', 'dpup-n1', 'dpup-n2', 'dpup-n3', 'dpup-sw']);
    const owned = status.nodes.flatMap((n: { vip: { ownership: { owned: number[] } } }) => n.vip.ownership.owned).sort((a: number, b: number) => a - b);
    expect(owned).toEqual(Array.from({ length: 256 }, (_, k) => k + 1));
    // The lab serves: a few connections from the client namespace are answered by the nodes.
    const opts: BurstOptions = {
      target: '198.18.0.100',
      port: 8080,
      sources: ['198.18.1.1', '198.18.1.2', '198.18.1.3'],
      count: 30,
      concurrency: 8,
      timeoutMs: 3000,
    };
    const burst = await run('ip', ['netns', 'exec', 'dpup-c', process.execPath, built('lab/client.js'), JSON.stringify(opts)]);
    const attempts = JSON.parse(burst.stdout) as Attempt[];
    expect(attempts.filter((a) => !a.node)).toEqual([]);
    const pids = (await run('ip', ['netns', 'pids', 'dpup-n1'])).stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0);
    expect(pids.length).toBeGreaterThan(0);
    const down = await aavip(['lab', 'down', '--prefix', 'dpup']);
    expect(down.status, down.stderr).toBe(0);
    expect(await NetnsLab.namespacesOf('dpup')).toEqual([]);
    expect(pids.filter(isRunning)).toEqual([]);
    const gone = await aavip(['lab', 'status', '--prefix', 'dpup']);
    expect(gone.status).toBe(3);
  });

  it('refuses a demo too large to be a bounded burst', async () => {
    const r = await aavip(['lab', 'demo', '--prefix', 'dpdm', '--connections', '1000000']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--connections: at most 20000/);
    expect(await NetnsLab.namespacesOf('dpdm')).toEqual([]);
  });
});
