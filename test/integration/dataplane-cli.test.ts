// `aavip vip` on one namespace of the host kernel: the table it makes lists with the installed nft
// (Debian 12's 1.0.6 crashed on the old map declaration), `bucket add/remove` keep the bucket count
// the kernel hashes into, and a renewal of a table that is gone fails cleanly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { CLI } from '../../src/lab/vip-lab.js';
import { withoutLiveState } from './lab-helpers.js';

const NS = 'hnfcli-n1';
const inNs = (args: string[], input?: string) => run('ip', ['netns', 'exec', NS, ...args], { allowFailure: true, input });
const aavip = (args: string[]) => inNs([process.execPath, CLI, 'vip', ...args]);
const VIP = ['--ip', '198.18.0.50/24', '--nic', 'eth0', '--backend', 'nft', '--seed', '0x99'];
const TABLE = 'aavip_198_18_0_50';

/** The `mod` of every jhash in the VIP's rules, as the kernel holds them (one per port protocol, one for the rest, one for packets conntrack has no entry for). */
async function kernelModuli(): Promise<number[]> {
  const r = await inNs(['nft', '-j', 'list', 'chain', 'ip', TABLE, 'vip']);
  expect(r.status).toBe(0);
  return [...r.stdout.matchAll(/"jhash": \{"mod": (\d+)/g)].map((m) => Number(m[1]));
}

beforeAll(async () => {
  await run('ip', ['netns', 'del', NS], { allowFailure: true });
  await run('ip', ['netns', 'add', NS]);
  await run('ip', ['-n', NS, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'peer0']);
  for (const dev of ['eth0', 'peer0', 'lo']) await run('ip', ['-n', NS, 'link', 'set', dev, 'up']);
});
afterAll(async () => {
  await run('ip', ['netns', 'del', NS], { allowFailure: true });
});

describe('aavip vip and the installed nft', () => {
  it('leaves a table that `nft list ruleset`, `list table` and `list map` print (exit 0), and reads it back', async () => {
    expect((await aavip(['apply', ...VIP, '--buckets', '4', '--own', '1,2', '--draining', '4'])).status).toBe(0);
    for (const args of [
      ['list', 'ruleset'],
      ['list', 'table', 'ip', TABLE],
      ['list', 'map', 'ip', TABLE, 'buckets'],
    ]) {
      const r = await inNs(['nft', ...args]);
      expect({ args, status: r.status }).toEqual({ args, status: 0 });
      expect(r.stdout).toContain(`table ip ${TABLE}`);
      expect(r.stdout).toMatch(/elements = \{ 1 : goto own, 2 : goto own, 4 : goto draining \}/);
    }
    const st = JSON.parse((await aavip(['status', ...VIP, '--buckets', '4', '--json'])).stdout);
    expect(st).toMatchObject({ ownership: { owned: [1, 2], incoming: [], draining: [4] }, buckets: 4, addressPresent: true });
    expect(st.leased).toBeUndefined();
    expect((await aavip(['remove', ...VIP, '--buckets', '4'])).status).toBe(0);
  });
});

describe('aavip vip bucket add/remove and the bucket count', () => {
  it("keeps the kernel's bucket count when --buckets is not given", async () => {
    expect((await aavip(['apply', ...VIP, '--buckets', '2', '--own', '1,2'])).status).toBe(0);
    expect(await kernelModuli()).toEqual([2, 2, 2, 2, 2, 2, 2]);
    // Without --buckets the default (256 for nft) used to replace the kernel's count.
    const removed = await aavip(['bucket', 'remove', '2', ...VIP]);
    expect(removed.status, removed.stderr).toBe(0);
    expect(await kernelModuli()).toEqual([2, 2, 2, 2, 2, 2, 2]);
    const added = await aavip(['bucket', 'add', '2', ...VIP]);
    expect(added.status, added.stderr).toBe(0);
    expect(await kernelModuli()).toEqual([2, 2, 2, 2, 2, 2, 2]);
    expect(JSON.parse((await aavip(['status', ...VIP, '--json'])).stdout)).toMatchObject({ ownership: { owned: [1, 2] }, buckets: 2 });
  });

  it("refuses an explicit --buckets that differs from the kernel's, naming both, and changes nothing", async () => {
    const before = withoutLiveState((await inNs(['nft', '-j', 'list', 'table', 'ip', TABLE])).stdout);
    const r = await aavip(['bucket', 'remove', '1', ...VIP, '--buckets', '8']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--buckets: the kernel hashes 198\.18\.0\.50\/24 into 2 buckets, not 8/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(withoutLiveState((await inNs(['nft', '-j', 'list', 'table', 'ip', TABLE])).stdout)).toBe(before);
    // A bucket beyond the kernel's count is refused against that count.
    const beyond = await aavip(['bucket', 'add', '3', ...VIP]);
    expect(beyond.status).toBe(2);
    expect(beyond.stderr).toMatch(/'3' is not a bucket in 1\.\.2/);
  });

  it('renews a lease with one transaction, and fails cleanly once the table is gone', async () => {
    expect((await aavip(['renew', ...VIP, '--buckets', '2', '--own', '1,2', '--lease', '60000'])).status).toBe(0);
    const st = JSON.parse((await aavip(['status', ...VIP, '--json'])).stdout);
    expect(st).toMatchObject({ ownership: { owned: [1, 2] }, leased: true });
    expect((await inNs(['nft', 'list', 'map', 'ip', TABLE, 'buckets'])).stdout).toMatch(/1 timeout 1m expires \S+ : goto own/);
    expect((await aavip(['remove', ...VIP])).status).toBe(0);
    const gone = await aavip(['renew', ...VIP, '--buckets', '2', '--own', '1,2', '--lease', '60000']);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toMatch(/refused the transaction: Error: No such file or directory/);
  });
});
