// Brings the kernel to one VIP's ownership, one update at a time. Requests coalesce: whatever is
// asked while an update runs is done once, after it, with the ownership and lease of that
// moment. An ownership change alone takes the backend's fast path (one transaction, nothing read
// back: the outage of a failover is mostly this); a full apply reads the kernel back and repairs
// it (every FULL_RECONCILE_MS, and after any failure); otherwise the update renews the lease.
import type { Dataplane, Ownership, VipSpec } from '../dataplane/types.js';
import type { Logger } from '../log.js';
import { lapsed } from '../membership/lease.js';
import type { Clock } from './clock.js';
import type { AppliedUpdate } from './deps.js';

/** How often each VIP is reconciled in full even when nothing changed (drift repair). */
export const FULL_RECONCILE_MS = 5000;

/** One ownership as a string: equal ownerships, equal keys. */
export const ownershipKey = (o: Ownership) => `${o.owned.join(',')}|${o.incoming.join(',')}|${o.draining.join(',')}`;
const isEmpty = (o: Ownership) => o.owned.length + o.incoming.length + o.draining.length === 0;

export interface ApplierOptions {
  spec: VipSpec;
  dataplane: Dataplane;
  log: Logger;
  clock: Clock;
  /** The ownership wanted now. */
  ownership: () => Ownership;
  /**
   * The lease to grant now in ms (0: grant none, let the buckets lapse); undefined: no lease (the
   * backend cannot lapse). `latencyMs` is how long a kernel update has recently taken: the kernel
   * starts the timeout when it commits, so the lease must end that much earlier.
   */
  leaseMs: (latencyMs: number) => number | undefined;
  /** Told of every kernel update that ran (metrics: apply and takeover durations). */
  onApplied?: (update: AppliedUpdate) => void;
}

export class VipApplier {
  private applied?: string;
  /**
   * The ownership the kernel was last brought to (undefined: unknown, after a failure or a lapse).
   * Peers are told a bucket drains only once it is here: the kernel takes none of its new
   * connections from then on.
   */
  kernelOwnership?: Ownership;
  private fullAt = -Infinity;
  private running = false;
  private pending?: { full: boolean };
  private idle: Promise<void> = Promise.resolve();
  /** The lease the kernel holds: granted at (before the write, so a lower bound) for ms. */
  lease?: { grantedAt: number; ms: number };
  /** When the view behind the ownership not yet applied was made (for the log's timings). */
  viewAt?: number;
  /** Durations of the latest kernel updates (ms), newest last. */
  private readonly latencies: number[] = [];
  stopped = false;

  constructor(private readonly o: ApplierOptions) {}

  get spec(): VipSpec {
    return this.o.spec;
  }
  get dataplane(): Dataplane {
    return this.o.dataplane;
  }

  /** The typical time a kernel update takes (the median of the recent ones, ms). */
  get latencyMs(): number {
    if (!this.latencies.length) return 0;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  /** Whether the kernel may have let this VIP's buckets lapse (never renewed in time). */
  lapsed(now: number): boolean {
    return !!this.lease && lapsed(now, this.lease.grantedAt, this.lease.ms);
  }

  /** Forgets what was applied: the next update is a full one (after a lapse, or a failure). */
  forget(): void {
    this.applied = undefined;
    this.kernelOwnership = undefined;
    this.lease = undefined;
  }

  /** Asks for an update (full: read back and repair). Resolves when it has run. */
  request(full = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.pending = { full: full || (this.pending?.full ?? false) };
    if (!this.running) this.idle = this.loop();
    return this.idle;
  }

  /** Resolves once nothing is running or pending. */
  settled(): Promise<void> {
    return this.idle;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      for (let i = 0; i < 1000 && this.pending && !this.stopped; i++) {
        const { full } = this.pending;
        this.pending = undefined;
        await this.once(full || this.o.clock.now() - this.fullAt >= FULL_RECONCILE_MS);
      }
    } finally {
      this.running = false;
    }
  }

  private withheldAt = -Infinity;

  private withheld(): void {
    const now = this.o.clock.now();
    if (now - this.withheldAt < 5000) return;
    this.withheldAt = now;
    this.o.log.warn({}, "not renewing the lease on this node's buckets: too few peers have confirmed hearing it lately (they may be taking the buckets over)");
  }

  private async once(full: boolean): Promise<void> {
    const { spec, dataplane, log, clock } = this.o;
    const ownership = this.o.ownership();
    const key = ownershipKey(ownership);
    const latency = this.latencyMs;
    const leaseMs = this.o.leaseMs(latency);
    if (leaseMs === 0 && !isEmpty(ownership)) {
      this.withheld();
      return;
    } // let the buckets lapse (lease.ts)
    const t0 = clock.now();
    const lease = leaseMs ? { ms: leaseMs, left: () => leaseMs - (clock.now() - t0) } : undefined;
    const viewAt = this.viewAt;
    let path: 'fast' | 'full' | 'renew' = 'full';
    try {
      if (!full && this.applied !== undefined) {
        if (key === this.applied) {
          if (!lease) return;
          path = 'renew';
          if (!(await dataplane.renew(spec, ownership, lease.ms))) return;
        } else {
          this.viewAt = undefined;
          try {
            if (await dataplane.applyOwnership(spec, ownership, lease)) path = 'fast';
          } catch (e) {
            log.warn({ err: (e as Error).message }, 'fast ownership update refused; applying in full');
          }
        }
      }
      if (path === 'full') {
        this.viewAt = undefined;
        await dataplane.apply(spec, ownership, lease);
        this.fullAt = clock.now();
      }
      this.lease = lease ? { grantedAt: t0, ms: lease.ms } : undefined;
      const took = clock.now() - t0;
      this.latencies.push(took);
      if (this.latencies.length > 32) this.latencies.shift();
      // The kernel may have committed as late as now: a slow update (this process held up) may have
      // granted past the bound; renew at once with what is left, now that it is known.
      if (lease && took > latency + 10) this.pending ??= { full: false };
      const changed = key !== this.applied;
      this.applied = key;
      this.kernelOwnership = ownership;
      this.o.onApplied?.({ path, ok: true, ms: took, at: clock.now(), ownership });
      if (changed) {
        log.info(
          {
            owned: ownership.owned.length,
            incoming: ownership.incoming.length,
            draining: ownership.draining.length,
            path,
            applyMs: Number((clock.now() - t0).toFixed(1)),
            ...(viewAt !== undefined ? { sinceViewMs: Math.round(clock.now() - viewAt) } : {}),
          },
          'ownership applied',
        );
      }
    } catch (e) {
      log.error({ err: (e as Error).message, path }, `applying ownership failed; retrying in full within ${FULL_RECONCILE_MS / 1000} s`);
      this.applied = undefined;
      this.kernelOwnership = undefined;
      this.o.onApplied?.({ path, ok: false, ms: clock.now() - t0, at: clock.now(), ownership });
      this.fullAt = clock.now() - FULL_RECONCILE_MS + 1000; // the next periodic request retries in about a second
    }
  }
}
