// The xt_cluster backend on the host kernel (6.18 still has xt_cluster): a three-node VIP whose
// answers match the model, a bucket moved by rewriting the VIP's chain, reconcile and exact removal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf } from '../../src/assignment/assign.js';
import { run } from '../../src/exec.js';
import { xtChainName } from '../../src/dataplane/xtcluster.js';
import { summarize, VipLab, CLI } from '../../src/lab/vip-lab.js';
import { withoutLiveState } from './lab-helpers.js';

describe('xt_cluster backend on the host kernel', () => {
  let vl: VipLab;
  beforeAll(async () => {
    vl = await VipLab.create({ prefix: 'dpxt', backend: 'xt_cluster', hashmode: 'sourceip', buckets: 6 });
  });
  afterAll(async () => {
    await vl?.destroy();
  });

  const aavip = (i: number, args: string[]) => run('ip', ['netns', 'exec', vl.lab.nodeNs(i), process.execPath, CLI, ...args], { allowFailure: true });
  const snapshot = async (i: number) => ({
    mangle: (await vl.lab.execNode(i, ['iptables-save', '-t', 'mangle'])).stdout.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, ''),
    nft: withoutLiveState((await vl.lab.execNode(i, ['nft', '-j', 'list', 'ruleset'])).stdout),
    addrs: (await vl.lab.execNode(i, ['ip', '-j', 'addr', 'show'])).stdout,
    maddr: (await vl.lab.execNode(i, ['ip', 'maddr', 'show', 'dev', 'eth0'])).stdout,
  });

  it('answers 600 connections, each from the node the model predicts', async () => {
    const s = summarize(vl, await vl.burst(600));
    expect({ failed: s.failed, mispredicted: s.mispredicted, errors: s.errors }).toEqual({ failed: 0, mispredicted: 0, errors: {} });
    expect(Object.keys(s.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    const neigh = await vl.lab.execClient(['ip', 'neigh', 'show', vl.target]);
    expect(neigh.stdout).toContain(`lladdr ${vl.vip.mac}`);
  });

  it('moves a bucket from node 1 to node 2 while traffic runs: no connection in the other buckets fails', async () => {
    const moved = bucketsOf(vl.owners, 1)[0];
    const traffic = vl.burst(
      vl.tuplesWhere((b) => b !== moved, 600, 10_000),
      16,
    );
    await new Promise((r) => setTimeout(r, 200));
    const next = [...vl.owners];
    next[moved - 1] = 2;
    await vl.applyOwnership(2, { owned: bucketsOf(next, 2), incoming: [], draining: [] });
    await vl.applyOwnership(1, { owned: bucketsOf(next, 1), incoming: [], draining: [] });
    const s = summarize(vl, await traffic);
    expect({ failed: s.failed, mispredicted: s.mispredicted }).toEqual({ failed: 0, mispredicted: 0 });
    vl.owners = next;
    const inMoved = await vl.burst(
      vl.tuplesWhere((b) => b === moved, 40, 20_000),
      16,
    );
    expect(inMoved.map((a) => a.node ?? a.error)).toEqual(new Array(40).fill('node2'));
    const rules = (await vl.lab.execNode(2, ['iptables', '-t', 'mangle', '-S', xtChainName(vl.vip)])).stdout;
    expect(rules.match(/-j ACCEPT/g)?.length).toBe(bucketsOf(next, 2).length);
  });

  it('applies twice without a change, and removal restores the node exactly', async () => {
    const bare = await (async () => {
      expect((await aavip(3, ['vip', 'remove', ...vl.vipArgs()])).status).toBe(0);
      return snapshot(3);
    })();
    expect(bare.mangle).not.toContain('AAVIP-');
    expect(bare.nft).not.toContain('aavip_');
    expect(bare.maddr).not.toContain(vl.vip.mac);
    const own = ['--own', bucketsOf(vl.owners, 3).join(',')];
    expect((await aavip(3, ['vip', 'apply', ...vl.vipArgs(), ...own])).status).toBe(0);
    const applied = await snapshot(3);
    expect(applied.mangle).toContain(xtChainName(vl.vip));
    expect(applied.nft).toContain('aavip_198_18_0_100');
    expect((await aavip(3, ['vip', 'apply', ...vl.vipArgs(), ...own])).status).toBe(0);
    expect(await snapshot(3)).toEqual(applied);
    const st = JSON.parse((await aavip(3, ['vip', 'status', ...vl.vipArgs(), '--json'])).stdout);
    expect(st).toMatchObject({ backend: 'xt_cluster', addressPresent: true, macJoined: true, ownership: { owned: bucketsOf(vl.owners, 3) } });
    expect((await aavip(3, ['vip', 'remove', ...vl.vipArgs()])).status).toBe(0);
    expect(await snapshot(3)).toEqual(bare);
  });
});
