// `aavip up`: the effectful shell around the membership core. It sends and receives heartbeats
// over UDP, feeds the core the time, turns views into ownership per VIP (handover.ts) and hands
// that to the dataplane. SIGTERM leaves the kernel rules in place, so a restart keeps serving.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { bucketsOf, type Owners } from '../assignment/assign.js';
import type { ClusterConfig } from '../config/cluster.js';
import { createDataplane } from '../dataplane/index.js';
import type { Dataplane, Ownership, VipSpec } from '../dataplane/types.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { formatAddress } from '../hash/flow.js';
import type { Logger } from '../log.js';
import { listConntrack, openFlowsPerBucket } from './conntrack.js';
import { loadLdirectordConfig } from '../lvs/config/parse.js';
import { Director } from '../lvs/director.js';
import { openIpvs } from '../lvs/ipvs/index.js';
import { BucketKeeper } from './handover.js';
import { Membership, type View } from './membership.js';
import { bucketBitmap, bucketsOfBitmap, decodeHeartbeat, encodeHeartbeat, type Heartbeat } from './wire.js';

interface VipRuntime {
  spec: VipSpec;
  key: string;
  dataplane: Dataplane;
  keeper: BucketKeeper;
  applied?: string;
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

const ownershipKey = (o: Ownership) => `${o.owned.join(',')}|${o.incoming.join(',')}|${o.draining.join(',')}`;

export class Daemon {
  private readonly membership: Membership;
  private readonly vips: VipRuntime[] = [];
  private socket?: Socket;
  private control?: Server;
  private timers: NodeJS.Timeout[] = [];
  private readonly incarnation = Date.now();
  private seq = 0;
  private joined = false;
  private viewSince = new Date();
  private stopped = false;
  private director?: Director;

  constructor(private readonly config: ClusterConfig, private readonly log: Logger) {
    this.membership = new Membership({
      cluster: config.name, local: config.local, nodes: config.nodes.map((n) => ({ id: n.id, weight: n.weight })),
      deadtimeMs: config.heartbeat.deadtimeMs, restartGraceMs: config.heartbeat.restartGraceMs, quorum: config.quorum,
    });
  }

  private get localNode() { return this.config.nodes.find((n) => n.id === this.config.local)!; }

  async start(): Promise<void> {
    for (const spec of this.config.vips) {
      const dataplane = await createDataplane(spec.backend);
      const key = formatAddress(spec.address);
      this.vips.push({ spec, key, dataplane, queue: Promise.resolve(),
        keeper: new BucketKeeper({ local: this.config.local, buckets: spec.buckets, vip: key, drainTimeoutMs: this.config.drainTimeoutMs }) });
    }
    await this.listen();
    await this.openControlSocket();
    const { intervalMs, deadtimeMs } = this.config.heartbeat;
    this.timers.push(setInterval(() => this.sendHeartbeats(), intervalMs));
    this.timers.push(setInterval(() => this.tick(), Math.max(10, Math.floor(intervalMs / 2))));
    this.timers.push(setInterval(() => void this.settleDraining(), 1000));
    this.sendHeartbeats();
    if (this.config.lvs) {
      // The director role runs beside the VIP: same process, its own checks and IPVS table.
      const ld = loadLdirectordConfig(this.config.lvs.config);
      this.director = new Director(ld, await openIpvs('netlink'), { log: this.log.child({ role: 'ldirectord' }) });
      await this.director.start();
    }
    this.log.info({ node: this.localNode.name, incarnation: this.incarnation, vips: this.vips.map((v) => vipCidr(v.spec)) }, 'started; learning who is alive');
    // Join: listen for a deadtime before touching the kernel, so the first view is the real one.
    // Whatever rules a previous run left keep serving meanwhile: after a quick restart the peers
    // never noticed, and those rules are still right.
    this.timers.push(setTimeout(() => void this.join(), deadtimeMs));
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

  private heartbeat(paused = false): Heartbeat {
    const view = this.membership.view();
    return {
      cluster: this.config.name, from: this.config.local, incarnation: this.incarnation, seq: ++this.seq,
      live: view.live, epoch: view.epoch, quorate: view.quorate, weight: this.membership.localWeightNow,
      draining: Object.fromEntries(this.vips.map((v) => [v.key, v.keeper.drainingBuckets()])),
      holding: Object.fromEntries(this.vips.map((v) => {
        const o = v.keeper.ownership();
        return [v.key, bucketBitmap(this.joined ? [...o.owned, ...o.incoming, ...o.draining] : [], v.spec.buckets)];
      })),
      ...(paused ? { paused: true } : {}),
    };
  }

  private sendHeartbeats(paused = false): void {
    if (!this.socket || (this.stopped && !paused)) return;
    // Each round goes out `copies` times (each its own sequence number): independent losses
    // rarely take every copy, so a short deadtime survives a lossy path.
    for (let c = 0; c < this.config.heartbeat.copies; c++) {
      const packet = encodeHeartbeat(this.heartbeat(paused), this.config.authkey);
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
        this.log.info({ vip: v.key, buckets: changed.length, from: hb.from }, 'handover progressed: buckets confirmed by their previous owner');
        this.reconcile(v);
      }
    }
  }

  private async join(): Promise<void> {
    const now = Date.now();
    this.membership.tick(now);
    const view = this.membership.view();
    // Who holds connections in what, as the peers announce it (and, where no peer does, what a
    // previous run of ours left in the kernel): buckets a live peer holds are handed over without
    // resets; the others are ours at once — after a quick restart that is all of our share.
    const peers = view.live.filter((id) => id !== this.config.local).map((id) => this.membership.lastHeartbeat(id, now)).filter((h): h is Heartbeat => !!h);
    for (const v of this.vips) {
      const leftover = (await v.dataplane.read(v.spec)).ownership;
      const mine = new Set(leftover ? [...leftover.owned, ...leftover.incoming, ...leftover.draining] : []);
      const served = peers.map((h) => ({ id: h.from, buckets: bucketsOfBitmap(h.holding[v.key] ?? '') }));
      const previous: Owners = Array.from({ length: v.spec.buckets }, (_, i) =>
        served.find((p) => p.buckets.has(i + 1))?.id ?? (mine.has(i + 1) ? this.config.local : 0));
      const change = v.keeper.onView(view, now, previous);
      this.log.info({ vip: v.key, epoch: view.epoch, live: view.live, quorate: view.quorate, gained: change.gained.length, incoming: v.keeper.ownership().incoming.length }, 'joined');
      this.reconcile(v);
    }
    this.joined = true;
    this.viewSince = new Date();
  }

  private tick(): void {
    if (this.stopped) return;
    const t0 = Date.now();
    const view = this.membership.tick(t0);
    if (!view || !this.joined) return;
    this.viewSince = new Date();
    this.onView(view, t0);
  }

  private onView(view: View, now: number): void {
    for (const v of this.vips) {
      const change = v.keeper.onView(view, now);
      this.log.info({ vip: v.key, epoch: view.epoch, live: view.live, quorate: view.quorate, gained: change.gained, lost: change.lost,
        draining: change.drainingStarted, promoted: change.promoted }, 'view changed');
      this.reconcile(v);
    }
  }

  private async settleDraining(): Promise<void> {
    for (const v of this.vips) {
      if (v.keeper.drainingBuckets().length === 0) continue;
      const open = openFlowsPerBucket(v.spec, await listConntrack(v.spec));
      const emptied = new Set(v.keeper.drainingBuckets().filter((b) => !open.get(b)));
      const ended = v.keeper.settleDraining(Date.now(), emptied);
      if (ended.length) {
        this.log.info({ vip: v.key, buckets: ended, open: ended.map((b) => open.get(b) ?? 0) }, 'draining ended');
        this.reconcile(v);
      }
    }
  }

  private reconcile(v: VipRuntime): void {
    v.queue = v.queue.then(async () => {
      if (this.stopped) return;
      const ownership = v.keeper.ownership();
      const key = ownershipKey(ownership);
      if (key === v.applied) return;
      const t0 = performance.now();
      try {
        await v.dataplane.apply(v.spec, ownership);
        v.applied = key;
        this.log.info({ vip: v.key, owned: ownership.owned.length, incoming: ownership.incoming.length, draining: ownership.draining.length,
          ms: Number((performance.now() - t0).toFixed(1)) }, 'ownership applied');
      } catch (e) {
        this.log.error({ vip: v.key, err: (e as Error).message }, 'applying ownership failed; retrying on the next change');
        v.applied = undefined;
      }
    });
  }

  status(): DaemonStatus {
    const view = this.membership.view();
    return {
      cluster: this.config.name,
      local: { id: this.config.local, name: this.localNode.name, weight: this.membership.localWeightNow },
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

  /** Sets this node's weight (0 = drain: its buckets hand over to the others). */
  setWeight(weight: number): void {
    this.membership.setLocalWeight(weight);
    this.log.info({ weight }, 'local weight set');
    this.tick();
  }

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
        if (nl < 0) return;
        let reply: unknown;
        try {
          const req = JSON.parse(buf.slice(0, nl)) as { cmd: string; weight?: number };
          if (req.cmd === 'status') reply = this.status();
          else if (req.cmd === 'drain') { this.setWeight(0); reply = { ok: true }; }
          else if (req.cmd === 'undrain') { this.setWeight(this.localNode.weight); reply = { ok: true }; }
          else reply = { error: `unknown command ${req.cmd}` };
        } catch (e) { reply = { error: (e as Error).message }; }
        conn.end(JSON.stringify(reply) + '\n');
      });
    });
    await new Promise<void>((resolve, reject) => { this.control!.once('error', reject); this.control!.listen(path, () => resolve()); });
  }

  /** Stops heartbeats and the control socket; the kernel keeps serving this node's buckets. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    // The kernel keeps serving our buckets: tell the peers not to take them over for a while.
    if (this.joined) {
      this.sendHeartbeats(true);
      await new Promise((r) => setTimeout(r, 20));
      this.sendHeartbeats(true);
    }
    this.socket?.close();
    await this.director?.stop();
    await new Promise((r) => (this.control ? this.control.close(() => r(undefined)) : r(undefined)));
    await rm(this.config.controlSocket, { force: true });
    await Promise.all(this.vips.map((v) => v.queue));
    this.log.info({}, 'stopped; kernel rules left in place');
  }
}
