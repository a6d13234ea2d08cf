// The nft backend on the host's real kernel: a three-node active/active VIP in namespaces, for
// every hashmode, IPv4 and IPv6; every answer checked against the hash model, and ICMP errors
// followed to the owner of the flow they quote.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HASHMODES } from '../../src/hash/hashmode.js';
import { parseAddress } from '../../src/hash/flow.js';
import { bucketOf } from '../../src/hash/mechanisms.js';
import { summarize, VipLab, SERVICE_PORT, nodeName } from '../../src/lab/vip-lab.js';
import { DIST, Holder } from './lab-helpers.js';
import { join } from 'node:path';

/** Counts ICMP destination-unreachable packets reaching each node's input hook. */
async function watchIcmpErrors(vl: VipLab): Promise<() => Promise<number[]>> {
  for (const i of vl.lab.nodeIds) {
    await vl.lab.execNode(i, ['nft', '-f', '-'], {
      input: 'table inet dpprobe {\n chain in {\n type filter hook input priority 0;\n icmp type destination-unreachable counter\n }\n}\n',
    });
  }
  return () =>
    Promise.all(
      vl.lab.nodeIds.map(async (i) => {
        const r = await vl.lab.execNode(i, ['nft', '-j', 'list', 'table', 'inet', 'dpprobe']);
        const rule = JSON.parse(r.stdout).nftables.find((o: any) => o.rule)?.rule;
        return rule.expr.find((e: any) => e.counter).counter.packets as number;
      }),
    );
}

describe.each(HASHMODES)('nft backend, %s', (hashmode) => {
  let vl: VipLab;
  beforeAll(async () => {
    vl = await VipLab.create({ prefix: `dp${HASHMODES.indexOf(hashmode)}`, hashmode });
  });
  afterAll(async () => {
    await vl?.destroy();
  });

  it('answers 600 connections, each from the node the model predicts', async () => {
    const s = summarize(vl, await vl.burst(600));
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
    expect(Object.keys(s.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    // Each node's share is roughly its third of the buckets (loose: 600 samples).
    for (const n of Object.values(s.perNode)) expect(n).toBeGreaterThan(100);
  });

  it('gives the client the cluster MAC for the VIP', async () => {
    const neigh = await vl.lab.execClient(['ip', 'neigh', 'show', vl.target]);
    expect(neigh.stdout).toContain(`lladdr ${vl.vip.mac}`);
  });

  it('delivers an ICMP fragmentation-needed error to the owner of the flow it quotes, and to no one else', async () => {
    const counts = await watchIcmpErrors(vl);
    // The error comes from the client namespace's primary address, standing in for a router. Had
    // the rules hashed the error's own header, it would land on this address's owner; pick flows
    // owned by the other nodes so that such a mistake shows.
    const router = vl.lab.clientSources[0];
    const routerBucket = bucketOf(
      { mechanism: 'nft', hashmode, seed: vl.vip.seed, buckets: vl.vip.buckets },
      { src: parseAddress(router)!, srcPort: 0, dst: vl.vip.address, dstPort: 0, proto: 1 },
    );
    const { holder, opened } = await Holder.open(vl.lab, { target: vl.target, port: SERVICE_PORT, count: 30 });
    try {
      const flows = opened.filter((c) => vl.predictedNode(c.src, c.sport) !== vl.owners[routerBucket - 1]);
      const picked = [...new Map(flows.map((c) => [c.node, c])).values()];
      expect(picked.length).toBe(2);
      for (const c of picked) {
        expect(c.node).toBe(nodeName(vl.predictedNode(c.src, c.sport)));
        const before = await counts();
        await vl.lab.execClient([process.execPath, join(DIST, 'lab', 'icmp-error.js'), vl.target, String(SERVICE_PORT), c.src, String(c.sport)]);
        await new Promise((r) => setTimeout(r, 150));
        const after = await counts();
        expect(vl.lab.nodeIds.filter((_, k) => after[k] > before[k]).map(nodeName)).toEqual([c.node]);
      }
    } finally {
      await holder.close();
    }
  });
});

describe('nft backend, IPv6 VIP with 1024 buckets', () => {
  let vl: VipLab;
  beforeAll(async () => {
    vl = await VipLab.create({ prefix: 'dp6', family: 6, buckets: 1024, hashmode: 'sourceip-sourceport-destport' });
  });
  afterAll(async () => {
    await vl?.destroy();
  });

  it('answers 600 connections from IPv6 sources, each from the node the model predicts', async () => {
    const attempts = await vl.burst(600);
    expect(attempts.every((a) => a.src.startsWith('2001:db8::'))).toBe(true);
    const s = summarize(vl, attempts);
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
    expect(Object.keys(s.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it("holds all 1024 buckets in the nodes' maps, each bucket on exactly one node", async () => {
    const seen = new Map<number, number>();
    for (const i of vl.lab.nodeIds) {
      const r = await vl.lab.execNode(i, [process.execPath, join(DIST, 'cli', 'main.js'), 'vip', 'status', ...vl.vipArgs(), '--json']);
      const st = JSON.parse(r.stdout);
      expect(st).toMatchObject({ backend: 'nft', addressPresent: true, macJoined: true, mac: '33:33:00:00:01:00' });
      for (const b of st.ownership.owned) {
        expect(seen.has(b)).toBe(false);
        seen.set(b, i);
      }
    }
    expect(seen.size).toBe(1024);
    expect([...seen].every(([b, i]) => vl.owners[b - 1] === i)).toBe(true);
  });
});
