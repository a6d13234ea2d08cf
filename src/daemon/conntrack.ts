// How many of this node's connections are still open in each bucket of a VIP: what a draining
// bucket waits for (what ends a drain). Conntrack entries (the `conntrack` tool) and, on a
// director, IPVS's own connections are put in buckets by the same kernel-exact model the rules
// use, so no connmark has to be spent on it.
import { readFile } from 'node:fs/promises';
import { run } from '../exec.js';
import { IPVS_CONNECTION_TABLE, parseIpvsConnections } from '../lvs/ipvs/conn-table.js';
import { mechanismOf } from '../dataplane/backend.js';
import type { VipSpec } from '../dataplane/types.js';
import { formatAddress, parseAddress, parseProtocol } from '../hash/flow.js';
import { bucketOf } from '../hash/mechanisms.js';

/** TCP states in which a connection no longer carries data. */
const FINISHED = new Set(['TIME_WAIT', 'CLOSE']);

export interface TrackedFlow {
  proto: number;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  state?: string;
}

/** Parses `conntrack -L` lines (original-direction fields come first). */
export function parseConntrack(text: string | readonly string[]): TrackedFlow[] {
  const out: TrackedFlow[] = [];
  for (const line of typeof text === 'string' ? text.split('\n') : text) {
    const m = line.match(/^(\S+)\s+(\d+)\s+\d+\s+(?:([A-Z_]+)\s+)?src=(\S+) dst=(\S+)(?: sport=(\d+) dport=(\d+))?/);
    if (!m) continue;
    const proto = parseProtocol(m[1]) ?? Number(m[2]);
    out.push({ proto, state: m[3], src: m[4], dst: m[5], sport: Number(m[6] ?? 0), dport: Number(m[7] ?? 0) });
  }
  return out;
}

/** Open flows per bucket (bucket → count) among `flows` to the VIP. */
export function openFlowsPerBucket(vip: VipSpec, flows: TrackedFlow[]): Map<number, number> {
  const counts = new Map<number, number>();
  const mechanism = mechanismOf(vip);
  const dst = formatAddress(vip.address);
  for (const f of flows) {
    if (f.dst !== dst || (f.state && FINISHED.has(f.state))) continue;
    const src = parseAddress(f.src);
    if (!src) continue;
    const b = bucketOf(
      { mechanism, hashmode: vip.hashmode, seed: vip.seed, buckets: vip.buckets },
      { src, srcPort: f.sport, dst: vip.address, dstPort: f.dport, proto: f.proto },
    );
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts;
}

/**
 * This node's tracked flows to the VIP. Throws when the table cannot be read: an unreadable
 * table must never pass for an empty one (that would end every drain and reset its connections).
 */
export async function listConntrack(vip: VipSpec): Promise<string[]> {
  const family = vip.address.family === 4 ? 'ipv4' : 'ipv6';
  const r = await run('conntrack', ['-L', '-f', family, '--orig-dst', formatAddress(vip.address)], { allowFailure: true });
  if (r.status !== 0) throw new Error(`conntrack -L failed (${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  return r.stdout.split('\n');
}

/**
 * A director's forwarded flows are not in conntrack (it sees one direction, and IPVS untracks
 * them), so its drain counts IPVS's own: only LOCAL ones, since SYNC entries are copies of other
 * directors' connections, kept for a takeover.
 */
export function localIpvsFlows(text: string | readonly string[]): TrackedFlow[] {
  return parseIpvsConnections(text)
    .filter((c) => c.origin === 'LOCAL')
    .map((c) => ({ proto: c.proto, src: c.client, sport: c.cport, dst: c.vaddr, dport: c.vport, state: IPVS_FINISHED.has(c.state) ? 'CLOSE' : c.state }));
}

/** IPVS TCP states (input-only, as a direct-routing director sees them) after the client's FIN or RST. */
const IPVS_FINISHED = new Set(['FIN_WAIT', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK']);

/** This namespace's IPVS connections, [] where there is no IPVS; throws when the table exists but cannot be read. */
async function listIpvs(): Promise<string[]> {
  try {
    return (await readFile(IPVS_CONNECTION_TABLE, 'utf8')).split('\n');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

const SLICE = 2000;
const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Open flows per bucket of this node's table, parsed and counted a slice at a time: the event
 * loop sends the heartbeats, and 200,000 flows in one go stalled it for over a second.
 * Throws when the table cannot be read.
 */
export async function openFlows(vip: VipSpec): Promise<Map<number, number>> {
  const total = new Map<number, number>();
  const sources: [string[], typeof parseConntrack][] = [
    [await listConntrack(vip), parseConntrack],
    [await listIpvs(), localIpvsFlows],
  ];
  for (const [lines, parse] of sources)
    for (let i = 0; i < lines.length; i += SLICE) {
      for (const [b, n] of openFlowsPerBucket(vip, parse(lines.slice(i, i + SLICE)))) total.set(b, (total.get(b) ?? 0) + n);
      if (i + SLICE < lines.length) await yieldLoop();
    }
  return total;
}
