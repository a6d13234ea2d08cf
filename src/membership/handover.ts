// This node's buckets of one VIP across view changes, including handovers without resets.
// Pure: it is told views, peers' heartbeats, which draining buckets have run out of flows, and
// the time; it answers with the Ownership the dataplane must carry.
//
// - takeover (the old owner is dead, or we lost quorum): immediate.
// - handover (both owners alive): the old owner keeps the bucket as `draining` (its existing
//   connections go on, new ones are refused) until its flows in it end or the drain timeout
//   passes; the new owner holds it as `incoming` (new connections and its own only) until the
//   old owner's heartbeats, sent from the same view, no longer list it as draining.
import { assign, type Owners, type Strategy } from '../assignment/assign.js';
import type { Ownership } from '../dataplane/types.js';
import type { View } from './membership.js';
import type { Heartbeat } from './wire.js';

export interface HandoverOptions {
  local: number;
  buckets: number;
  /** The VIP's key in heartbeats' `draining` maps. */
  vip: string;
  drainTimeoutMs: number;
  strategy?: Strategy;
}

export interface OwnershipChange {
  gained: number[];
  lost: number[];
  drainingStarted: number[];
  drainingEnded: number[];
  promoted: number[];
}

const sameLive = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class BucketKeeper {
  private owners: Owners;
  private live: number[] = [];
  /** bucket → deadline (ms) */
  private readonly draining = new Map<number, number>();
  /** bucket → the live node it comes from */
  private readonly incoming = new Map<number, number>();

  constructor(private readonly opts: HandoverOptions) {
    this.owners = new Array(opts.buckets).fill(0);
  }

  /** Owners of every bucket in the current view (0 = nobody). */
  get currentOwners(): Owners {
    return this.owners;
  }

  /**
   * A new view. `previous` may override who owned the buckets before (at start-up: what the
   * peers have been doing without us); by default it is the previous view's owners.
   */
  onView(view: View, now: number, previous?: Owners): OwnershipChange {
    const { local } = this.opts;
    const before = previous ?? this.owners;
    const after = view.quorate ? assign(view.members, new Set(view.live), this.opts.buckets, this.opts.strategy) : new Array(this.opts.buckets).fill(0);
    const change: OwnershipChange = { gained: [], lost: [], drainingStarted: [], drainingEnded: [], promoted: [] };
    const live = new Set(view.live);
    for (let i = 0; i < after.length; i++) {
      const b = i + 1;
      const was = before[i];
      const now_ = after[i];
      if (now_ === local) {
        if (this.draining.delete(b)) change.drainingEnded.push(b);
        if (was !== local) {
          change.gained.push(b);
          if (was !== 0 && live.has(was)) this.incoming.set(b, was);
        }
        // The node we were taking it from has died: nobody else serves it any more.
        const from = this.incoming.get(b);
        if (from !== undefined && !live.has(from)) { this.incoming.delete(b); change.promoted.push(b); }
      } else {
        this.incoming.delete(b);
        if (was === local) {
          change.lost.push(b);
          if (now_ !== 0 && live.has(now_) && view.quorate) { this.draining.set(b, now + this.opts.drainTimeoutMs); change.drainingStarted.push(b); }
        } else if (this.draining.has(b) && (now_ === 0 || !live.has(now_) || !view.quorate)) {
          // Nobody to hand over to any more (lost quorum, or the new owner died): let go at once.
          this.draining.delete(b);
          change.drainingEnded.push(b);
        }
      }
    }
    this.owners = after;
    this.live = view.live;
    return change;
  }

  /** A peer's heartbeat: promotes incoming buckets it no longer drains (from the same view). */
  onHeartbeat(hb: Heartbeat): number[] {
    if (!sameLive(hb.live, this.live)) return [];
    const stillDraining = new Set(hb.draining[this.opts.vip] ?? []);
    const promoted: number[] = [];
    for (const [b, from] of this.incoming) {
      if (from === hb.from && !stillDraining.has(b)) { this.incoming.delete(b); promoted.push(b); }
    }
    return promoted;
  }

  /** Ends draining for buckets without flows left, and for those past their deadline. */
  settleDraining(now: number, emptied: ReadonlySet<number>): number[] {
    const ended: number[] = [];
    for (const [b, deadline] of this.draining) {
      if (emptied.has(b) || now >= deadline) { this.draining.delete(b); ended.push(b); }
    }
    return ended;
  }

  drainingBuckets(): number[] {
    return [...this.draining.keys()].sort((a, b) => a - b);
  }

  ownership(): Ownership {
    const owned: number[] = [];
    const incoming: number[] = [];
    this.owners.forEach((id, i) => {
      if (id !== this.opts.local) return;
      (this.incoming.has(i + 1) ? incoming : owned).push(i + 1);
    });
    return { owned, incoming, draining: this.drainingBuckets() };
  }
}
