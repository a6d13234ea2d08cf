// The nft backend on the host's real kernel: a three-node active/active VIP in namespaces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { bucketsOf } from '../../src/assignment/assign.js';
import { HASHMODES } from '../../src/hash/hashmode.js';
import { summarize, VipLab, VIP_ADDRESS, SERVICE_PORT, nodeName, CLI } from '../../src/lab/vip-lab.js';
import { run } from '../../src/dataplane/exec.js';
import { DIST, Holder } from './lab-helpers.js';

describe.each(HASHMODES)('nft backend, %s', (hashmode) => {
  let vl: VipLab;
  beforeAll(async () => { vl = await VipLab.create({ prefix: `dp${HASHMODES.indexOf(hashmode)}`, hashmode }); });
  afterAll(async () => { await vl?.destroy(); });

  it('answers 600 connections, each from the node the model predicts', async () => {
    const s = summarize(vl, await vl.burst(600));
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
    expect(Object.keys(s.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it('gives the client the cluster MAC for the VIP', async () => {
    const neigh = await vl.lab.exec(vl.lab.clientNs, ['ip', 'neigh', 'show', VIP_ADDRESS]);
    expect(neigh.stdout).toContain(`lladdr ${vl.vip.mac}`);
  });
});

describe('nft backend: ICMP errors, bucket moves, handover, reconcile', () => {
  let vl: VipLab;
  beforeAll(async () => { vl = await VipLab.create({ prefix: 'dpx' }); });
  afterAll(async () => { await vl?.destroy(); });

  const countIcmpErrors = async (i: number) => {
    const r = await vl.lab.exec(vl.lab.nodeNs(i), ['nft', '-j', 'list', 'table', 'inet', 'probe']);
    const rule = JSON.parse(r.stdout).nftables.find((o: any) => o.rule)?.rule;
    return rule.expr.find((e: any) => e.counter).counter.packets as number;
  };

  it('delivers an ICMP fragmentation-needed error to the owner of the flow it quotes, and to no one else', async () => {
    for (const i of vl.lab.nodeIds) {
      await vl.lab.exec(vl.lab.nodeNs(i), ['nft', '-f', '-'], {
        input: 'table inet probe {\n chain in {\n type filter hook input priority 0;\n icmp type destination-unreachable counter\n }\n}\n',
      });
    }
    const { holder, opened } = await Holder.open(vl.lab, { target: VIP_ADDRESS, port: SERVICE_PORT, count: 6 });
    try {
      for (const c of opened) {
        const owner = vl.predictedNode(c.src, c.sport);
        expect(nodeName(owner)).toBe(c.node);
        const before = await Promise.all(vl.lab.nodeIds.map(countIcmpErrors));
        // Sent from the client's namespace (its first address stands in for a router).
        await vl.lab.exec(vl.lab.clientNs, [process.execPath, join(DIST, 'lab', 'icmp-error.js'), VIP_ADDRESS, String(SERVICE_PORT), c.src, String(c.sport)]);
        await new Promise((r) => setTimeout(r, 200));
        const after = await Promise.all(vl.lab.nodeIds.map(countIcmpErrors));
        const got = vl.lab.nodeIds.filter((_, k) => after[k] > before[k]);
        expect(got).toEqual([owner]);
      }
    } finally {
      await holder.close();
    }
  });

  it('moves a bucket from node 1 to node 2 while traffic runs without failing connections in other buckets', async () => {
    const moved = bucketsOf(vl.owners, 1)[0];
    const traffic = vl.burst(900, 16);
    await new Promise((r) => setTimeout(r, 300));
    const next = [...vl.owners];
    next[moved - 1] = 2;
    // New owner first, then the old one lets go: the bucket is never unserved.
    await vl.applyOwnership(2, { owned: bucketsOf(next, 2), incoming: [], draining: [] });
    await vl.applyOwnership(1, { owned: bucketsOf(next, 1), incoming: [], draining: [] });
    const attempts = await traffic;
    const others = attempts.filter((a) => vl.bucketOfConnection(a.src, a.sport) !== moved || a.sport === 0);
    expect(others.filter((a) => !a.node)).toEqual([]);
    vl.owners = next;
    const s = summarize(vl, await vl.burst(300));
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
  });

  it('hands a bucket over without resetting the old owner\'s connections', async () => {
    const { holder, opened } = await Holder.open(vl.lab, { target: VIP_ADDRESS, port: SERVICE_PORT, count: 120 });
    try {
      // A bucket of node 1 that carries held connections.
      const onNode1 = opened.filter((c) => c.node === 'node1');
      const bucket = vl.bucketOfConnection(onNode1[0].src, onNode1[0].sport);
      const heldInBucket = opened.map((c, k) => ({ c, k })).filter(({ c }) => vl.bucketOfConnection(c.src, c.sport) === bucket);
      const next = [...vl.owners];
      next[bucket - 1] = 2;
      await vl.applyOwnership(2, { owned: bucketsOf(next, 2).filter((b) => b !== bucket), incoming: [bucket], draining: [] });
      await vl.applyOwnership(1, { owned: bucketsOf(next, 1), incoming: [], draining: [bucket] });
      // Old connections in the bucket still reach node 1; none of the held ones was reset.
      const p = await holder.probe();
      expect(p.alive.every(Boolean)).toBe(true);
      expect(heldInBucket.every(({ k }) => p.closed[k] === null)).toBe(true);
      // New connections in that bucket go to node 2.
      vl.owners = next;
      const s = summarize(vl, await vl.burst(400));
      expect(s.failed).toBe(0);
      expect(s.mispredicted).toBe(0);
      // Handover complete: node 1 lets go, node 2 owns it fully; the old connections now reach node 2's
      // kernel, which has no socket for them — that is what draining waits for, so close them first.
    } finally {
      await holder.close();
    }
  });

  it('applies idempotently and removes exactly what it added', async () => {
    const ns = vl.lab.nodeNs(3);
    const list = async () => (await vl.lab.exec(ns, ['nft', '-j', 'list', 'ruleset'])).stdout;
    const addrs = async () => (await vl.lab.exec(ns, ['ip', '-j', 'addr', 'show', 'dev', 'eth0'])).stdout;
    const before = await list();
    await vl.applyOwnership(3, { owned: bucketsOf(vl.owners, 3), incoming: [], draining: [] });
    expect(await list()).toBe(before);
    await vl.lab.exec(ns, [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()]);
    await vl.lab.exec(ns, [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()]);
    const after = JSON.parse(await list()).nftables.filter((o: any) => o.table).map((o: any) => o.table.name);
    expect(after).toEqual(['probe']);
    expect(await addrs()).not.toContain(VIP_ADDRESS);
    const maddr = await vl.lab.exec(ns, ['ip', 'maddr', 'show', 'dev', 'eth0']);
    expect(maddr.stdout).not.toContain(vl.vip.mac);
  });

  it('refuses bad input before touching the kernel', async () => {
    const ns = vl.lab.nodeNs(1);
    const before = (await vl.lab.exec(ns, ['nft', '-j', 'list', 'ruleset'])).stdout;
    const bad = [
      ['--ip', '198.18.0.100', '--nic', 'eth0'],
      ['--ip', '198.18.0.100/16', '--nic', 'eth0', '--mac', '00:11:22:33:44:55'],
      ['--ip', '198.18.0.100/16', '--nic', 'nosuch0'],
      ['--ip', '198.18.0.100/16', '--nic', 'eth0', '--backend', 'clusterip', '--buckets', '17'],
      ['--ip', '198.18.0.100/16', '--nic', 'eth0', '--backend', 'xt_cluster', '--hashmode', 'sourceip-sourceport'],
    ];
    for (const args of bad) {
      const r = await run('ip', ['netns', 'exec', ns, process.execPath, CLI, 'vip', 'apply', ...args, '--own', '1'], { allowFailure: true });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/aavip: .*(address|mac|interface|buckets|hashmode)/);
    }
    expect((await vl.lab.exec(ns, ['nft', '-j', 'list', 'ruleset'])).stdout).toBe(before);
  });
});

describe('xt_cluster backend on the host kernel', () => {
  let vl: VipLab;
  beforeAll(async () => { vl = await VipLab.create({ prefix: 'dpxt', backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3 }); });
  afterAll(async () => { await vl?.destroy(); });

  it('answers every connection from the predicted owner', async () => {
    const s = summarize(vl, await vl.burst(300));
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
    expect(Object.keys(s.perNode).length).toBe(3);
  });
});
