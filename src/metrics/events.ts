// The metrics' side of the daemon's events (deps.ts): ownership changes counted, kernel updates
// timed, and the takeover measured from the view change that gave this node buckets to the
// kernel update that first carried them all. Nothing here waits or throws into the daemon.
import type { AppliedUpdate, DaemonEvents } from '../daemon/deps.js';
import type { Transport } from '../daemon/transport.js';
import type { TrackVerdict } from '../track/state.js';
import type { View } from '../membership/membership.js';
import { RecentChanges } from './changes.js';
import type { Metrics } from './registry.js';

/** Buckets gained and not yet in the kernel, per VIP, since `since` (the daemon's monotonic clock). */
interface PendingTakeover {
  since: number;
  buckets: Set<number>;
}

export class MetricsEvents implements DaemonEvents {
  private readonly pending = new Map<string, PendingTakeover>();
  /** The last ownership changes, for the status page. */
  readonly recent: RecentChanges;

  constructor(
    private readonly m: Metrics,
    private readonly now: () => number,
  ) {
    this.recent = new RecentChanges(now);
  }

  view(): void {}

  ownership(vip: string, change: { gained: number[]; lost: number[]; owned: number }): void {
    this.m.ownershipChanges.inc({ vip });
    this.recent.changed(vip, change);
    this.m.bucketsGained.inc({ vip }, change.gained.length);
    this.m.bucketsLost.inc({ vip }, change.lost.length);
    // A takeover still being applied keeps its start: the one measured is from the first view.
    const p = this.pending.get(vip) ?? { since: this.now(), buckets: new Set<number>() };
    for (const b of change.gained) p.buckets.add(b);
    for (const b of change.lost) p.buckets.delete(b);
    if (p.buckets.size) this.pending.set(vip, p);
    else this.pending.delete(vip);
  }

  applied(vip: string, u: AppliedUpdate): void {
    this.recent.applied(vip, u);
    if (!u.ok) {
      this.m.applyFailures.inc({ vip });
      return;
    }
    this.m.apply.observe({ vip, path: u.path }, u.ms / 1000);
    const p = this.pending.get(vip);
    if (!p) return;
    const served = new Set([...u.ownership.owned, ...u.ownership.incoming]);
    if (![...p.buckets].every((b) => served.has(b))) return;
    this.m.takeover.observe({ vip }, Math.max(0, u.at - p.since) / 1000);
    this.pending.delete(vip);
  }
}

/** Several listeners of the daemon's events as one (notify hooks and metrics), each in turn. */
export function allEvents(sinks: readonly DaemonEvents[]): DaemonEvents {
  return {
    view: (before: View, view: View, name: (id: number) => string) => {
      for (const s of sinks) s.view(before, view, name);
    },
    ownership: (vip, change) => {
      for (const s of sinks) s.ownership(vip, change);
    },
    track: (v: TrackVerdict) => {
      for (const s of sinks) s.track?.(v);
    },
    applied: (vip, u) => {
      for (const s of sinks) s.applied?.(vip, u);
    },
  };
}

/** The transport, its sends counted (aavip_heartbeats_sent_total). */
export function countingSends(t: Transport, m: Pick<Metrics, 'heartbeatsSent'>): Transport {
  return {
    send: (packet, address) => {
      m.heartbeatsSent.inc();
      t.send(packet, address);
    },
    onPacket: (handler) => t.onPacket(handler),
    close: () => t.close(),
  };
}
