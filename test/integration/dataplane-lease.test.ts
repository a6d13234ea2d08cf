// Bucket leases on the nft backend, on the host's real kernel: a node whose buckets are leased and
// never renewed stops serving them by itself (the kernel drops the map elements), as a daemon
// killed with SIGKILL must, while the other node's buckets keep answering; renewed, it keeps serving.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketsOf } from '../../src/assignment/assign.js';
import { run } from '../../src/exec.js';
import { nftTableName } from '../../src/dataplane/nft.js';
import { CLI, VipLab } from '../../src/lab/vip-lab.js';

let vl: VipLab;
beforeAll(async () => {
  vl = await VipLab.create({ prefix: 'hnfl', nodes: 2, buckets: 8, clientAddresses: 40 });
});
afterAll(async () => {
  await vl?.destroy();
});

const aavip = (i: number, args: string[]) => run('ip', ['netns', 'exec', vl.lab.nodeNs(i), process.execPath, CLI, 'vip', ...args], { allowFailure: true });
const ownArgs = (i: number) => ['--own', bucketsOf(vl.owners, i).join(',')];

/** The buckets in node i's kernel map right now (expired elements are not listed). */
async function mapBuckets(i: number): Promise<number[]> {
  const r = await vl.lab.execNode(i, ['nft', '-j', 'list', 'map', 'ip', nftTableName(vl.vip), 'buckets']);
  const map = JSON.parse(r.stdout).nftables.find((o: any) => o.map).map;
  return (map.elem ?? []).map(([k]: [any]) => (typeof k === 'number' ? k : k.elem.val)).sort((a: number, b: number) => a - b);
}

/** Polls (bounded in count and time) until `done` holds; returns whether it did. */
async function eventually(done: () => Promise<boolean>, tries = 80, everyMs = 100): Promise<boolean> {
  for (let k = 0; k < tries; k++) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

/** Where each of `count` fresh connections in node i's buckets went ('node1', or the error). */
async function answersIn(i: number, count: number, firstPort: number, timeoutMs = 1500): Promise<string[]> {
  const tuples = vl.tuplesWhere((b) => vl.owners[b - 1] === i, count, firstPort);
  return (await vl.burst(tuples, 8, timeoutMs)).map((a) => a.node ?? 'failed');
}

describe('nft bucket leases', () => {
  it('a lease that is never renewed lapses: the kernel map empties and new connections in its buckets fail', async () => {
    expect(await answersIn(1, 10, 10_000)).toEqual(new Array(10).fill('node1'));
    const r = await aavip(1, ['apply', ...vl.vipArgs(), ...ownArgs(1), '--lease', '400']);
    expect(r.status, r.stderr).toBe(0);
    expect(await eventually(async () => (await mapBuckets(1)).length === 0)).toBe(true);
    const st = JSON.parse((await aavip(1, ['status', ...vl.vipArgs(), '--json'])).stdout);
    expect(st.ownership).toEqual({ owned: [], incoming: [], draining: [] });
    // Nobody serves node 1's buckets now (node 2 never owned them), node 2's still answer.
    expect(await answersIn(1, 10, 11_000)).toEqual(new Array(10).fill('failed'));
    expect(await answersIn(2, 10, 12_000)).toEqual(new Array(10).fill('node2'));
    // Applied again without a lease, node 1 serves them for good.
    expect((await aavip(1, ['apply', ...vl.vipArgs(), ...ownArgs(1)])).status).toBe(0);
    expect(await mapBuckets(1)).toEqual(bucketsOf(vl.owners, 1));
    expect(await answersIn(1, 10, 13_000)).toEqual(new Array(10).fill('node1'));
  });

  it('a lease that is renewed keeps serving, for many times its length', async () => {
    const leaseMs = 5000;
    const args = [...vl.vipArgs(), ...ownArgs(1), '--lease', String(leaseMs)];
    expect((await aavip(1, ['apply', ...args])).status).toBe(0);
    const t0 = Date.now();
    let renewals = 0;
    // Bounded: at most 60 renewals; stops once three leases' time has passed.
    while (renewals < 60 && Date.now() - t0 < 3 * leaseMs) {
      const r = await aavip(1, ['renew', ...args]);
      expect(r.status, r.stderr).toBe(0);
      renewals++;
      await new Promise((res) => setTimeout(res, 300));
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * leaseMs);
    expect(await mapBuckets(1)).toEqual(bucketsOf(vl.owners, 1));
    expect(JSON.parse((await aavip(1, ['status', ...vl.vipArgs(), '--json'])).stdout)).toMatchObject({ leased: true });
    expect(await answersIn(1, 10, 14_000)).toEqual(new Array(10).fill('node1'));
  });
});
