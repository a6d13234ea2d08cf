// The native addon (native/): the C twin of the hash models, gratuitous ARP over AF_PACKET, and
// nft scripts through libnftables (no process spawned).
// `npm ci` builds it with node-gyp; loading fails loudly if it was not built.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseAddress } from './hash/flow.js';
import { PACKAGE_ROOT } from './paths.js';
import { HASHMODE_FIELDS } from './hash/hashmode.js';
import type { FlowColumns, HashParams } from './hash/mechanisms.js';

interface NativeAddon {
  bucketsV4(
    mechanism: number,
    fields: number,
    seed: number,
    buckets: number,
    saddr: Uint32Array,
    sport: Uint16Array,
    dport: Uint16Array,
    out: Uint32Array,
  ): void;
  jhash(bytes: Uint8Array, seed: number): number;
  sendGratuitousArp(ifname: string, ip: Uint8Array, mac: Uint8Array, count: number): void;
  /** Absent from an addon built before libnftables was bound. */
  nftRun?(script: string): Promise<void>;
  nftQuery?(command: string): Promise<string>;
}

const candidates = [join(PACKAGE_ROOT, 'native/build/Release/aavip_native.node')];

let addon: NativeAddon | undefined;
function load(): NativeAddon {
  if (addon) return addon;
  const require = createRequire(import.meta.url);
  const errors: string[] = [];
  for (const path of candidates) {
    try {
      addon = require(path) as NativeAddon;
      return addon;
    } catch (e) {
      errors.push(`${path}: ${(e as Error).message}`);
    }
  }
  throw new Error(`the native addon is not built (run: npx node-gyp rebuild --directory native)\n${errors.join('\n')}`);
}

const MECHANISM_CODE = { clusterip: 0, xt_cluster: 1, nft: 2 } as const;

/** The native twin of bucketsOfColumns. */
export function nativeBucketsOfColumns(p: HashParams, flows: FlowColumns, out: Uint32Array): void {
  load().bucketsV4(MECHANISM_CODE[p.mechanism], HASHMODE_FIELDS[p.hashmode].length, p.seed, p.buckets, flows.saddr, flows.sport, flows.dport, out);
}

export function nativeJhash(bytes: Uint8Array, seed: number): number {
  return load().jhash(bytes, seed);
}

/** Announces `ip` at `mac` on `ifname` with `count` gratuitous ARP request+reply pairs. IPv4 only. */
export function sendGratuitousArp(ifname: string, ip: string, mac: string, count = 1): void {
  const addr = parseAddress(ip);
  if (addr?.family !== 4) throw new Error(`gratuitous ARP needs an IPv4 address, not ${ip}`);
  const macBytes = Uint8Array.from(mac.split(':').map((h) => parseInt(h, 16)));
  if (macBytes.length !== 6 || macBytes.some((b) => Number.isNaN(b))) throw new Error(`not a MAC address: ${mac}`);
  load().sendGratuitousArp(ifname, addr.bytes, macBytes, count);
}

/** The last nftRun queued: calls run one at a time, in the order they were made. */
let nftTail: Promise<unknown> = Promise.resolve();

/**
 * Runs an nft script (as `nft -f -` reads it) in this process through libnftables, on libuv's
 * thread pool: one transaction. Calls run in call order (the thread pool alone would not keep
 * it, and a renewal must not overtake the ownership change made before it). Undefined if the
 * addon is missing or was built without libnftables; rejects with nft's message if refused.
 */
export function nativeNftRun(): ((script: string) => Promise<void>) | undefined {
  let a: NativeAddon;
  try {
    a = load();
  } catch {
    return undefined;
  }
  if (!a.nftRun) return undefined;
  return (script) => {
    const done = nftTail.then(() => a.nftRun!(script));
    nftTail = done.catch(() => undefined);
    return done;
  };
}

/**
 * Runs an nft listing command (`list map ip T buckets`) in this process and resolves with what
 * `nft -j` would print: cheap enough to read a VIP's bucket map every heartbeat interval.
 * Undefined where nftRun is.
 */
export function nativeNftQuery(): ((command: string) => Promise<string>) | undefined {
  try {
    return load().nftQuery;
  } catch {
    return undefined;
  }
}
