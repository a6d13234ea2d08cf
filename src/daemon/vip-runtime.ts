// One VIP in the running daemon: its buckets across views (the handover keeper), the kernel
// updates (the applier), joining and re-joining, and the drains' accounting.
import type { DaemonEvents } from './deps.js';
import type { Member } from '../assignment/assign.js';
import type { Dataplane, VipSpec } from '../dataplane/types.js';
import { formatAddress } from '../hash/flow.js';
import type { Logger } from '../log.js';
import { vipDigest } from '../membership/agreement.js';
import { BucketKeeper } from '../membership/handover.js';
import { ownersBeforeJoin, ownersBeforeView } from '../membership/join.js';
import type { View } from '../membership/membership.js';
import type { Heartbeat } from '../membership/wire.js';
import type { Clock } from './clock.js';
import { VipApplier } from './vip-applier.js';

export interface VipContext {
  local: number;
  nodes: () => readonly Member[];
  drainTimeoutMs: () => number;
  clock: Clock;
  log: Logger;
  /** The lease to grant now (see VipApplier). */
  leaseMs: (dataplane: Dataplane, latencyMs: number) => number | undefined;
  name: (id: number) => string;
  events?: Pick<DaemonEvents, 'ownership' | 'applied'>;
}

export class VipRuntime {
  /** The VIP's key in heartbeats (its address). */
  readonly key: string;
  /** Digest of what its rules hash with (agreement.ts): nodes with another one are left out of it. */
  readonly digest: string;
  keeper: BucketKeeper;
  readonly applier: VipApplier;
  readonly log: Logger;
  /** Set after a lapse: the VIP joins again at this time (once fresh heartbeats are in). */
  rejoinAt?: number;

  constructor(
    readonly spec: VipSpec,
    readonly dataplane: Dataplane,
    private readonly ctx: VipContext,
  ) {
    this.key = formatAddress(spec.address);
    this.digest = vipDigest([this.key, spec.prefixLength, spec.hashmode, spec.seed, spec.buckets, dataplane.backend]);
    this.log = ctx.log.child({ vip: this.key });
    this.keeper = this.newKeeper();
    this.applier = new VipApplier({
      spec,
      dataplane,
      log: this.log,
      clock: ctx.clock,
      ownership: () => this.keeper.ownership(),
      leaseMs: (latency) => ctx.leaseMs(dataplane, latency),
      onApplied: (u) => ctx.events?.applied?.(this.key, u),
    });
  }

  private newKeeper(): BucketKeeper {
    return new BucketKeeper({
      local: this.ctx.local,
      nodes: this.ctx.nodes(),
      buckets: this.spec.buckets,
      vip: this.key,
      drainTimeoutMs: this.ctx.drainTimeoutMs(),
    });
  }

  reconfigure(): void {
    this.keeper.reconfigure({ nodes: this.ctx.nodes(), drainTimeoutMs: this.ctx.drainTimeoutMs() });
  }

  /**
   * Takes the VIP into the current view. Who holds connections in what comes from the peers'
   * heartbeats and from what our own rules still serve (join.ts): buckets a live peer holds are
   * handed over without resets; the others are ours at once — after a quick restart that is all
   * of our share. A re-join (after a lapse) starts over from what the kernel and peers say.
   * `current` gives the view and the live peers' heartbeats as they are once the kernel has been
   * read: the views may move on meanwhile (a slow read), and an older one would undo them.
   */
  async join(current: () => { view: View; peers: readonly Heartbeat[] }, fresh = false): Promise<void> {
    const left = (await this.dataplane.read(this.spec)).ownership;
    const now = this.ctx.clock.now();
    const { view, peers } = current();
    const leftover = new Set(left ? [...left.owned, ...left.incoming, ...left.draining] : []);
    // A re-join keeps the keeper: its draining buckets still hold connections to carry on.
    if (fresh) this.applier.forget();
    const previous = ownersBeforeJoin({
      local: this.ctx.local,
      view,
      nodes: this.ctx.nodes(),
      buckets: this.spec.buckets,
      vip: this.key,
      peers,
      leftover,
      afterLapse: fresh,
    });
    const change = this.keeper.onView(view, now, previous);
    // What our kernel was still draining goes on draining (a restart must not cut those connections).
    const kept = view.quorate ? this.keeper.keepDraining(left?.draining ?? [], now) : [];
    const o = this.keeper.ownership();
    this.log.info(
      {
        epoch: view.epoch,
        live: view.live.map(this.ctx.name),
        quorate: view.quorate,
        leftover: leftover.size,
        gained: change.gained.length,
        owned: o.owned.length,
        pending: o.draining.length,
        stillDraining: kept.length,
      },
      fresh ? 'joined again after the lease lapsed' : 'joined',
    );
    this.applier.viewAt = now;
    void this.applier.request(true);
  }

  onView(view: View, peers: readonly Heartbeat[]): void {
    const now = this.ctx.clock.now();
    const previous = ownersBeforeView(this.keeper.currentOwners, {
      local: this.ctx.local,
      view,
      nodes: this.ctx.nodes(),
      buckets: this.spec.buckets,
      vip: this.key,
      peers,
    });
    const change = this.keeper.onView(view, now, previous);
    if (change.gained.length + change.lost.length + change.drainingEnded.length + change.promoted.length === 0) return;
    this.log.info(
      { epoch: view.epoch, gained: change.gained, lost: change.lost, draining: change.drainingStarted, promoted: change.promoted },
      'ownership changed',
    );
    if (this.ctx.events && (change.gained.length || change.lost.length)) {
      const owned = this.keeper.currentOwners.filter((o) => o === this.ctx.local).length;
      this.ctx.events.ownership(this.key, { gained: change.gained, lost: change.lost, owned });
    }
    this.applier.viewAt ??= now;
    void this.applier.request();
  }

  onHeartbeat(hb: Heartbeat): void {
    const changed = this.keeper.onHeartbeat(hb);
    if (!changed.length) return;
    this.log.info({ buckets: changed, from: this.ctx.name(hb.from) }, 'handover progressed: buckets confirmed by their previous owner');
    void this.applier.request();
  }

  /** Ends the drains whose buckets hold no flow any more, or that reached the drain timeout. */
  async settleDraining(openFlows: (spec: VipSpec) => Promise<Map<number, number>>): Promise<void> {
    const draining = this.keeper.drainingBuckets();
    if (!draining.length) return;
    let open: Map<number, number>;
    try {
      open = await openFlows(this.spec);
    } catch (e) {
      // Unknown is not empty: the drains go on (only their timeout can end them this round).
      this.log.warn({ err: (e as Error).message }, 'cannot read conntrack; draining buckets stay draining');
      open = new Map(draining.map((b) => [b, Infinity]));
    }
    const emptied = new Set(this.keeper.drainingBuckets().filter((b) => !open.get(b)));
    const ended = this.keeper.settleDraining(this.ctx.clock.now(), emptied);
    if (!ended.length) return;
    const timedOut = ended.filter((b) => !emptied.has(b));
    if (timedOut.length) {
      this.log.warn(
        { buckets: timedOut, open: timedOut.map((b) => open.get(b) ?? 0), drainTimeoutMs: this.ctx.drainTimeoutMs() },
        'draining ended at the drain timeout with connections still open: they will be reset',
      );
    }
    if (ended.length > timedOut.length) this.log.info({ buckets: ended.filter((b) => emptied.has(b)) }, 'draining ended: no connection left');
    void this.applier.request();
  }
}
