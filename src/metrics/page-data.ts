// What the status page renders (`GET /status.json`): the daemon's status (as `aavip status --json`
// gives it), each VIP's bucket map (the owner of every bucket, this node's handover state of it,
// and the buckets live peers announce draining), and the last ownership changes.
import type { DaemonStatus } from '../daemon/control-protocol.js';
import type { Ownership } from '../dataplane/types.js';
import type { OwnershipChangeEntry } from './changes.js';

/** What the page reads of the daemon (the Daemon itself). */
export interface PageSource {
  status(): DaemonStatus;
  vips: readonly { key: string; keeper: { currentOwners: readonly number[] } }[];
  name: (id: number) => string;
  membership: { recentHeartbeat(id: number, now: number): { draining: Record<string, number[]> } | undefined };
  deps: { clock: { now(): number } };
}

export type BucketState = 'owned' | 'incoming' | 'draining' | '';

export interface BucketMap {
  vip: string;
  /** Per bucket (index = bucket - 1): the owner's name, '' where nobody owns it. */
  owners: string[];
  /** Per bucket: this node's handover state of it ('' where this node does not hold it). */
  local: BucketState[];
  /** Per live peer: the buckets its latest heartbeat lists as draining. */
  peerDraining: Record<string, number[]>;
}

export interface PageData {
  generatedAt: string;
  status: DaemonStatus;
  buckets: BucketMap[];
  changes: OwnershipChangeEntry[];
}

export function localStates(n: number, o: Ownership): BucketState[] {
  const states: BucketState[] = new Array(n).fill('');
  for (const state of ['owned', 'incoming', 'draining'] as const) for (const b of o[state]) if (b >= 1 && b <= n) states[b - 1] = state;
  return states;
}

export function pageData(src: PageSource, changes: OwnershipChangeEntry[], wall: () => number = Date.now): PageData {
  const status = src.status();
  const now = src.deps.clock.now();
  const peers = status.nodes.filter((n) => n.live && n.id !== status.local.id);
  const buckets = src.vips.map((v, i): BucketMap => {
    const owners = v.keeper.currentOwners.map((id) => (id ? src.name(id) : ''));
    const peerDraining: Record<string, number[]> = {};
    for (const p of peers) {
      const d = src.membership.recentHeartbeat(p.id, now)?.draining[v.key];
      if (d?.length) peerDraining[p.name] = [...d];
    }
    return { vip: status.vips[i]?.vip ?? v.key, owners, local: localStates(owners.length, status.vips[i].local), peerDraining };
  });
  return { generatedAt: new Date(wall()).toISOString(), status, buckets, changes };
}
