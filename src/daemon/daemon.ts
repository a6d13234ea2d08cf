// `aavip up`: the wiring around the membership core. Heartbeats go out every interval over the
// transport; what comes in is decoded and handed to the core with the (monotonic) time; views
// become ownership per VIP (vip-runtime.ts), and ownership becomes kernel rules on a lease
// (vip-applier.ts). Transport, clock and data plane are parameters: the same daemon runs over UDP
// with nft in a namespace and over an in-memory network in a unit test.
import type { ClusterConfig } from '../config/cluster.js';
import type { Dataplane, VipSpec } from '../dataplane/types.js';
import type { Logger } from '../log.js';
import { factsOf, type ClusterFacts } from '../membership/agreement.js';
import { HoldUpGuard } from '../membership/holdup.js';
import { confirmationsNeeded, leaseMs, MIN_LEASE_MS } from '../membership/lease.js';
import { Membership } from '../membership/membership.js';
import { decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../membership/wire.js';
import type { TimerHandle } from './clock.js';
import type { DaemonDeps, DirectorRole } from './deps.js';
import type { DaemonStatus } from './control-protocol.js';
import { CheckSharing } from './check-sharing.js';
import { buildHeartbeat } from './heartbeat.js';
import { logView } from './view-log.js';
import { daemonStatus } from './status.js';
import { VipRuntime } from './vip-runtime.js';
import { SplitBrainAlarm } from './split-brain.js';
import type { Tracker } from '../track/tracker.js';

export type { DaemonDeps, DirectorRole } from './deps.js';

export class Daemon {
  readonly membership: Membership;
  vips: VipRuntime[] = [];
  director?: DirectorRole;
  tracker?: Tracker;
  readonly checkSharing: CheckSharing;
  readonly splitBrain: SplitBrainAlarm;
  joined = false;
  viewSince: number;
  private readonly log: Logger;
  private readonly holdUp: HoldUpGuard;
  private heartbeatTimers: TimerHandle[] = [];
  private timers: TimerHandle[] = [];
  private seq = 0;
  /** When each recent heartbeat of ours was sent (seq → time): what a peer's echo dates. */
  private readonly sentAt = new Map<number, number>();
  private stopped = false;
  private joining = false;
  sendErrors = 0;

  constructor(
    public config: ClusterConfig,
    readonly deps: DaemonDeps,
  ) {
    this.log = deps.log;
    this.viewSince = deps.clock.wall();
    this.holdUp = new HoldUpGuard({ tickMs: this.tickMs(), intervalMs: config.heartbeat.intervalMs });
    this.membership = new Membership({
      cluster: config.name,
      local: config.local,
      ...this.membershipTimings(),
      incarnation: deps.incarnation,
      facts: factsOf(config.nodes, {}),
    });
    this.checkSharing = new CheckSharing(this);
    this.splitBrain = new SplitBrainAlarm(this);
  }

  readonly localNode = () => this.config.nodes.find((n) => n.id === this.config.local)!;
  readonly name = (id: number): string => this.config.nodes.find((n) => n.id === id)?.name ?? String(id);

  /** Liveness is checked this often: a death is seen at most this long after its deadtime. */
  private readonly tickMs = () => Math.max(10, Math.min(25, Math.floor(this.config.heartbeat.intervalMs / 4)));

  readonly facts = (): ClusterFacts => factsOf(this.config.nodes, Object.fromEntries(this.vips.map((v) => [v.key, v.digest])));

  async addVip(spec: VipSpec): Promise<VipRuntime> {
    return new VipRuntime(spec, await this.deps.dataplane(spec), {
      local: this.config.local,
      nodes: () => this.config.nodes,
      drainTimeoutMs: () => this.config.drainTimeoutMs,
      clock: this.deps.clock,
      log: this.log,
      name: this.name,
      leaseMs: (dp, latency) => this.leaseFor(dp, latency),
      events: this.deps.events,
    });
  }

  /**
   * The lease this node may grant its buckets now (lease.ts), less the time a kernel update takes
   * to commit; undefined where the backend cannot lapse.
   */
  private leaseFor(dp: Dataplane, latencyMs: number): number | undefined {
    if (!dp.leases) return undefined;
    if (this.stopped) return Math.max(0, this.config.heartbeat.restartGraceMs - this.config.heartbeat.intervalMs);
    const now = this.deps.clock.now();
    const heardUsAt = new Map([...this.membership.confirmedSeqs(now)].map(([id, seq]) => [id, seq === undefined ? undefined : this.sentAt.get(seq)]));
    const needed = confirmationsNeeded(this.config.nodes.length, this.config.quorum, this.membership.view().live.length - 1);
    const ms = (this.deps.leaseRule ?? leaseMs)({
      now,
      deadtimeMs: this.config.heartbeat.deadtimeMs,
      intervalMs: this.config.heartbeat.intervalMs,
      heardUsAt,
      needed,
    });
    return ms - latencyMs >= MIN_LEASE_MS ? Math.floor(ms - latencyMs) : 0;
  }

  /** Starts heartbeats and, a deadtime later (the first view is then the real one), the VIPs. */
  async start(vips: VipRuntime[]): Promise<void> {
    this.vips = vips;
    this.membership.reconfigure({ ...this.membershipTimings(), facts: this.facts() });
    this.deps.transport.onPacket((p, from) => this.onPacket(p, from));
    this.startHeartbeats();
    this.timers.push(this.deps.clock.setInterval(() => void this.settleDraining(), 1000));
    // Ownership changes take the fast path; this full reconcile restores whatever someone else
    // changed or removed meanwhile (the applier decides when one is due).
    this.timers.push(
      this.deps.clock.setInterval(() => {
        if (this.joined) for (const v of this.vips) void v.applier.request();
      }, 1000),
    );
    // Whatever rules a previous run left keep serving meanwhile (on the lease it gave them).
    this.timers.push(this.deps.clock.setTimeout(() => void this.join(), this.config.heartbeat.deadtimeMs));
  }

  private membershipTimings() {
    const c = this.config;
    return {
      nodes: c.nodes.map((n) => ({ id: n.id, weight: n.weight })),
      deadtimeMs: c.heartbeat.deadtimeMs,
      restartGraceMs: c.heartbeat.restartGraceMs,
      quorum: c.quorum,
    };
  }

  startHeartbeats(): void {
    for (const t of this.heartbeatTimers) this.deps.clock.clear(t);
    this.holdUp.reconfigure({ tickMs: this.tickMs(), intervalMs: this.config.heartbeat.intervalMs });
    this.heartbeatTimers = [
      this.deps.clock.setInterval(() => this.onInterval(), this.config.heartbeat.intervalMs),
      // Evaluated after the I/O of this loop turn: heartbeats that queued while this process was
      // held up count first, so our own stall is not taken for the peers' silence.
      this.deps.clock.setInterval(() => setImmediate(() => this.tick()), this.tickMs()),
    ];
    this.sendHeartbeats();
  }

  /** Every interval: renew the leases (or notice they lapsed), then tell the peers we live. */
  private onInterval(): void {
    if (this.stopped) return;
    if (this.joined) {
      const now = this.deps.clock.now();
      for (const v of this.vips) {
        if (v.rejoinAt === undefined && v.applier.lapsed(now)) {
          this.log.warn({ vip: v.key }, "the lease on this node's buckets lapsed (the daemon was held up, or peers stopped hearing it): joining again");
          v.applier.lease = undefined;
          v.rejoinAt = now + this.config.heartbeat.intervalMs;
        } else if (v.rejoinAt !== undefined && now >= v.rejoinAt) {
          v.rejoinAt = undefined;
          void v.join(this.current, true);
        } else if (v.rejoinAt === undefined) void v.applier.request();
      }
    }
    this.checkSharing.update(this.membership.view(), this.livePeers(this.deps.clock.now()));
    this.sendHeartbeats();
  }

  private heartbeat(farewell?: 'paused' | 'leaving'): Heartbeat {
    const now = this.deps.clock.now();
    this.sentAt.set(++this.seq, now);
    this.sentAt.delete(this.seq - 1024);
    return buildHeartbeat({
      cluster: this.config.name,
      from: this.config.local,
      incarnation: this.deps.incarnation,
      seq: this.seq,
      view: this.membership.view(),
      weights: this.membership.weightSettings(),
      heard: this.membership.hearsay(now),
      facts: this.facts(),
      vips: this.vips,
      joined: this.joined,
      checks: this.checkSharing.outgoing(),
      taking: this.splitBrain.outgoing(),
      track: this.membership.localTrack,
      farewell,
    });
  }

  sendHeartbeats(farewell?: 'paused' | 'leaving'): void {
    if (this.stopped && !farewell) return;
    // Each round goes out `copies` times (each its own sequence number): independent losses
    // rarely take every copy, so a short deadtime survives a lossy path.
    for (let c = 0; c < this.config.heartbeat.copies; c++) {
      let packet: Buffer;
      try {
        packet = encodeHeartbeat(this.heartbeat(farewell), this.config.authkey);
      } catch (e) {
        this.sendErrors++;
        this.log.error({ err: (e as Error).message }, 'cannot build a heartbeat');
        return;
      }
      for (const n of this.config.nodes) if (n.id !== this.config.local) this.deps.transport.send(packet, n.address);
    }
  }

  private onPacket(packet: Buffer, from: string): void {
    const decoded = decodeHeartbeat(packet, this.config.authkey, this.config.name);
    if (!decoded.ok) {
      this.membership.refused(decoded.reason);
      return;
    }
    const hb = decoded.heartbeat;
    // The claimed sender must also be where the packet came from.
    const sender = this.config.nodes.find((n) => n.id === hb.from);
    if (!sender || sender.address !== from) {
      this.membership.counters.unknownSender++;
      return;
    }
    if (this.membership.receive(hb, this.deps.clock.now(), this.deps.clock.wall()) !== 'accepted') return;
    this.checkSharing.onHeartbeat(hb);
    this.splitBrain.onHeartbeat(hb);
    if (this.joined) for (const v of this.vips) v.onHeartbeat(hb);
    else if (this.heardEveryone()) void this.join();
  }

  /** The view and the live peers' latest heartbeats, now (what a VIP joins into). */
  private readonly current = () => ({ view: this.membership.view(), peers: this.livePeers(this.deps.clock.now()) });

  /** The latest heartbeats of the live peers heard directly and recently (what they hold now). */
  private livePeers(now: number): Heartbeat[] {
    const view = this.membership.view();
    return view.live
      .filter((id) => id !== this.config.local)
      .map((id) => this.membership.recentHeartbeat(id, now))
      .filter((h): h is Heartbeat => !!h);
  }

  /**
   * Whether every configured peer has been heard since this daemon started (each has echoed our
   * incarnation): the view is then complete and what each holds is known, so joining need not
   * wait the deadtime — a restarted node's buckets are handed back sooner.
   */
  private heardEveryone(): boolean {
    const now = this.deps.clock.now();
    return this.config.nodes.every((n) => n.id === this.config.local || this.membership.recentHeartbeat(n.id, now) !== undefined);
  }

  private async join(): Promise<void> {
    if (this.stopped || this.joining) return;
    this.joining = true;
    this.membership.tick(this.deps.clock.now());
    for (const v of this.vips) await v.join(this.current);
    this.joined = true;
    this.viewSince = this.deps.clock.wall();
  }

  /** Joins a VIP added while running (a reload). */
  async joinVip(v: VipRuntime): Promise<void> {
    if (this.joined) await v.join(this.current);
  }

  tick(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    const { heldUpMs, judge } = this.holdUp.tick(now);
    if (heldUpMs !== undefined && heldUpMs > Math.max(100, this.config.heartbeat.deadtimeMs / 3))
      this.log.warn({ ms: Math.round(heldUpMs), expectedMs: this.tickMs() }, 'the daemon was held up');
    if (this.joined) this.topUpLeases(now);
    this.splitBrain.poll();
    if (!judge) return;
    const before = this.membership.view();
    const view = this.membership.tick(now);
    if (!view) return;
    logView(this.log, this.name, before, view);
    this.deps.events?.view(before, view, this.name);
    if (!this.joined) return;
    this.viewSince = this.deps.clock.wall();
    const peers = this.livePeers(now);
    for (const v of this.vips) v.onView(view, peers);
  }

  /**
   * Renews a lease that would run out before the next interval's renewal, as soon as the peers'
   * echoes allow a longer one: the echoes arrive between intervals, and a lease waiting for the
   * interval would lapse on a lossy path.
   */
  private topUpLeases(now: number): void {
    for (const v of this.vips) {
      const l = v.applier.lease;
      if (l && v.rejoinAt === undefined && l.grantedAt + l.ms - now < this.config.heartbeat.intervalMs + this.tickMs()) void v.applier.request();
    }
  }

  private async settleDraining(): Promise<void> {
    for (const v of this.vips) await v.settleDraining(this.deps.openFlows);
  }

  status(): DaemonStatus {
    return daemonStatus(this);
  }

  /**
   * Sets a node's weight cluster-wide (0 = drain: its buckets hand over to the others without
   * resets; null = back to its configured weight). The setting travels in the heartbeats.
   */
  setWeight(nodeName: string | undefined, weight: number | null): { node: string; weight: number } {
    const node = nodeName === undefined ? this.localNode() : this.config.nodes.find((n) => n.name === nodeName || String(n.id) === nodeName);
    if (!node) throw new Error(`'${nodeName}' is not a configured node (${this.config.nodes.map((n) => n.name).join(', ')})`);
    this.membership.setWeight(node.id, weight, this.deps.clock.wall());
    this.log.info({ target: node.name, weight: weight ?? `configured (${node.weight})` }, 'weight set');
    this.sendHeartbeats();
    this.tick();
    return { node: node.name, weight: this.membership.weightOf(node.id) };
  }

  /** Takes a validated new configuration (reload.ts decided it needs no restart). */
  reconfigure(config: ClusterConfig, heartbeatChanged: boolean): void {
    this.config = config;
    this.membership.reconfigure({ ...this.membershipTimings(), facts: this.facts() });
    if (heartbeatChanged) this.startHeartbeats();
    for (const v of this.vips) v.reconfigure();
  }

  readonly refreshFacts = () => this.membership.reconfigure({ ...this.membershipTimings(), facts: this.facts() });

  /**
   * Stops heartbeats. By default the kernel keeps serving this node's buckets (a restart picks
   * them up again): their lease is stretched to the restart grace, for which the peers keep this
   * node live. With `remove`, this node's VIPs leave the kernel first and the peers are told to
   * take its buckets over at once.
   */
  async stop(o: { remove?: boolean } = {}): Promise<void> {
    this.stopped = true;
    for (const t of [...this.timers, ...this.heartbeatTimers]) this.deps.clock.clear(t);
    await Promise.all(this.vips.map((v) => v.applier.settled()));
    if (o.remove) for (const v of this.vips) await v.dataplane.remove(v.spec);
    else if (this.joined) for (const v of this.vips) await v.applier.request();
    for (const v of this.vips) v.applier.stopped = true;
    if (this.joined || o.remove) {
      const farewell = o.remove ? 'leaving' : 'paused';
      this.sendHeartbeats(farewell);
      await new Promise((r) => setTimeout(r, 20));
      this.sendHeartbeats(farewell);
    }
    this.deps.transport.close();
    await this.director?.stop();
    this.log.info({}, o.remove ? 'stopped; VIPs removed from the kernel' : 'stopped; kernel rules left in place for the restart grace');
  }
}
