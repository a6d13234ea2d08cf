// Directors that are also real servers, on the host kernel's nft: with `fwmark` on the VIP, the
// client packets a node takes by bucket carry the mark (the IPVS virtual service is defined on it),
// and a frame to a node's own MAC — what a peer director forwards to it — reaches the local
// service whatever its bucket, unmarked (so IPVS would not schedule it again). Without the mark
// such a frame is hashed like any other and dropped outside the node's buckets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf } from '../../src/assignment/assign.js';
import { summarize, VipLab } from '../../src/lab/vip-lab.js';

const MARK = 7;
let vl: VipLab;
beforeAll(async () => {
  vl = await VipLab.create({ prefix: 'dpc', buckets: 64 });
  // Counts marked packets reaching each node's local stack.
  for (const i of vl.lab.nodeIds)
    await vl.lab.execNode(i, ['nft', '-f', '-'], {
      input: `table inet dpcmark {\n chain input {\n type filter hook input priority 0;\n meta mark ${MARK} counter\n }\n}\n`,
    });
});
afterAll(async () => {
  await vl?.destroy();
});

async function marked(i: number): Promise<number> {
  const r = await vl.lab.execNode(i, ['nft', 'list', 'chain', 'inet', 'dpcmark', 'input']);
  return Number(r.stdout.match(/counter packets (\d+)/)![1]);
}

/** Sends the client's connections to node 2's own MAC (a route to the VIP through its address), as a peer director does. */
async function viaNode2<T>(work: () => Promise<T>): Promise<T> {
  await vl.lab.exec(vl.lab.clientNs, ['ip', 'route', 'add', `${vl.target}/32`, 'via', vl.lab.nodeAddress(2)]);
  try {
    return await work();
  } finally {
    await vl.lab.exec(vl.lab.clientNs, ['ip', 'route', 'del', `${vl.target}/32`]);
  }
}

describe('a VIP with fwmark (directors that are real servers)', () => {
  const notNode2 = () => vl.tuplesWhere((b) => !bucketsOf(vl.owners, 2).includes(b), 60, 30_000);

  it("without the mark, a frame to a node's own MAC is hashed: outside its buckets it is dropped", async () => {
    const attempts = await viaNode2(() => vl.burst(notNode2(), 16, 1500));
    expect(attempts.filter((a) => a.node).length).toBe(0);
  });

  it('with it, client packets are taken by bucket and marked on their owner only', async () => {
    vl.vip = { ...vl.vip, fwmark: MARK };
    await vl.setOwners(vl.owners);
    const before = await Promise.all(vl.lab.nodeIds.map(marked));
    const s = summarize(vl, await vl.burst(300, 32));
    expect(s).toMatchObject({ connections: 300, failed: 0, mispredicted: 0 });
    const after = await Promise.all(vl.lab.nodeIds.map(marked));
    // Each connection is a few packets, all marked, on its owner (which every answer came from).
    for (const i of vl.lab.nodeIds) expect(after[i - 1] - before[i - 1]).toBeGreaterThanOrEqual(3 * s.perNode[`node${i}`]);
  });

  it("with it, a frame to a node's own MAC reaches the local service whatever its bucket, unmarked", async () => {
    const before = await marked(2);
    const attempts = await viaNode2(() => vl.burst(notNode2(), 16, 3000));
    expect(attempts.map((a) => a.node ?? a.error)).toEqual(attempts.map(() => 'node2'));
    expect(await marked(2)).toBe(before);
  });
});
