// The namespace lab itself: what it builds, that nothing of it reaches the root namespace, links
// that go down and up, a leftover lab cleaned on the next build, and a destroy that leaves nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { run } from '../../src/exec.js';
import type { Attempt, BurstOptions } from '../../src/lab/client.js';
import { createLab, NetnsLab } from '../../src/lab/netns.js';
import { built } from '../../src/paths.js';
import { alive } from './lab-helpers.js';

const PREFIX = 'dplab';
const rootLinks = async () => (JSON.parse((await run('ip', ['-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname);

/** Connections from the client to `target` (a node's own address), through the switch. */
async function connectFromClient(lab: NetnsLab, target: string, sources: string[], count: number): Promise<Attempt[]> {
  const opts: BurstOptions = { target, port: 8080, sources, count, concurrency: 8, timeoutMs: 1_000 };
  const r = await lab.exec(lab.clientNs, [process.execPath, built('lab/client.js'), JSON.stringify(opts)]);
  return JSON.parse(r.stdout) as Attempt[];
}

describe('namespace lab', () => {
  let lab: NetnsLab;
  let rootBefore: string[];
  beforeAll(async () => {
    rootBefore = await rootLinks();
    lab = await createLab({ prefix: PREFIX, nodes: 2, clientAddresses: 300, ipv6: true });
    for (const i of lab.nodeIds) {
      const child = lab.spawn(lab.nodeNs(i), [process.execPath, built('lab/responder.js'), `node${i}`, '8080']);
      await once(child.stdout!, 'data');
    }
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('builds a switch, the nodes and a client, and nothing in the root namespace', async () => {
    expect(await lab.namespaces()).toEqual([`${PREFIX}-c`, `${PREFIX}-n1`, `${PREFIX}-n2`, `${PREFIX}-sw`]);
    const added = (await rootLinks()).filter((l) => !rootBefore.includes(l));
    expect(added.filter((l) => l.startsWith(PREFIX) || l === 'eth0' || l === 'br0')).toEqual([]);
    const snooping = await lab.exec(lab.switchNs, ['cat', '/sys/class/net/br0/bridge/multicast_snooping']);
    expect(snooping.stdout.trim()).toBe('0');
    // Nothing is routed out: no default route anywhere, only on-link lab prefixes.
    for (const ns of await lab.namespaces()) {
      for (const fam of ['-4', '-6']) {
        const routes = (await lab.exec(ns, ['ip', fam, 'route', 'show', 'default'])).stdout.trim();
        expect(routes, `${ns} ${fam}`).toBe('');
      }
    }
    const v4 = JSON.parse((await lab.exec(lab.clientNs, ['ip', '-4', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout)[0].addr_info;
    const v6 = JSON.parse((await lab.exec(lab.clientNs, ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout)[0].addr_info.filter(
      (a: { scope: string }) => a.scope === 'global',
    );
    expect(v4.length).toBe(300);
    expect(v6.length).toBe(300);
    expect(v4.every((a: { local: string }) => a.local.startsWith('198.18.'))).toBe(true);
    expect(v6.every((a: { local: string }) => a.local.startsWith('2001:db8::'))).toBe(true);
  });

  it('connects the client to every node from many source addresses, over IPv4 and IPv6', async () => {
    for (const i of lab.nodeIds) {
      const v4 = await connectFromClient(lab, lab.nodeAddress(i), lab.clientSources, 40);
      const v6 = await connectFromClient(lab, lab.nodeAddress6(i), lab.clientSources6, 40);
      expect([...v4, ...v6].map((a) => a.node ?? a.error)).toEqual(new Array(80).fill(`node${i}`));
      expect(new Set(v4.map((a) => a.src)).size).toBe(40);
    }
  });

  it("cuts a node's cable and restores it", async () => {
    await lab.linkDown(1);
    const down = await connectFromClient(lab, lab.nodeAddress(1), lab.clientSources, 4);
    expect(down.filter((a) => a.node)).toEqual([]);
    expect((await connectFromClient(lab, lab.nodeAddress(2), lab.clientSources, 4)).every((a) => a.node === 'node2')).toBe(true);
    await lab.linkUp(1);
    // Neighbour entries may need a moment to recover after the cut.
    let up: Attempt[] = [];
    for (let k = 0; k < 10; k++) {
      up = await connectFromClient(lab, lab.nodeAddress(1), lab.clientSources, 4);
      if (up.every((a) => a.node === 'node1')) break;
    }
    expect(up.every((a) => a.node === 'node1')).toBe(true);
  });

  it('replaces a leftover lab of the same prefix (and its processes), and destroy leaves nothing', async () => {
    const straggler = lab.spawn(lab.nodeNs(2), ['sleep', '600']);
    const pid = straggler.pid!;
    // Another build with the same prefix, as after a crashed run: the old lab goes first.
    const again = await NetnsLab.create({ prefix: PREFIX, nodes: 1, clientAddresses: 2 });
    expect(alive(pid)).toBe(false);
    expect(await again.namespaces()).toEqual([`${PREFIX}-c`, `${PREFIX}-n1`, `${PREFIX}-sw`]);
    const sleeper = again.spawn(again.nodeNs(1), ['sleep', '600']);
    await again.destroy();
    expect(alive(sleeper.pid!)).toBe(false);
    expect(await NetnsLab.namespacesOf(PREFIX)).toEqual([]);
    expect((await rootLinks()).filter((l) => l.startsWith(PREFIX))).toEqual([]);
  });

  it('refuses a prefix that could clash with other names', async () => {
    await expect(NetnsLab.create({ prefix: 'Bad-Prefix', nodes: 1 })).rejects.toThrow(/prefix/);
  });
});
