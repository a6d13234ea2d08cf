// What each lab node's kernel serves right now: its VIP table's bucket map, read with `nft list`
// (leased elements that lapsed are gone from it, and each lease says when it would lapse). The
// fault run samples this every 100 ms.
import { nftTableName } from '../dataplane/nft.js';
import { parseAddress } from '../hash/flow.js';
import { createInterface } from 'node:readline';
import type { NetnsLab } from './netns.js';

export type Chain = 'own' | 'incoming' | 'draining';
/** A bucket's element: its chain and, when leased, the ms left before it lapses. */
export interface Element {
  chain: Chain;
  expiresMs?: number;
}

/** nft's time text (`472ms`, `1s472ms`, `2m`, `1h2m3s`) in ms. */
export function nftDurationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|d|h|m|s)/g))
    ms += Number(n) * ({ d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const)[unit as 'ms'];
  return ms;
}

/**
 * Parses `nft list map` output (text: Debian 12's nft prints leases to the ms there, while its
 * JSON rounds them to whole seconds): bucket → the chain its element jumps to, and its lease.
 */
export function parseBucketMap(text: string): Map<number, Element> {
  const out = new Map<number, Element>();
  const body = text.match(/elements = \{([^}]*)\}/s)?.[1] ?? '';
  for (const m of body.matchAll(/(\d+)((?: timeout [0-9dhms]+)?)(?: expires ([0-9dhms]+))? : (?:goto|jump) (own|incoming|draining)/g)) {
    out.set(Number(m[1]), { chain: m[4] as Chain, ...(m[3] ? { expiresMs: nftDurationMs(m[3]) } : {}) });
  }
  return out;
}

/** Every lab node's bucket map (an empty map where the table is missing). */
export async function readBucketMaps(lab: NetnsLab, vip: string): Promise<Map<number, Map<number, Element>>> {
  const address = parseAddress(vip)!;
  const table = nftTableName({ address } as Parameters<typeof nftTableName>[0]);
  const family = address.family === 4 ? 'ip' : 'ip6';
  const maps = await Promise.all(
    lab.nodeIds.map(async (i) => {
      const r = await lab.exec(lab.nodeNs(i), ['nft', 'list', 'map', family, table, 'buckets'], { allowFailure: true });
      return [i, r.status === 0 ? parseBucketMap(r.stdout) : new Map<number, Element>()] as const;
    }),
  );
  return new Map(maps);
}

/** Per bucket (index b-1), the nodes that take its new connections (own or incoming). */
export function takersPerBucket(maps: Map<number, Map<number, Element>>, buckets: number): number[][] {
  const out: number[][] = Array.from({ length: buckets }, () => []);
  for (const [node, m] of maps) for (const [b, e] of m) if (e.chain !== 'draining' && b >= 1 && b <= buckets) out[b - 1].push(node);
  return out;
}

/** One node's listing and when it was taken (ms, the lab's clock). */
export interface Listing {
  at: number;
  map: Map<number, Element>;
}

/**
 * Per bucket, the pairs of nodes that certainly took its new connections at one moment: both
 * listed it as own/incoming, and the element listed first had not lapsed by the time the other
 * listing was taken (its `expires` says when it would). Listings a few ms apart that straddle a
 * handover can still look like an overlap: the result is an upper bound, as exact as the spread
 * of one snapshot.
 */
export function overlapsPerBucket(snapshot: ReadonlyMap<number, Listing>, buckets: number): number[] {
  const counts = new Array<number>(buckets).fill(0);
  const nodes = [...snapshot.entries()];
  for (let b = 1; b <= buckets; b++) {
    const takers = nodes.map(([, l]) => ({ at: l.at, e: l.map.get(b) })).filter((x) => x.e && x.e.chain !== 'draining');
    for (let i = 0; i < takers.length; i++) {
      for (let j = i + 1; j < takers.length; j++) {
        const [a, c] = [takers[i], takers[j]];
        const end = (x: typeof a) => x.at + (x.e!.expiresMs ?? Infinity);
        if (Math.min(end(a), end(c)) > Math.max(a.at, c.at)) counts[b - 1]++;
      }
    }
  }
  return counts;
}

/**
 * Snapshots of every node's bucket map taken together: one shell per node namespace waits for a
 * line on stdin, then lists its map (one nft process, no namespace entry per snapshot) after
 * printing the time. `snapshot()` asks all at once and resolves with the listings.
 */
export function bucketSnapshots(lab: NetnsLab, vip: string): { snapshot(): Promise<Map<number, Listing>>; stop(): Promise<void> } {
  const address = parseAddress(vip)!;
  const table = nftTableName({ address } as Parameters<typeof nftTableName>[0]);
  const family = address.family === 4 ? 'ip' : 'ip6';
  // An absent table prints an empty object, so a node without rules reads as serving nothing.
  const script = `while read x; do date +%s%3N; nft list map ${family} ${table} buckets 2>/dev/null; echo '#end'; done`;
  const shells = lab.nodeIds.map((i) => {
    const child = lab.spawn(lab.nodeNs(i), ['sh', '-c', script], process.env, ['pipe', 'pipe', 'ignore']);
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    return { i, child, lines };
  });
  return {
    snapshot: async () => {
      for (const s of shells) s.child.stdin!.write('\n');
      const out = new Map<number, Listing>();
      for (const s of shells) {
        const text: string[] = [];
        for (let k = 0; k < 100_000; k++) {
          const line = (await s.lines.next()).value;
          if (line === undefined || line === '#end') break;
          text.push(String(line));
        }
        out.set(s.i, { at: Number(text[0]), map: parseBucketMap(text.slice(1).join('\n')) });
      }
      return out;
    },
    stop: async () => {
      for (const s of shells) s.child.stdin!.end();
      await Promise.all(shells.map((s) => lab.kill(s.child, 'SIGKILL')));
    },
  };
}
