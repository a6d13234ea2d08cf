// Every metric the daemon exports, in one place: names, types, labels and help. Names follow
// Prometheus' conventions (the `aavip_` prefix, base units, `_total` on counters, `_seconds` on
// durations); the IPVS ones carry node_exporter's `node_ipvs_backend_*` labels, so the two join.
// Counters the daemon already keeps (heartbeats accepted and refused) are read at scrape time
// (collect.ts); the others are fed by the daemon's events (events.ts).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** node_exporter's IPVS backend labels (its --collector.ipvs.backend-labels default). */
export const BACKEND_LABELS = ['local_address', 'local_port', 'remote_address', 'remote_port', 'proto', 'local_mark'] as const;
export type BackendLabels = Record<(typeof BACKEND_LABELS)[number], string>;

/** Kernel updates take milliseconds; a takeover, a deadtime's detection aside, tens of them. */
const APPLY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const TAKEOVER_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CHECK_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30];

export function defineMetrics(registers: Registry[]) {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });
  const histogram = <L extends string>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []) =>
    new Histogram<L>({ name, help, buckets, labelNames, registers });
  const metrics = {
    // Membership (this node's view).
    nodeUp: gauge('aavip_node_up', "Whether the node is live in this node's view (1) or not (0).", ['node']),
    nodeWeight: gauge('aavip_node_weight', "The node's weight in the view (0: drained, or out for a tracked service).", ['node']),
    viewEpoch: gauge('aavip_view_epoch', "The epoch of this node's current view."),
    viewQuorate: gauge('aavip_view_quorate', 'Whether the view has quorum (1) or not (0).'),
    joined: gauge('aavip_joined', 'Whether this node has joined and serves its buckets (1), or still learns who is alive (0).'),
    heartbeatsSent: counter('aavip_heartbeats_sent_total', 'Heartbeat datagrams sent to peers (every copy to every peer).'),
    heartbeatsAccepted: counter('aavip_heartbeats_accepted_total', 'Heartbeats from peers accepted.'),
    heartbeatsRefused: counter('aavip_heartbeats_refused_total', 'Packets on the heartbeat port refused, by reason.', ['reason']),
    heartbeatErrors: counter('aavip_heartbeat_build_errors_total', 'Heartbeats that could not be built (and were not sent).'),
    weightsRefused: counter('aavip_weight_settings_refused_total', 'Weight settings in heartbeats refused for a stamp too far ahead of this clock.'),
    // Buckets.
    buckets: gauge('aavip_buckets', 'Buckets of the VIP each node owns, as this node computes the owners.', ['vip', 'node']),
    localBuckets: gauge('aavip_local_buckets', "This node's buckets of the VIP by handover state (owned, incoming, draining).", ['vip', 'state']),
    kernelApplied: gauge('aavip_kernel_applied', "Whether the kernel carries this node's current ownership of the VIP (1) or an update is pending (0).", [
      'vip',
    ]),
    leaseRemaining: gauge('aavip_lease_remaining_seconds', "What is left of the kernel lease on this node's buckets of the VIP.", ['vip']),
    duplicateOwners: gauge('aavip_duplicate_owner_buckets', 'Buckets of the VIP that more than one node serves at once (split brain).', ['vip']),
    ownershipChanges: counter('aavip_ownership_changes_total', "Changes of this node's buckets of the VIP (a view that gave or took some).", ['vip']),
    bucketsGained: counter('aavip_buckets_gained_total', 'Buckets of the VIP this node gained.', ['vip']),
    bucketsLost: counter('aavip_buckets_lost_total', 'Buckets of the VIP this node lost.', ['vip']),
    takeover: histogram(
      'aavip_takeover_duration_seconds',
      'From the view change that gave this node buckets to the kernel update that applied them.',
      TAKEOVER_BUCKETS,
      ['vip'],
    ),
    apply: histogram('aavip_apply_duration_seconds', "Kernel updates of the VIP's ownership, by path (fast, full, renew).", APPLY_BUCKETS, ['vip', 'path']),
    applyFailures: counter('aavip_apply_failures_total', "Kernel updates of the VIP's ownership that failed (retried in full).", ['vip']),
    // The bucket filter (the nft backend's named counters).
    packets: counter('aavip_vip_packets_total', 'Packets to the VIP the bucket filter accepted (a bucket of this node) or dropped.', ['vip', 'verdict']),
    bytes: counter('aavip_vip_bytes_total', 'Bytes to the VIP the bucket filter accepted or dropped.', ['vip', 'verdict']),
    // The ldirectord role.
    realUp: gauge('aavip_real_server_up', 'Whether the real server is up (1) or down (0) by its checks.', BACKEND_LABELS),
    realWeight: gauge('aavip_real_server_weight', 'The weight the checks give the real server in IPVS.', BACKEND_LABELS),
    checkDuration: histogram('aavip_real_server_check_duration_seconds', 'Checks of the real server run on this node.', CHECK_BUCKETS, BACKEND_LABELS),
    checkFailures: counter('aavip_real_server_check_failures_total', 'Checks of the real server run on this node that failed.', BACKEND_LABELS),
    ipvsActive: gauge('aavip_ipvs_backend_connections_active', 'IPVS active connections to the real server.', BACKEND_LABELS),
    ipvsInactive: gauge('aavip_ipvs_backend_connections_inactive', 'IPVS inactive connections to the real server.', BACKEND_LABELS),
    ipvsWeight: gauge('aavip_ipvs_backend_weight', "The real server's weight in the IPVS table.", BACKEND_LABELS),
  };
  const seen = new Set<string>();
  /** Makes a VIP's event-fed series exist, at 0, before its first event (a rate over them needs a start). */
  const touchVip = (vip: string) => {
    if (seen.has(vip)) return;
    seen.add(vip);
    for (const c of [metrics.ownershipChanges, metrics.bucketsGained, metrics.bucketsLost, metrics.applyFailures]) c.inc({ vip }, 0);
    metrics.takeover.zero({ vip });
  };
  return { ...metrics, touchVip };
}

export type Metrics = ReturnType<typeof defineMetrics>;
