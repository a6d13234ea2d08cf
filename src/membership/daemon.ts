// `aavip up`: the effectful shell around the membership core. It sends and receives heartbeats
// over UDP, feeds the core the time, turns views into ownership per VIP (handover.ts) and hands
// that to the dataplane. SIGTERM leaves the kernel rules in place, so a restart keeps serving.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { chmod, mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bucketsOf, type Owners } from '../assignment/assign.js';
import { loadClusterConfig, type ClusterConfig, type LoadOptions } from '../config/cluster.js';
import { createDataplane } from '../dataplane/index.js';
import type { Dataplane, Ownership, VipSpec } from '../dataplane/types.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { InputError, InputErrors } from '../errors.js';
import { formatAddress } from '../hash/flow.js';
import type { Logger } from '../log.js';
import { listConntrack, openFlowsPerBucket } from './conntrack.js';
import { loadLdirectordConfig } from '../lvs/config/parse.js';
import type { LdirectordConfig } from '../lvs/config/model.js';
import { Director } from '../lvs/director.js';
import { openIpvs } from '../lvs/ipvs/index.js';
import { BucketKeeper, ownersOfView } from './handover.js';
import { Membership, viewKey, type View } from './membership.js';
import { bucketBitmap, bucketsOfBitmap, decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './wire.js';

interface VipRuntime {
  spec: VipSpec;
  /** The VIP's key in heartbeats (its address). */
  key: string;
  dataplane: Dataplane;
  keeper: BucketKeeper;
  /** The ownership last applied, while the kernel is known to hold the rest of the VIP too. */
  applied?: string;
  /** When the VIP was last applied in full (read back from the kernel, rebuilt where it drifted). */
  fullAt: number;
  /** When the view behind the ownership not yet applied was made (for the log's timings). */
  viewAt?: number;
  /** Serialises kernel updates of one VIP. */
  queue: Promise<void>;
}

export interface DaemonStatus {
  cluster: string;
  local: { id: number; name: string; weight: number };
  view: { epoch: number; live: number[]; quorate: boolean; since: string };
  joined: boolean;
  nodes: { id: number; name: string; address: string; live: boolean; weight: number }[];
  vips: { vip: string; backend: string; buckets: number; perNode: Record<string, number>; local: Ownership }[];
  counters: Membership['counters'];
  /** The ldirectord role's real servers, when `lvs.config` is set. */
  lvs?: ReturnType<Director['status']>;
}

export type ControlRequest =
  | { cmd: 'status' }
  | { cmd: 'drain' | 'undrain'; node?: string }
  | { cmd: 'reload' };

/** How often each VIP is reconciled in full even when nothing changed (drift repair). */
const FULL_RECONCILE_MS = 5000;

const ownershipKey = (o: Ownership) => `${o.owned.join(',')}|${o.incoming.join(',')}|${o.draining.join(',')}`;
/** A VIP's identity for reloads: any change of its parameters makes it a different VIP. */
const specKey = (s: VipSpec) => JSON.stringify({ ...s, address: formatAddress(s.address) });
const describe = (e: unknown) => (e instanceof InputError || e instanceof InputErrors ? (e instanceof InputError ? e.describe() : e.message) : (e as Error).message);

/** Reads the configuration and the ldirectord.cf it names, failing on the first broken one. */
function loadAll(file: string, opts: LoadOptions): { config: ClusterConfig; ldirectord?: LdirectordConfig } {
  const config = loadClusterConfig(file, opts);
  return { config, ldirectord: config.lvs ? loadLdirectordConfig(config.lvs.config) : undefined };
}

export class Daemon {
  private readonly membership: Membership;
  private vips: VipRuntime[] = [];
  private socket?: Socket;
  private control?: Server;
  private heartbeatTimers: NodeJS.Timeout[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly incarnation = Date.now();
  private seq = 0;
  private joined = false;
  private viewSince = new Date();
  private stopped = false;
  private director?: Director;
  private lastTick = 0;
  /** No view changes before this time (set after this process was held up). */
  private judgeFrom = 0;

  /**
   * Loads and validates everything (cluster.yaml, the ldirectord.cf it names) before anything
   * is touched: a broken file throws here and nothing has changed.
   */
  static load(file: string, opts: LoadOptions, log: Logger): Daemon {
    const { config, ldirectord } = loadAll(file, opts);
    return new Daemon(config, log, opts, ldirectord);
  }

  private readonly log: Logger;

  constructor(private config: ClusterConfig, log: Logger, private readonly loadOptions: LoadOptions = {},
    private ldirectord?: LdirectordConfig) {
    this.log = log.child({ node: config.nodes.find((n) => n.id === config.local)!.name });
    this.membership = new Membership({
      cluster: config.name, local: config.local, nodes: config.nodes.map((n) => ({ id: n.id, weight: n.weight })),
      deadtimeMs: config.heartbeat.deadtimeMs, restartGraceMs: config.heartbeat.restartGraceMs, quorum: config.quorum,
    });
  }

  private get localNode() { return this.config.nodes.find((n) => n.id === this.config.local)!; }

  private async vipRuntime(spec: VipSpec): Promise<VipRuntime> {
    const key = formatAddress(spec.address);
    return {
      spec, key, dataplane: await createDataplane(spec.backend), queue: Promise.resolve(), fullAt: 0,
      keeper: new BucketKeeper({ local: this.config.local, nodes: this.config.nodes, buckets: spec.buckets, vip: key, drainTimeoutMs: this.config.drainTimeoutMs }),
    };
  }

  async start(): Promise<void> {
    for (const spec of this.config.vips) this.vips.push(await this.vipRuntime(spec));
    await this.listen();
    await this.openControlSocket();
    this.startHeartbeats();
    this.timers.push(setInterval(() => void this.settleDraining(), 1000));
    // Ownership changes take the fast path (one transaction, nothing read back); this full
    // reconcile restores whatever someone else changed or removed meanwhile.
    // (fullAt is set as it is queued, so a slow apply is not queued again every second.)
    this.timers.push(setInterval(() => {
      if (!this.joined) return;
      for (const v of this.vips) {
        if (Date.now() - v.fullAt < FULL_RECONCILE_MS) continue;
        v.fullAt = Date.now();
        this.reconcile(v, true);
      }
    }, 1000));
    if (this.ldirectord) {
      // The director role runs beside the VIP: same process, its own checks and IPVS table.
      this.director = new Director(this.ldirectord, await openIpvs('netlink'), { log: this.log.child({ role: 'ldirectord' }) });
      await this.director.start();
    }
    this.log.info({ node: this.localNode.name, incarnation: this.incarnation, vips: this.vips.map((v) => vipCidr(v.spec)) }, 'started; learning who is alive');
    // Join: listen for a deadtime before touching the kernel, so the first view is the real one.
    // Whatever rules a previous run left keep serving meanwhile: after a quick restart the peers
    // never noticed, and those rules are still right.
    this.timers.push(setTimeout(() => void this.join(), this.config.heartbeat.deadtimeMs));
  }

  /** Liveness is checked this often: a death is seen at most this long after its deadtime. */
  private get tickMs(): number { return Math.max(10, Math.min(25, Math.floor(this.config.heartbeat.intervalMs / 4))); }

  private startHeartbeats(): void {
    for (const t of this.heartbeatTimers) clearInterval(t);
    const { intervalMs } = this.config.heartbeat;
    this.heartbeatTimers = [
      setInterval(() => this.sendHeartbeats(), intervalMs),
      // Evaluated after the I/O of this loop turn (setImmediate): when the process was held up
      // (CPU contention, a long GC), the heartbeats that queued meanwhile count first, so our own
      // stall is not taken for the peers' silence.
      setInterval(() => setImmediate(() => this.tick()), this.tickMs),
    ];
    this.sendHeartbeats();
  }

  private async listen(): Promise<void> {
    const family = this.localNode.address.includes(':') ? 'udp6' : 'udp4';
    const socket = createSocket({ type: family, reuseAddr: true });
    socket.on('message', (msg, rinfo) => this.onPacket(msg, rinfo.address));
    socket.on('error', (e) => this.log.error({ err: e.message }, 'heartbeat socket error'));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.config.heartbeat.port, this.localNode.address, () => { socket.off('error', reject); resolve(); });
    });
    this.socket = socket;
  }

  /** `paused`: stopping while the kernel rules keep serving; `leaving`: stopping with the rules removed. */
  private heartbeat(now: number, farewell?: 'paused' | 'leaving'): Heartbeat {
    const view = this.membership.view();
    return {
      cluster: this.config.name, from: this.config.local, incarnation: this.incarnation, seq: ++this.seq,
      live: view.live, epoch: view.epoch, view: viewKey(view), quorate: view.quorate,
      weights: this.membership.weightSettings(), heard: this.membership.hearsay(now),
      draining: Object.fromEntries(this.vips.map((v) => [v.key, v.keeper.drainingBuckets()])),
      holding: Object.fromEntries(this.vips.map((v) => {
        const o = v.keeper.ownership();
        return [v.key, bucketBitmap(this.joined ? [...o.owned, ...o.incoming, ...o.draining] : [], v.spec.buckets)];
      })),
      ...(farewell ? { [farewell]: true } : {}),
    };
  }

  private sendHeartbeats(farewell?: 'paused' | 'leaving'): void {
    if (!this.socket || (this.stopped && !farewell)) return;
    // Each round goes out `copies` times (each its own sequence number): independent losses
    // rarely take every copy, so a short deadtime survives a lossy path.
    const now = Date.now();
    for (let c = 0; c < this.config.heartbeat.copies; c++) {
      const packet = encodeHeartbeat(this.heartbeat(now, farewell), this.config.authkey);
      for (const n of this.config.nodes) {
        if (n.id !== this.config.local) this.socket.send(packet, this.config.heartbeat.port, n.address);
      }
    }
  }

  private onPacket(packet: Buffer, from: string): void {
    const decoded = decodeHeartbeat(packet, this.config.authkey, this.config.name);
    if (!decoded.ok) { this.membership.refused(decoded.reason); return; }
    const hb = decoded.heartbeat;
    // The claimed sender must also be where the packet came from.
    const sender = this.config.nodes.find((n) => n.id === hb.from);
    if (!sender || sender.address !== from.replace(/^::ffff:/, '')) { this.membership.counters.unknownSender++; return; }
    if (this.membership.receive(hb, Date.now()) !== 'accepted') return;
    if (!this.joined) return;
    for (const v of this.vips) {
      const changed = v.keeper.onHeartbeat(hb);
      if (changed.length) {
        this.log.info({ vip: v.key, buckets: changed, from: hb.from }, 'handover progressed: buckets confirmed by their previous owner');
        this.reconcile(v);
      }
    }
  }

  private async join(): Promise<void> {
    const now = Date.now();
    this.membership.tick(now);
    const view = this.membership.view();
    for (const v of this.vips) await this.joinVip(v, view, now);
    this.joined = true;
    this.viewSince = new Date();
  }

  /**
   * Takes a VIP into the current view. Who holds connections in what comes from the peers'
   * heartbeats (and, where no peer holds a bucket, from what a previous run of ours left in the
   * kernel): buckets a live peer holds are handed over without resets; the others are ours at
   * once — after a quick restart that is all of our share.
   */
  private async joinVip(v: VipRuntime, view: View, now: number): Promise<void> {
    const peers = view.live.filter((id) => id !== this.config.local).map((id) => this.membership.lastHeartbeat(id, now)).filter((h): h is Heartbeat => !!h);
    const leftover = (await v.dataplane.read(v.spec)).ownership;
    const mine = new Set(leftover ? [...leftover.owned, ...leftover.incoming, ...leftover.draining] : []);
    const served = peers.map((h) => ({ id: h.from, buckets: bucketsOfBitmap(h.holding[v.key] ?? '') }));
    // A live peer never heard directly (only by hearsay) is assumed to hold what it would hold
    // without us: its buckets are handed over, never taken from under its connections.
    const unheard = new Set(view.live.filter((id) => id !== this.config.local && !peers.some((h) => h.from === id)));
    const without = ownersOfView({ ...view, live: view.live.filter((id) => id !== this.config.local) }, this.config.nodes, v.spec.buckets);
    const previous: Owners = Array.from({ length: v.spec.buckets }, (_, i) =>
      served.find((p) => p.buckets.has(i + 1))?.id ?? (mine.has(i + 1) ? this.config.local : unheard.has(without[i]) ? without[i] : 0));
    const change = v.keeper.onView(view, now, previous);
    const o = v.keeper.ownership();
    this.log.info({ vip: v.key, epoch: view.epoch, live: view.live, quorate: view.quorate, leftover: mine.size, gained: change.gained.length,
      owned: o.owned.length, pending: o.draining.length }, 'joined');
    v.viewAt = now;
    this.reconcile(v);
  }

  private tick(): void {
    if (this.stopped) return;
    const t0 = Date.now();
    const gap = this.lastTick ? t0 - this.lastTick : 0;
    this.lastTick = t0;
    if (gap > 3 * this.tickMs) {
      // This process was held up (CPU starvation, a long pause): what it heard meanwhile is not
      // to be trusted yet, and peers on a starved host were likely held up too. Nobody is judged
      // dead until a heartbeat interval has passed awake (a real death is seen that much later).
      this.judgeFrom = t0 + this.config.heartbeat.intervalMs + this.tickMs;
      if (gap > Math.max(100, this.config.heartbeat.deadtimeMs / 3)) this.log.warn({ ms: gap, expectedMs: this.tickMs }, 'the daemon was held up');
    }
    if (t0 < this.judgeFrom) return;
    const before = this.membership.view();
    const view = this.membership.tick(t0);
    if (!view) return;
    const left = before.live.filter((id) => !view.live.includes(id));
    const joined = view.live.filter((id) => !before.live.includes(id));
    this.log.info({ epoch: view.epoch, live: view.live, quorate: view.quorate, left, joined,
      weights: Object.fromEntries(view.members.map((m) => [m.id, m.weight])) }, 'view changed');
    if (!this.joined) return;
    this.viewSince = new Date();
    this.onView(view, t0);
  }

  private onView(view: View, now: number): void {
    for (const v of this.vips) {
      const change = v.keeper.onView(view, now);
      if (change.gained.length + change.lost.length + change.drainingEnded.length + change.promoted.length === 0) continue;
      this.log.info({ vip: v.key, epoch: view.epoch, gained: change.gained, lost: change.lost,
        draining: change.drainingStarted, promoted: change.promoted }, 'ownership changed');
      v.viewAt ??= now;
      this.reconcile(v);
    }
  }

  private async settleDraining(): Promise<void> {
    for (const v of this.vips) {
      if (v.keeper.drainingBuckets().length === 0) continue;
      let open: Map<number, number>;
      try { open = openFlowsPerBucket(v.spec, await listConntrack(v.spec)); } catch (e) {
        // Unknown is not empty: the drains go on (only their timeout can end them this round).
        this.log.warn({ vip: v.key, err: (e as Error).message }, 'cannot read conntrack; draining buckets stay draining');
        open = new Map(v.keeper.drainingBuckets().map((b) => [b, Infinity]));
      }
      const emptied = new Set(v.keeper.drainingBuckets().filter((b) => !open.get(b)));
      const ended = v.keeper.settleDraining(Date.now(), emptied);
      if (ended.length) {
        this.log.info({ vip: v.key, buckets: ended, open: ended.map((b) => open.get(b) ?? 0) }, 'draining ended');
        this.reconcile(v);
      }
    }
  }

  /**
   * Brings the kernel to the VIP's current ownership, one update at a time per VIP. A change of
   * ownership alone, after a full apply, takes the backend's fast path (the outage of a failover
   * is mostly this); a full apply reads the kernel back and repairs it, and is the fallback.
   */
  private reconcile(v: VipRuntime, full = false): void {
    v.queue = v.queue.then(async () => {
      if (this.stopped) return;
      const ownership = v.keeper.ownership();
      const key = ownershipKey(ownership);
      if (key === v.applied && !full) return;
      const t0 = performance.now();
      const viewAt = v.viewAt;
      v.viewAt = undefined;
      let path: 'fast' | 'full' = 'full';
      try {
        if (!full && v.applied !== undefined) {
          try {
            if (await v.dataplane.applyOwnership(v.spec, ownership)) path = 'fast';
          } catch (e) {
            this.log.warn({ vip: v.key, err: (e as Error).message }, 'fast ownership update refused; applying in full');
          }
        }
        if (path === 'full') {
          await v.dataplane.apply(v.spec, ownership);
          v.fullAt = Date.now();
        }
        const changed = key !== v.applied;
        v.applied = key;
        if (changed) {
          this.log.info({ vip: v.key, owned: ownership.owned.length, incoming: ownership.incoming.length, draining: ownership.draining.length, path,
            applyMs: Number((performance.now() - t0).toFixed(1)), ...(viewAt ? { sinceViewMs: Date.now() - viewAt } : {}) }, 'ownership applied');
        }
      } catch (e) {
        this.log.error({ vip: v.key, err: (e as Error).message }, `applying ownership failed; retrying in full within ${FULL_RECONCILE_MS / 1000} s`);
        v.applied = undefined;
        v.fullAt = Date.now(); // the periodic reconcile retries
      }
    });
  }

  status(): DaemonStatus {
    const view = this.membership.view();
    return {
      cluster: this.config.name,
      local: { id: this.config.local, name: this.localNode.name, weight: this.membership.weightOf(this.config.local) },
      view: { epoch: view.epoch, live: view.live, quorate: view.quorate, since: this.viewSince.toISOString() },
      joined: this.joined,
      nodes: this.config.nodes.map((n) => ({ id: n.id, name: n.name, address: n.address, live: view.live.includes(n.id), weight: view.members.find((m) => m.id === n.id)!.weight })),
      vips: this.vips.map((v) => ({
        vip: vipCidr(v.spec), backend: v.dataplane.backend, buckets: v.spec.buckets,
        perNode: Object.fromEntries(this.config.nodes.map((n) => [n.name, bucketsOf(v.keeper.currentOwners, n.id).length])),
        local: v.keeper.ownership(),
      })),
      counters: { ...this.membership.counters },
      ...(this.director ? { lvs: this.director.status() } : {}),
    };
  }

  /**
   * Sets a node's weight cluster-wide (0 = drain: its buckets hand over to the others without
   * resets; null = back to its configured weight). The setting travels in the heartbeats.
   */
  setWeight(nodeName: string | undefined, weight: number | null): { node: string; weight: number } {
    const node = nodeName === undefined ? this.localNode : this.config.nodes.find((n) => n.name === nodeName || String(n.id) === nodeName);
    if (!node) throw new Error(`'${nodeName}' is not a configured node (${this.config.nodes.map((n) => n.name).join(', ')})`);
    this.membership.setWeight(node.id, weight, Date.now());
    this.log.info({ node: node.name, weight: weight ?? `configured (${node.weight})` }, 'weight set');
    this.sendHeartbeats();
    this.tick();
    return { node: node.name, weight: this.membership.weightOf(node.id) };
  }

  /**
   * Re-reads the configuration. Everything is validated first; a broken file changes nothing
   * and the daemon goes on with what it has. Node weights, timings, quorum, the drain timeout,
   * the VIPs and the ldirectord role can change; the nodes, the local node, the port, the key and
   * the control socket need a restart.
   */
  async reload(): Promise<{ ok: true; changes: string[] } | { error: string }> {
    let next: ReturnType<typeof loadAll>;
    try { next = loadAll(this.config.file, this.loadOptions); } catch (e) {
      this.log.error({ err: describe(e) }, 'configuration not reloaded: the file is broken; running on unchanged');
      return { error: describe(e) };
    }
    const { config } = next;
    const node = (n: ClusterConfig['nodes'][number]) => `${n.id}/${n.name}/${n.address}`;
    const fixed: [string, unknown, unknown][] = [
      ['cluster.name', this.config.name, config.name],
      ['cluster.nodes (ids, names, addresses)', this.config.nodes.map(node).join(), config.nodes.map(node).join()],
      ['cluster.local', this.config.local, config.local],
      ['cluster.heartbeat.port', this.config.heartbeat.port, config.heartbeat.port],
      ['cluster.authkey', this.config.authkey.toString('hex'), config.authkey.toString('hex')],
      ['cluster.controlSocket', this.config.controlSocket, config.controlSocket],
    ];
    const needRestart = fixed.filter(([, a, b]) => a !== b).map(([f]) => f);
    if (needRestart.length) {
      const error = `${config.file}: ${needRestart.join(', ')} changed: restart the daemon to apply that (nothing was reloaded)`;
      this.log.error({ fields: needRestart }, 'configuration not reloaded: changes need a restart');
      return { error };
    }
    const changes: string[] = [];
    const old = this.config;
    this.config = config;
    this.membership.reconfigure({
      nodes: config.nodes.map((n) => ({ id: n.id, weight: n.weight })),
      deadtimeMs: config.heartbeat.deadtimeMs, restartGraceMs: config.heartbeat.restartGraceMs, quorum: config.quorum,
    });
    if (JSON.stringify(old.heartbeat) !== JSON.stringify(config.heartbeat)) { changes.push('heartbeat'); this.startHeartbeats(); }
    if (old.quorum !== config.quorum) changes.push('quorum');
    if (old.nodes.some((n, i) => n.weight !== config.nodes[i].weight)) changes.push('node weights');
    for (const v of this.vips) v.keeper.reconfigure({ nodes: config.nodes, drainTimeoutMs: config.drainTimeoutMs });

    // VIPs: the ones no longer configured (or configured differently) leave the kernel; new ones join.
    const wanted = new Map(config.vips.map((s) => [specKey(s), s]));
    const keep: VipRuntime[] = [];
    for (const v of this.vips) {
      if (wanted.has(specKey(v.spec))) { keep.push(v); wanted.delete(specKey(v.spec)); continue; }
      await v.queue;
      await v.dataplane.remove(v.spec);
      changes.push(`removed VIP ${vipCidr(v.spec)}`);
      this.log.info({ vip: vipCidr(v.spec) }, 'VIP removed by reload');
    }
    this.vips = keep;
    for (const spec of wanted.values()) {
      const v = await this.vipRuntime(spec);
      this.vips.push(v);
      if (this.joined) await this.joinVip(v, this.membership.view(), Date.now());
      changes.push(`added VIP ${vipCidr(spec)}`);
    }

    if (next.ldirectord && this.director) { await this.director.reload(next.ldirectord); changes.push('ldirectord role reloaded'); }
    else if (next.ldirectord) {
      this.director = new Director(next.ldirectord, await openIpvs('netlink'), { log: this.log.child({ role: 'ldirectord' }) });
      await this.director.start();
      changes.push('ldirectord role started');
    } else if (this.director) { await this.director.stop(); this.director = undefined; changes.push('ldirectord role stopped'); }
    this.ldirectord = next.ldirectord;

    this.tick();
    this.log.info({ changes }, 'configuration reloaded');
    return { ok: true, changes };
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'status': return this.status();
      case 'drain': return { ok: true, ...this.setWeight(req.node, 0) };
      case 'undrain': return { ok: true, ...this.setWeight(req.node, null) };
      case 'reload': return this.reload();
      default: return { error: `unknown command ${(req as { cmd: string }).cmd}` };
    }
  }

  /** A unix socket only root can reach: the local control of this daemon (no network port). */
  private async openControlSocket(): Promise<void> {
    const path = this.config.controlSocket;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await rm(path, { force: true });
    this.control = createServer((conn) => {
      let buf = '';
      conn.on('error', () => conn.destroy());
      conn.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) { if (buf.length > 65536) conn.destroy(); return; }
        let request: ControlRequest;
        try { request = JSON.parse(buf.slice(0, nl)) as ControlRequest; } catch (e) { conn.end(JSON.stringify({ error: (e as Error).message }) + '\n'); return; }
        this.handle(request).then((reply) => conn.end(JSON.stringify(reply) + '\n'), (e: Error) => conn.end(JSON.stringify({ error: e.message }) + '\n'));
      });
    });
    await new Promise<void>((resolve, reject) => { this.control!.once('error', reject); this.control!.listen(path, () => resolve()); });
    await chmod(path, 0o600);
  }

  /**
   * Stops heartbeats and the control socket. By default the kernel keeps serving this node's
   * buckets (a restart picks them up again); with `remove`, this node's VIPs leave the kernel
   * first and the peers are told to take its buckets over at once.
   */
  async stop(o: { remove?: boolean } = {}): Promise<void> {
    this.stopped = true;
    for (const t of [...this.timers, ...this.heartbeatTimers]) clearInterval(t);
    await Promise.all(this.vips.map((v) => v.queue));
    if (o.remove) for (const v of this.vips) await v.dataplane.remove(v.spec);
    if (this.joined || o.remove) {
      const farewell = o.remove ? 'leaving' : 'paused';
      this.sendHeartbeats(farewell);
      await new Promise((r) => setTimeout(r, 20));
      this.sendHeartbeats(farewell);
    }
    this.socket?.close();
    await this.director?.stop();
    await new Promise((r) => (this.control ? this.control.close(() => r(undefined)) : r(undefined)));
    await rm(this.config.controlSocket, { force: true });
    this.log.info({}, o.remove ? 'stopped; VIPs removed from the kernel' : 'stopped; kernel rules left in place');
  }
}
