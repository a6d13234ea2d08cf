// What a configuration reload may change in a running daemon (pure). Node weights, timings,
// quorum, the drain timeout, the VIPs and the ldirectord role can change; who the nodes are, which
// one this is, the heartbeat port, the key and the control socket need a restart.
import type { ClusterConfig } from '../config/cluster.js';
import type { VipSpec } from '../dataplane/types.js';
import { formatAddress } from '../hash/flow.js';

/** A VIP's identity for reloads: any change of its parameters makes it a different VIP. */
export const specKey = (s: VipSpec): string => JSON.stringify({ ...s, address: formatAddress(s.address) });

export interface ReloadPlan {
  /** Fields that changed but need a restart (non-empty: nothing is reloaded). */
  needRestart: string[];
  /** What will change, for the log and the reply. */
  changes: string[];
  heartbeatChanged: boolean;
  /** VIPs to remove (no longer configured, or configured differently) and to add. */
  removed: VipSpec[];
  added: VipSpec[];
}

export function planReload(old: ClusterConfig, next: ClusterConfig, running: readonly VipSpec[]): ReloadPlan {
  const node = (n: ClusterConfig['nodes'][number]) => `${n.id}/${n.name}/${n.address}`;
  const fixed: [string, unknown, unknown][] = [
    ['cluster.name', old.name, next.name],
    ['cluster.nodes (ids, names, addresses)', old.nodes.map(node).join(), next.nodes.map(node).join()],
    ['cluster.local', old.local, next.local],
    ['cluster.heartbeat.port', old.heartbeat.port, next.heartbeat.port],
    ['cluster.authkey', old.authkey.toString('hex'), next.authkey.toString('hex')],
    ['cluster.controlSocket', old.controlSocket, next.controlSocket],
  ];
  const needRestart = fixed.filter(([, a, b]) => a !== b).map(([f]) => f);
  const changes: string[] = [];
  const heartbeatChanged = JSON.stringify(old.heartbeat) !== JSON.stringify(next.heartbeat);
  if (heartbeatChanged) changes.push('heartbeat');
  if (old.quorum !== next.quorum) changes.push('quorum');
  if (old.nodes.some((n, i) => n.weight !== next.nodes[i]?.weight)) changes.push('node weights');
  if (old.drainTimeoutMs !== next.drainTimeoutMs) changes.push('drainTimeout');
  const wanted = new Map(next.vips.map((s) => [specKey(s), s]));
  const removed = running.filter((s) => !wanted.has(specKey(s)));
  const kept = new Set(running.map(specKey));
  const added = next.vips.filter((s) => !kept.has(specKey(s)));
  for (const s of removed) changes.push(`removed VIP ${formatAddress(s.address)}/${s.prefixLength}`);
  for (const s of added) changes.push(`added VIP ${formatAddress(s.address)}/${s.prefixLength}`);
  return { needRestart, changes, heartbeatChanged, removed, added };
}
