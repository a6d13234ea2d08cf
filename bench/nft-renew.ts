// What a bucket-lease renewal costs: the one nft transaction the daemon sends every heartbeat
// (flush the VIP's bucket map, re-add this node's buckets with a fresh timeout), sent by spawning
// `nft -f -` against sent in-process through libnftables (the native addon); wall time and CPU
// (this process and its reaped children). Beside them, for comparison, the in-place refresh a
// 6.18 kernel also does (a re-add with `expires`: no flush, but stale elements stay and older
// kernels ignore it). On the host kernel, in a throwaway network namespace (this script re-runs
// itself inside it).
// Usage (root): node dist/bench/nft-renew.js [--renewals N] [--buckets B] [--json]
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { bucketsOf } from '../src/assignment/assign.js';
import { nftApply, renderOwnership, renderVipTables } from '../src/dataplane/nft.js';
import { parseVipSpec } from '../src/dataplane/vipspec.js';
import { nativeNftRun } from '../src/native.js';

export interface Cost {
  wallMs: number;
  cpuMs: number;
}
export interface NftRenewResult {
  buckets: number;
  owned: number;
  renewals: number;
  spawn: Cost;
  native: Cost | null;
  nativeInPlace: Cost | null;
}

const NS = 'aavip-bench-renew';

/** Inside the namespace: a three-node share of the buckets, renewed over and over both ways. */
async function measure(renewals: number, buckets: number): Promise<NftRenewResult> {
  // The nft table names no interface, so none is needed here.
  const vip = parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', buckets, backend: 'nft' });
  const owners = Array.from({ length: buckets }, (_, k) => (k % 3) + 1);
  const ownership = { owned: bucketsOf(owners, 1), incoming: [], draining: [] };
  await nftApply(renderVipTables(vip, ownership, undefined, { ms: 3000 }));
  const script = renderOwnership(vip, ownership, { ms: 3000 });
  const inPlace = script.split('\n')[1].replaceAll(' timeout 3000ms', ' timeout 3000ms expires 3000ms') + '\n';
  const perRenewal = async (send: (s: string) => Promise<void>, text: string, n: number): Promise<Cost> => {
    await send(text); // warm: the first call loads libraries
    const c0 = cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await send(text);
    return { wallMs: (performance.now() - t0) / n, cpuMs: (cpuMs() - c0) / n };
  };
  const spawn = await perRenewal(nftApply, script, Math.max(10, Math.floor(renewals / 4)));
  const native = nativeNftRun();
  return {
    buckets,
    owned: ownership.owned.length,
    renewals,
    spawn,
    native: native ? await perRenewal(native, script, renewals) : null,
    nativeInPlace: native ? await perRenewal(native, inPlace, renewals) : null,
  };
}

/** CPU time of this process and of its reaped children, in ms (/proc/self/stat utime..cstime, in clock ticks of 10 ms). */
function cpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (
    fields
      .slice(11, 15)
      .map(Number)
      .reduce((a, b) => a + b, 0) * 10
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const renewals = Number(arg('renewals') ?? 400);
  const buckets = Number(arg('buckets') ?? 256);
  if (process.env.AAVIP_BENCH_INNER) {
    process.stdout.write(JSON.stringify(await measure(renewals, buckets)) + '\n');
  } else {
    spawnSync('ip', ['netns', 'del', NS]);
    execFileSync('ip', ['netns', 'add', NS]);
    try {
      const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
        env: { ...process.env, AAVIP_BENCH_INNER: '1' },
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (r.status !== 0) throw new Error(`the measurement failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout) as NftRenewResult;
      if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(res) + '\n');
      else {
        const show = (c: Cost | null) =>
          c === null ? 'not in this build of the addon' : `${c.wallMs.toFixed(2)} ms wall, ${c.cpuMs.toFixed(2)} ms CPU per renewal`;
        process.stdout.write(
          `renewing ${res.owned} of ${res.buckets} buckets (one transaction each):\n` +
            `  nft -f - spawned (flush + add):       ${show(res.spawn)}\n` +
            `  libnftables (flush + add, aavip's):   ${show(res.native)}\n` +
            `  libnftables, re-add with expires:     ${show(res.nativeInPlace)}\n`,
        );
      }
    } finally {
      spawnSync('ip', ['netns', 'del', NS]);
    }
  }
}
