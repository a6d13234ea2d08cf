// The split-brain alarm in the daemon (membership/duplicates.ts holds the rule): after every
// kernel update and at least every interval each VIP's bucket map is read back from the kernel
// (in-process where the addon has libnftables: well under a millisecond), each heartbeat says
// what it takes, and a bucket two live nodes' kernels take is logged as an error, counted and
// shown in `aavip status` until it is gone.
// Repair is the applier's (vip-applier.ts): on nft the bucket map is rewritten with every lease
// renewal (each interval), other rules within FULL_RECONCILE_MS; the alarm clears once the
// kernels agree again.
import { servedBuckets } from '../dataplane/clusterip.js';
import type { Ownership } from '../dataplane/types.js';
import type { Logger } from '../log.js';
import { type Duplicate, DuplicateWatch } from '../membership/duplicates.js';
import { bucketBitmap, bucketsOfBitmap, type Heartbeat } from '../membership/wire.js';
import { ownershipKey } from './vip-applier.js';
import type { VipRuntime } from './vip-runtime.js';

/** What of the daemon the alarm reads. */
export interface AlarmHost {
  config: { local: number; heartbeat: { intervalMs: number; copies: number } };
  vips: readonly VipRuntime[];
  deps: { clock: { now(): number }; log: Logger };
  membership: { view(): { live: readonly number[] } };
  name(id: number): string;
  /** Sends a heartbeat round now (a changed reading goes out at once, not an interval later). */
  sendHeartbeats(): void;
}

/** A read that starts a process (iptables, nft without the addon) costs milliseconds: periodically at most this often. */
const SPAWNED_READ_MS = 1000;

const takenBy = (o: Ownership | undefined) => new Set(o ? servedBuckets(o) : []);

export interface DuplicateStatus {
  vip: string;
  bucket: number;
  nodes: string[];
}

export class SplitBrainAlarm {
  private readonly watch: DuplicateWatch;
  /** Per VIP, the buckets its kernel took at the last reading, and what the applier had written by then. */
  private readonly taking = new Map<string, { buckets: number[]; written?: Ownership }>();
  /** Per VIP, when its map was last read, and what the applier had written by then. */
  private readonly readAt = new Map<string, { at: number; written: string }>();
  private readonly reading = new Set<string>();

  constructor(private readonly host: AlarmHost) {
    this.watch = new DuplicateWatch(host.config.local, host.config.heartbeat.copies);
  }

  /** What this node's heartbeat says its kernels take, per VIP (the applier's last write where the kernel cannot be read cheaply). */
  outgoing(): Record<string, string> {
    const out = this.word();
    this.announced = JSON.stringify(out);
    return out;
  }

  private word(): Record<string, string> {
    return Object.fromEntries(this.host.vips.map((v) => [v.key, bucketBitmap(this.takingOf(v), v.spec.buckets)]));
  }

  /** What the last heartbeat said, to send a round at once when it no longer holds. */
  private announced = '';

  /**
   * The last reading, brought up to date with what the applier wrote since it was taken: a bucket
   * given up after the reading is not claimed for another interval (a false alarm on the peer that
   * took it over), one taken since is claimed at once.
   */
  private takingOf(v: VipRuntime): number[] {
    // A lapsed lease: the kernel has dropped the buckets by itself, whatever was read before.
    if (v.applier.lapsed(this.host.deps.clock.now())) return [];
    const now = takenBy(v.applier.kernelOwnership);
    const read = this.taking.get(v.key);
    if (!read) return [...now];
    const then = takenBy(read.written);
    // Not `now` whole: what was written before the reading and is missing from it has lapsed.
    const added = [...now].filter((b) => !then.has(b));
    return [...new Set([...read.buckets.filter((b) => now.has(b) || !then.has(b)), ...added])].sort((a, b) => a - b);
  }

  onHeartbeat(hb: Heartbeat): void {
    if (!hb.taking) return;
    this.watch.observe(hb.from, hb.seq, Object.fromEntries(Object.entries(hb.taking).map(([vip, bits]) => [vip, bucketsOfBitmap(bits)])));
    this.evaluate();
  }

  /**
   * Every tick: read a VIP's map again once its kernel was updated since the last reading, and at
   * least every interval (one read at a time per VIP); then compare.
   */
  poll(): void {
    const now = this.host.deps.clock.now();
    for (const v of this.host.vips) {
      const t = v.dataplane.taking;
      if (!t || this.reading.has(v.key)) continue;
      const written = v.applier.kernelOwnership;
      const key = written ? ownershipKey(written) : '';
      const last = this.readAt.get(v.key);
      // After a kernel update at once; otherwise every interval (a spawning read: every SPAWNED_READ_MS at most).
      const periodic =
        !last || now - last.at >= (t.cheap ? this.host.config.heartbeat.intervalMs : Math.max(SPAWNED_READ_MS, this.host.config.heartbeat.intervalMs));
      if (!periodic && last?.written === key) continue;
      this.reading.add(v.key);
      this.readAt.set(v.key, { at: now, written: key });
      void t
        .read(v.spec)
        .then((buckets) => {
          this.taking.set(v.key, { buckets, written });
          this.announceChange();
        })
        .catch((e: Error) => this.host.deps.log.debug({ vip: v.key, err: e.message }, 'cannot read the bucket map'))
        .finally(() => this.reading.delete(v.key));
    }
    this.announceChange();
  }

  /** A changed word (a kernel update, a reading) goes out at once, not an interval later. */
  private announceChange(): void {
    this.observeLocal();
    if (this.announced && JSON.stringify(this.word()) !== this.announced) this.host.sendHeartbeats();
  }

  private observeLocal(): void {
    this.watch.observe(this.host.config.local, 0, Object.fromEntries(this.host.vips.map((v) => [v.key, this.takingOf(v)])));
    this.evaluate();
  }

  private evaluate(): void {
    const { raised, cleared } = this.watch.evaluate(this.host.membership.view().live);
    for (const d of raised)
      this.host.deps.log.error(
        { vip: d.vip, bucket: d.bucket, nodes: d.nodes.map(this.host.name) },
        `split brain: bucket ${d.bucket} of ${d.vip} is taken by ${d.nodes.map(this.host.name).join(' and ')} at once (connections in it are reset)`,
      );
    for (const d of cleared)
      this.host.deps.log.info({ vip: d.vip, bucket: d.bucket, nodes: d.nodes.map(this.host.name) }, 'split brain over: the bucket has one owner again');
  }

  /** The duplicates now, with node names, and how many were ever raised. */
  status(): { duplicates: DuplicateStatus[]; raisedTotal: number } {
    const named = (d: Duplicate) => ({ vip: d.vip, bucket: d.bucket, nodes: d.nodes.map(this.host.name) });
    return { duplicates: this.watch.current().map(named), raisedTotal: this.watch.raisedTotal };
  }
}
