// An IPv6 VIP on the host kernel with nothing configured on the client: it learns the cluster MAC
// through neighbour discovery (the nodes' advertisements and their solicitations from the VIP are
// rewritten by aavip's nft rules), every connection is answered by the node the model predicts,
// and an ICMPv6 "packet too big" about a flow reaches the flow's owner only.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf } from '../../src/assignment/assign.js';
import { nftTableName } from '../../src/dataplane/nft.js';
import { CLI, nodeName, SERVICE_PORT, summarize, VipLab } from '../../src/lab/vip-lab.js';
import { DIST, Holder, withoutLiveState } from './lab-helpers.js';

const hex = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString('hex')}`;

describe('IPv6 VIP: neighbour discovery with the cluster MAC', () => {
  let vl: VipLab;
  const vip = () => vl.target;
  const clientExec = (argv: string[]) => vl.lab.exec(vl.lab.clientNs, argv, { allowFailure: true });

  /** The client's counters of ND messages about the VIP, by whether they carry the cluster MAC. */
  async function ndCounters(): Promise<number[]> {
    const r = await clientExec(['nft', '-j', 'list', 'table', 'ip6', 'ndwatch']);
    return JSON.parse(r.stdout)
      .nftables.filter((o: any) => o.rule)
      .map((o: any) => o.rule.expr.find((e: any) => e.counter).counter.packets as number);
  }

  beforeAll(async () => {
    // 50 client addresses: the kernel's IPv6 neighbour table is shared by every namespace, and above
    // gc_thresh2 (512) entries its forced collection would purge the entries these tests set up.
    vl = await VipLab.create({ prefix: 'dpnd', family: 6, hashmode: 'sourceip-sourceport-destport', buckets: 1024, seed: 0xc0ffee, clientAddresses: 50 });
    // Forget whatever the lab told the client: from here on it learns the VIP's MAC by itself.
    await clientExec(['ip', '-6', 'neigh', 'flush', 'dev', 'eth0']);
    await clientExec(['ip', '-6', 'neigh', 'del', vip(), 'dev', 'eth0']);
    const target = hex(vl.vip.address.bytes);
    const cluster = `0x${vl.vip.mac.replace(/:/g, '')}`;
    await vl.lab.exec(vl.lab.clientNs, ['nft', '-f', '-'], {
      input: [
        'table ip6 ndwatch {',
        ' chain in {',
        '  type filter hook input priority 0; policy accept;',
        `  icmpv6 type nd-neighbor-advert @th,64,128 ${target} @th,208,48 ${cluster} counter`,
        `  icmpv6 type nd-neighbor-advert @th,64,128 ${target} @th,208,48 != ${cluster} counter`,
        `  ip6 saddr ${vip()} icmpv6 type nd-neighbor-solicit @th,208,48 ${cluster} counter`,
        `  ip6 saddr ${vip()} icmpv6 type nd-neighbor-solicit @th,208,48 != ${cluster} counter`,
        // Solicited answers to unicast probes carry no link-layer option (RFC 4861 §7.2.4): all NAs for the VIP.
        `  icmpv6 type nd-neighbor-advert @th,64,128 ${target} counter`,
        ' }',
        '}',
        '',
      ].join('\n'),
    });
    for (const i of vl.lab.nodeIds) {
      await vl.lab.exec(vl.lab.nodeNs(i), ['nft', '-f', '-'], {
        input: 'table ip6 ptbwatch {\n chain in {\n  type filter hook input priority 0;\n  icmpv6 type packet-too-big counter\n }\n}\n',
      });
    }
  });
  afterAll(async () => {
    await vl?.destroy();
  });

  it('answers 600 connections from the predicted owners, the client resolving the VIP itself', async () => {
    const s = summarize(vl, await vl.burst(600));
    expect(s.failed).toBe(0);
    expect(s.mispredicted).toBe(0);
    expect(Object.keys(s.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    const neigh = (await clientExec(['ip', '-6', 'neigh', 'show', vip(), 'dev', 'eth0'])).stdout;
    expect(neigh).toContain(`lladdr ${vl.vip.mac}`);
    expect(neigh).not.toContain('PERMANENT');
  });

  it('rewrites every advertisement for the VIP and every solicitation from it', async () => {
    const [naCluster, naOther, nsCluster, nsOther] = await ndCounters();
    // Each node answered the client's solicitation, and solicited (from the VIP) client addresses it
    // had to reply to; none of those messages carried a node's own MAC.
    expect(naCluster).toBeGreaterThanOrEqual(3);
    expect(nsCluster).toBeGreaterThan(0);
    expect([naOther, nsOther]).toEqual([0, 0]);
  });

  it('answers reachability probes (unicast solicitations to the VIP, which conntrack does not track)', async () => {
    // A stale entry used by traffic that confirms nothing (UDP; ping would confirm with
    // MSG_CONFIRM) is probed with unicast solicitations to the VIP, sent to the cluster MAC;
    // unanswered, the entry would fail.
    await clientExec(['sysctl', '-q', '-w', 'net.ipv6.neigh.eth0.delay_first_probe_time=1']);
    await clientExec(['ip', '-6', 'neigh', 'change', vip(), 'dev', 'eth0', 'nud', 'stale']);
    const answeredBefore = (await ndCounters())[4];
    const udp = `const s = require('dgram').createSocket('udp6'); let n = 0;
      const t = setInterval(() => { s.send('x', 9, '${vip()}'); if (++n === 5) { clearInterval(t); setTimeout(() => s.close(), 300); } }, 400);`;
    expect((await clientExec([process.execPath, '-e', udp])).status).toBe(0);
    const neigh = (await clientExec(['ip', '-6', 'neigh', 'show', vip(), 'dev', 'eth0'])).stdout;
    expect(neigh).toMatch(new RegExp(`lladdr ${vl.vip.mac} REACHABLE`));
    const [, other, , , answeredAfter] = await ndCounters();
    expect(answeredAfter).toBeGreaterThan(answeredBefore);
    expect(other).toBe(0);
  });

  it("delivers a packet-too-big error about a flow to the flow's owner only", async () => {
    const ptb = async (i: number) => {
      const r = await vl.lab.exec(vl.lab.nodeNs(i), ['nft', '-j', 'list', 'table', 'ip6', 'ptbwatch']);
      return JSON.parse(r.stdout)
        .nftables.find((o: any) => o.rule)
        .rule.expr.find((e: any) => e.counter).counter.packets as number;
    };
    const { holder, opened } = await Holder.open(vl.lab, { target: vip(), port: SERVICE_PORT, count: 12, sources: vl.sources });
    try {
      // One held flow per node.
      const flows = vl.lab.nodeIds.map((i) => opened.find((c) => c.node === nodeName(i))!);
      expect(flows.every(Boolean)).toBe(true);
      for (const c of flows) {
        const owner = vl.predictedNode(c.src, c.sport);
        expect(nodeName(owner)).toBe(c.node);
        const before = await Promise.all(vl.lab.nodeIds.map(ptb));
        await vl.lab.exec(vl.lab.clientNs, [process.execPath, join(DIST, 'lab', 'icmp6-error.js'), vip(), String(SERVICE_PORT), c.src, String(c.sport)]);
        await new Promise((r) => setTimeout(r, 200));
        const after = await Promise.all(vl.lab.nodeIds.map(ptb));
        expect(vl.lab.nodeIds.filter((_, k) => after[k] > before[k])).toEqual([owner]);
      }
      // The flows survive the error (the owner lowered its path MTU, nobody reset anything).
      const p = await holder.probe();
      expect(p.alive.every(Boolean)).toBe(true);
    } finally {
      await holder.close();
    }
  });

  it('applies twice without a change, and rebuilds a table changed behind its back', async () => {
    const table = nftTableName(vl.vip);
    const list = async () => withoutLiveState((await vl.lab.execNode(3, ['nft', '-j', 'list', 'table', 'ip6', table])).stdout);
    const ndRules = async () => JSON.parse(await list()).nftables.filter((o: any) => o.rule?.chain === 'nd_output').length;
    const own = { owned: bucketsOf(vl.owners, 3), incoming: [], draining: [] };
    const before = await list();
    await vl.applyOwnership(3, own);
    expect(await list()).toBe(before);
    await vl.lab.execNode(3, ['nft', 'flush', 'chain', 'ip6', table, 'nd_output']);
    expect(await ndRules()).toBe(0);
    await vl.applyOwnership(3, own);
    expect(await ndRules()).toBe(2);
    const after = await list();
    await vl.applyOwnership(3, own);
    expect(await list()).toBe(after);
  });

  it('announces the VIP with unsolicited advertisements when its address appears on a node', async () => {
    const wrongMac = '02:00:00:00:00:99';
    const neigh = async () => (await clientExec(['ip', '-6', 'neigh', 'show', vip(), 'dev', 'eth0'])).stdout;
    // A neighbour holding some other MAC for the VIP (as after a unicast setup; set just before the
    // address comes back, so that no probe of the bogus MAC fails and purges the entry first) ...
    const readd = async (arpCount: number) => {
      await vl.lab.execNode(1, [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()]);
      await clientExec(['ip', '-6', 'neigh', 'replace', vip(), 'lladdr', wrongMac, 'dev', 'eth0', 'nud', 'stale']);
      await vl.lab.execNode(1, [
        process.execPath,
        CLI,
        'vip',
        'apply',
        ...vl.vipArgs(),
        '--arp-count',
        String(arpCount),
        '--own',
        bucketsOf(vl.owners, 1).join(','),
      ]);
      await new Promise((r) => setTimeout(r, 200));
    };
    // ... keeps it when the address comes back silently ...
    await readd(0);
    expect(await neigh()).toContain(`lladdr ${wrongMac}`);
    // ... and is corrected, with no traffic needed, when it comes back announced.
    await readd(2);
    expect(await neigh()).toContain(`lladdr ${vl.vip.mac}`);
    const s = summarize(vl, await vl.burst(60));
    expect([s.failed, s.mispredicted]).toEqual([0, 0]);
  });
});

describe('IPv6 VIP on the xt_cluster backend: the same neighbour discovery', () => {
  let vl: VipLab;
  beforeAll(async () => {
    vl = await VipLab.create({ prefix: 'dpnx', family: 6, backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3, seed: 0x5eed, clientAddresses: 50 });
  });
  afterAll(async () => {
    await vl?.destroy();
  });

  it('answers every connection from the predicted owner, the client resolving the cluster MAC', async () => {
    const s = summarize(vl, await vl.burst(120));
    expect([s.failed, s.mispredicted]).toEqual([0, 0]);
    // xt_cluster hashes only the first 32 bits of an IPv6 source: the whole lab client is one bucket.
    expect(Object.keys(s.perNode).length).toBe(1);
    expect((await vl.lab.execClient(['ip', '-6', 'neigh', 'show', vl.target])).stdout).toContain(`lladdr ${vl.vip.mac}`);
  });

  it('applies twice without a change and removes its chain and ND table', async () => {
    const state = async () =>
      Promise.all([
        vl.lab.execNode(2, ['nft', '-j', 'list', 'ruleset']).then((r) => withoutLiveState(r.stdout)),
        vl.lab.execNode(2, ['ip6tables', '-t', 'mangle', '-S']).then((r) => r.stdout),
      ]);
    const before = await state();
    await vl.applyOwnership(2, { owned: bucketsOf(vl.owners, 2), incoming: [], draining: [] });
    expect(await state()).toEqual(before);
    await vl.lab.execNode(2, [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()]);
    const [ruleset, mangle] = await state();
    // (ip6tables-nft keeps its own empty `mangle` table; aavip's tables are gone.)
    expect(
      JSON.parse(ruleset)
        .nftables.filter((o: any) => o.table)
        .map((o: any) => o.table.name),
    ).toEqual(['mangle']);
    expect(mangle).not.toContain('AAVIP');
  });
});
