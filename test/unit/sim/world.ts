// A simulated cluster for membership scenarios without root, in the manner of memberlist's
// in-memory transport: one clock for the world, a clock per node that can be frozen (SIGSTOP),
// a network that can cut, lose, record and replay datagrams, and a model of each node's kernel
// bucket map with nft's element timeouts (a lease lapses at the world's time). The daemons are
// the real ones (src/daemon/daemon.ts); only what they are plugged into is simulated.
import type { Clock, TimerHandle } from '../../../src/daemon/clock.js';
import type { Transport } from '../../../src/daemon/transport.js';
import { type Dataplane, type Lease, leaseToWrite, type Ownership, type VipSpec, type VipState } from '../../../src/dataplane/types.js';

interface Timer {
  id: number;
  node: string;
  at: number;
  every?: number;
  fn: () => void;
}

export class World {
  now = 0;
  private seq = 0;
  private timers: Timer[] = [];
  private readonly frozen = new Map<string, { since: number; inbox: (() => void)[] }>();
  private readonly handlers = new Map<string, (p: Buffer, from: string) => void>();
  private readonly cuts = new Set<string>();
  private readonly loss = new Map<string, number>();
  private rand = 0x2545f491;
  /** Every datagram sent, for replay attacks. */
  readonly sent: { from: string; to: string; packet: Buffer; at: number }[] = [];
  readonly kernels = new Map<string, SimKernel>();
  /** Per node, how far its wall clock is off (a step). */
  readonly wallOffset = new Map<string, number>();

  clock(node: string): Clock {
    const add = (fn: () => void, ms: number, every?: number): TimerHandle => {
      const t: Timer = { id: ++this.seq, node, at: this.now + Math.max(0, ms), every, fn };
      this.timers.push(t);
      return { id: t.id };
    };
    return {
      now: () => this.now,
      wall: () => 1_700_000_000_000 + this.now + (this.wallOffset.get(node) ?? 0),
      setTimeout: (fn, ms) => add(fn, ms),
      setInterval: (fn, ms) => add(fn, ms, Math.max(1, ms)),
      clear: (h) => {
        if (h) this.timers = this.timers.filter((t) => t.id !== h.id);
      },
    };
  }

  transport(node: string): Transport {
    return {
      send: (packet, to) => this.deliver(node, to, packet),
      onPacket: (h) => {
        this.handlers.set(node, h);
      },
      close: () => {
        this.handlers.delete(node);
      },
    };
  }

  kernel(node: string): SimKernel {
    let k = this.kernels.get(node);
    if (!k) {
      k = new SimKernel(this, node);
      this.kernels.set(node, k);
    }
    return k;
  }

  /** The node's process dies (SIGKILL): its timers and socket go, its kernel stays. */
  kill(node: string): void {
    this.timers = this.timers.filter((t) => t.node !== node);
    this.handlers.delete(node);
    this.frozen.delete(node);
  }

  freeze(node: string): void {
    if (!this.frozen.has(node)) this.frozen.set(node, { since: this.now, inbox: [] });
  }

  /** SIGCONT: overdue timers run once (as Node's do after a stall), then the queued datagrams arrive. */
  thaw(node: string): void {
    const f = this.frozen.get(node);
    if (!f) return;
    this.frozen.delete(node);
    for (const t of this.timers) if (t.node === node && t.at < this.now) t.at = this.now;
    for (const deliver of f.inbox) deliver();
  }

  cut(a: string, b: string, oneWay = false): void {
    this.cuts.add(`${a}>${b}`);
    if (!oneWay) this.cuts.add(`${b}>${a}`);
  }
  isolate(a: string, all: readonly string[]): void {
    for (const b of all) if (b !== a) this.cut(a, b);
  }
  lossy(a: string, b: string, p: number): void {
    this.loss.set(`${a}>${b}`, p);
  }
  heal(): void {
    this.cuts.clear();
    this.loss.clear();
  }

  inject(from: string, to: string, packet: Buffer): void {
    this.deliver(from, to, packet, false);
  }

  private random(): number {
    this.rand ^= this.rand << 13;
    this.rand ^= this.rand >>> 17;
    this.rand ^= this.rand << 5;
    return ((this.rand >>> 0) % 1_000_000) / 1_000_000;
  }

  private deliver(from: string, to: string, packet: Buffer, record = true): void {
    if (record) this.sent.push({ from, to, packet: Buffer.from(packet), at: this.now });
    if (this.cuts.has(`${from}>${to}`)) return;
    const p = this.loss.get(`${from}>${to}`);
    if (p !== undefined && this.random() < p) return;
    const copy = Buffer.from(packet);
    const arrive = () => this.handlers.get(to)?.(copy, from);
    const f = this.frozen.get(to);
    if (f) f.inbox.push(arrive);
    else queueMicrotask(arrive);
  }

  /**
   * Runs the world for `ms`, timer by timer in time order, letting promises and setImmediate
   * callbacks settle after each; `sample` is called every `every` ms of world time.
   */
  async run(ms: number, sample?: (now: number) => void, every = 10): Promise<void> {
    const end = this.now + ms;
    let nextSample = this.now;
    for (let guard = 0; guard < 2_000_000; guard++) {
      const due = this.timers.filter((t) => t.at <= end && !this.frozen.has(t.node)).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      const at = due ? due.at : end;
      while (sample && nextSample <= at && nextSample <= end) {
        this.now = Math.max(this.now, nextSample);
        sample(this.now);
        nextSample += every;
      }
      if (!due) break;
      this.now = due.at;
      if (due.every) due.at += due.every;
      else this.timers = this.timers.filter((t) => t !== due);
      due.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

/** Lets queued microtasks, setImmediate callbacks and the promise chains they start run out. */
export async function settle(rounds = 6): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

type BucketState = keyof Ownership;

/** One node's kernel as the nft backend leaves it: per bucket, its chain and when its element expires. */
export class SimKernel {
  private readonly buckets = new Map<string, Map<number, { state: BucketState; expires: number }>>();
  /** Open connections per VIP and bucket on this node (what the drain accounting reads). */
  readonly flows = new Map<string, Map<number, number>>();
  applies = 0;
  renewals = 0;
  /**
   * How long each update takes to reach the kernel (ms of world time; 0: at once). The write lands
   * at the end, and a lease starts then, as nft's element timeouts start at the commit: a loaded
   * machine's 100 ms commits are what this models.
   */
  commitMs = 0;
  /** How long a read of the kernel takes (ms of world time): `nft list` spawned on a loaded machine. */
  readMs = 0;

  constructor(
    private readonly world: World,
    private readonly node: string,
  ) {}

  private async commit(): Promise<void> {
    if (this.commitMs > 0) await new Promise<void>((r) => this.world.clock(this.node).setTimeout(r, this.commitMs));
  }

  private write(vip: string, o: Ownership, lease?: Lease): void {
    const expires = lease ? this.world.now + lease.ms : Infinity;
    const m = new Map<number, { state: BucketState; expires: number }>();
    for (const state of ['owned', 'incoming', 'draining'] as const) for (const b of o[state]) m.set(b, { state, expires });
    this.buckets.set(vip, m);
  }

  /** The bucket's chain now, if its element has not lapsed. */
  state(vip: string, bucket: number): BucketState | undefined {
    const e = this.buckets.get(vip)?.get(bucket);
    return e && e.expires > this.world.now ? e.state : undefined;
  }

  /** Whether this node would answer a new connection in the bucket now. */
  takesNew(vip: string, bucket: number): boolean {
    const s = this.state(vip, bucket);
    return s === 'owned' || s === 'incoming';
  }

  dataplane(key: (s: VipSpec) => string): Dataplane {
    const read = (vip: VipSpec): Ownership => {
      const o: Ownership = { owned: [], incoming: [], draining: [] };
      for (const [b] of this.buckets.get(key(vip)) ?? []) {
        const s = this.state(key(vip), b);
        if (s) o[s].push(b);
      }
      for (const s of ['owned', 'incoming', 'draining'] as const) o[s].sort((a, b) => a - b);
      return o;
    };
    return {
      backend: 'nft',
      leases: true,
      apply: async (vip, o, lease) => {
        this.applies++;
        const written = leaseToWrite(lease);
        await this.commit();
        this.write(key(vip), o, written);
      },
      applyOwnership: async (vip, o, lease) => {
        this.applies++;
        const written = leaseToWrite(lease);
        await this.commit();
        this.write(key(vip), o, written);
        return true;
      },
      renew: async (vip, o, ms) => {
        this.renewals++;
        await this.commit();
        this.write(key(vip), o, { ms });
        return true;
      },
      read: async (vip): Promise<VipState> => {
        if (this.readMs > 0) await new Promise<void>((r) => this.world.clock(this.node).setTimeout(r, this.readMs));
        return { addressPresent: true, macJoined: true, ownership: read(vip), leased: true, buckets: vip.buckets };
      },
      remove: async (vip) => {
        this.buckets.delete(key(vip));
      },
    };
  }
}
