// What a bucket-lease renewal costs: the one nft transaction the daemon sends every heartbeat
// (flush the VIP's bucket map, re-add this node's buckets with a fresh timeout), sent by spawning
// `nft -f -` against sent in-process through libnftables (the native addon). On the host kernel,
// in a throwaway network namespace (this script re-runs itself inside it).
// Usage (root): node dist/bench/nft-renew.js [--renewals N] [--buckets B] [--json]
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bucketsOf } from '../src/assignment/assign.js';
import { nftApply, renderOwnership, renderVipTables } from '../src/dataplane/nft.js';
import { parseVipSpec } from '../src/dataplane/vipspec.js';
import { nativeNftRun } from '../src/native.js';

export interface NftRenewResult { buckets: number; owned: number; renewals: number; spawnMsPerRenewal: number; nativeMsPerRenewal: number | null }

const NS = 'aavip-bench-renew';

/** Inside the namespace: a three-node share of the buckets, renewed over and over both ways. */
async function measure(renewals: number, buckets: number): Promise<NftRenewResult> {
  // The nft table names no interface, so none is needed here.
  const vip = parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', buckets, backend: 'nft' });
  const owners = Array.from({ length: buckets }, (_, k) => (k % 3) + 1);
  const ownership = { owned: bucketsOf(owners, 1), incoming: [], draining: [] };
  await nftApply(renderVipTables(vip, ownership, undefined, { ms: 3000 }));
  const script = renderOwnership(vip, ownership, { ms: 3000 });
  const perRenewal = async (send: (s: string) => Promise<void>, n: number) => {
    await send(script); // warm: the first call loads libraries
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await send(script);
    return (performance.now() - t0) / n;
  };
  const spawnMsPerRenewal = await perRenewal(nftApply, Math.max(10, Math.floor(renewals / 4)));
  const native = nativeNftRun();
  const nativeMsPerRenewal = native ? await perRenewal(native, renewals) : null;
  return { buckets, owned: ownership.owned.length, renewals, spawnMsPerRenewal, nativeMsPerRenewal };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
  const renewals = Number(arg('renewals') ?? 400);
  const buckets = Number(arg('buckets') ?? 256);
  if (process.env.AAVIP_BENCH_INNER) {
    process.stdout.write(JSON.stringify(await measure(renewals, buckets)) + '\n');
  } else {
    spawnSync('ip', ['netns', 'del', NS]);
    execFileSync('ip', ['netns', 'add', NS]);
    try {
      const r = spawnSync('ip', ['netns', 'exec', NS, process.execPath, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
        { env: { ...process.env, AAVIP_BENCH_INNER: '1' }, encoding: 'utf8', timeout: 300_000 });
      if (r.status !== 0) throw new Error(`the measurement failed: ${r.stderr}`);
      const res = JSON.parse(r.stdout) as NftRenewResult;
      if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(res) + '\n');
      else {
        process.stdout.write(`renewing ${res.owned} of ${res.buckets} buckets (one transaction each):\n`
          + `  nft -f - spawned:  ${res.spawnMsPerRenewal.toFixed(2)} ms per renewal\n`
          + `  libnftables:       ${res.nativeMsPerRenewal === null ? 'not in this build of the addon' : `${res.nativeMsPerRenewal.toFixed(2)} ms per renewal`}\n`);
      }
    } finally {
      spawnSync('ip', ['netns', 'del', NS]);
    }
  }
}
