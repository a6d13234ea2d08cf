// What each lab node's kernel serves right now: its VIP table's bucket map, read with `nft -j`
// (leased elements that lapsed are gone from it). The fault run samples this every 100 ms.
import { nftTableName } from '../dataplane/nft.js';
import { parseAddress } from '../hash/flow.js';
import type { NetnsLab } from './netns.js';

export type Chain = 'own' | 'incoming' | 'draining';

/** Parses `nft -j list map` output: bucket → the chain its element jumps to. */
export function parseBucketMap(json: string): Map<number, Chain> {
  const out = new Map<number, Chain>();
  const doc = JSON.parse(json) as { nftables?: { map?: { elem?: unknown[] } }[] };
  for (const item of doc.nftables ?? []) {
    for (const e of item.map?.elem ?? []) {
      const [key, verdict] = e as [unknown, { goto?: { target: string }; jump?: { target: string } }];
      const bucket = typeof key === 'number' ? key : (key as { elem?: { val?: number } }).elem?.val;
      const target = verdict?.goto?.target ?? verdict?.jump?.target;
      if (typeof bucket === 'number' && (target === 'own' || target === 'incoming' || target === 'draining')) out.set(bucket, target);
    }
  }
  return out;
}

/** Every lab node's bucket map (an empty map where the table is missing). */
export async function readBucketMaps(lab: NetnsLab, vip: string): Promise<Map<number, Map<number, Chain>>> {
  const address = parseAddress(vip)!;
  const table = nftTableName({ address } as Parameters<typeof nftTableName>[0]);
  const family = address.family === 4 ? 'ip' : 'ip6';
  const maps = await Promise.all(lab.nodeIds.map(async (i) => {
    const r = await lab.exec(lab.nodeNs(i), ['nft', '-j', 'list', 'map', family, table, 'buckets'], { allowFailure: true });
    return [i, r.status === 0 ? parseBucketMap(r.stdout) : new Map<number, Chain>()] as const;
  }));
  return new Map(maps);
}

/** Per bucket (index b-1), the nodes that take its new connections (own or incoming). */
export function takersPerBucket(maps: Map<number, Map<number, Chain>>, buckets: number): number[][] {
  const out: number[][] = Array.from({ length: buckets }, () => []);
  for (const [node, m] of maps) for (const [b, chain] of m) if (chain !== 'draining' && b >= 1 && b <= buckets) out[b - 1].push(node);
  return out;
}

/**
 * Keeps every node's bucket map fresh: one shell loop per node namespace lists the map every
 * `everyMs` (one nft process a listing, no namespace entry per sample), and `latest()` returns
 * the newest listing of each node. `stop()` ends the loops.
 */
export function watchBucketMaps(lab: NetnsLab, vip: string, everyMs = 100): { latest(): Map<number, Map<number, Chain>>; stop(): Promise<void> } {
  const address = parseAddress(vip)!;
  const table = nftTableName({ address } as Parameters<typeof nftTableName>[0]);
  const family = address.family === 4 ? 'ip' : 'ip6';
  const latest = new Map<number, Map<number, Chain>>(lab.nodeIds.map((i) => [i, new Map()]));
  const loops = lab.nodeIds.map((i) => {
    // An absent table prints an empty object, so a node without rules reads as serving nothing.
    const script = `while :; do nft -j list map ${family} ${table} buckets 2>/dev/null || echo '{}'; sleep ${everyMs / 1000}; done`;
    const child = lab.spawn(lab.nodeNs(i), ['sh', '-c', script]);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) { try { latest.set(i, parseBucketMap(line)); } catch { /* a torn line: the next one comes soon */ } }
      }
    });
    return child;
  });
  return {
    latest: () => new Map(latest),
    stop: async () => { await Promise.all(loops.map((c) => lab.kill(c, 'SIGKILL'))); },
  };
}
