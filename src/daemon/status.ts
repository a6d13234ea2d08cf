// `aavip status`: the daemon's state as data (the CLI prints it like crm_mon -1).
import { bucketsOf } from '../assignment/assign.js';
import { vipCidr } from '../dataplane/vipspec.js';
import type { ClusterConfig } from '../config/cluster.js';
import type { Membership } from '../membership/membership.js';
import type { Clock } from './clock.js';
import type { DaemonStatus } from './control-protocol.js';
import { ownershipKey } from './vip-applier.js';
import type { VipRuntime } from './vip-runtime.js';
import type { TrackStatus } from '../track/tracker.js';

/** What a status is made of (the daemon, as seen from here). */
export interface StatusSource {
  config: ClusterConfig;
  membership: Membership;
  deps: { clock: Clock };
  localNode: () => ClusterConfig['nodes'][number];
  name: (id: number) => string;
  viewSince: number;
  joined: boolean;
  vips: readonly VipRuntime[];
  sendErrors: number;
  director?: { status(): unknown[] };
  tracker?: { status(): TrackStatus[] };
  splitBrain: { status(): DaemonStatus['splitBrain'] };
}

export function daemonStatus(d: StatusSource): DaemonStatus {
  const view = d.membership.view();
  const now = d.deps.clock.now();
  const names = (ids: readonly number[] | undefined) => (ids ?? []).map(d.name);
  return {
    cluster: d.config.name,
    pid: process.pid,
    local: { id: d.config.local, name: d.localNode().name, weight: d.membership.weightOf(d.config.local) },
    view: { epoch: view.epoch, live: view.live, quorate: view.quorate, since: new Date(d.viewSince).toISOString() },
    joined: d.joined,
    nodes: d.config.nodes.map((n) => ({
      id: n.id,
      name: n.name,
      address: n.address,
      live: view.live.includes(n.id),
      weight: view.members.find((m) => m.id === n.id)?.weight ?? 0,
      tracksDown: (n.id === d.config.local ? d.membership.localTrack : d.membership.lastHeartbeat(n.id, now)?.track)?.down ?? [],
    })),
    disagreeing: names(view.dissenters),
    splitBrain: d.splitBrain.status(),
    vips: d.vips.map((v) => ({
      vip: vipCidr(v.spec),
      backend: v.dataplane.backend,
      buckets: v.spec.buckets,
      seed: v.spec.seed,
      hashmode: v.spec.hashmode,
      perNode: Object.fromEntries(d.config.nodes.map((n) => [n.name, bucketsOf(v.keeper.currentOwners, n.id).length])),
      local: v.keeper.ownership(),
      kernelApplied: !!v.applier.kernelOwnership && ownershipKey(v.applier.kernelOwnership) === ownershipKey(v.keeper.ownership()),
      excluded: names(view.excluded?.[v.key]),
      ...(v.applier.lease ? { leaseMs: Math.max(0, Math.round(v.applier.lease.grantedAt + v.applier.lease.ms - now)) } : {}),
    })),
    counters: { ...d.membership.counters, sendErrors: d.sendErrors },
    ...(d.director ? { lvs: d.director.status() } : {}),
    ...(d.tracker ? { tracks: d.tracker.status() } : {}),
  };
}
