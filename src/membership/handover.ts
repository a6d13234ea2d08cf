// This node's buckets of one VIP across view changes, including handovers without resets.
// Pure: it is told views, peers' heartbeats, which draining buckets have run out of flows, and
// the time; it answers with the Ownership the dataplane must carry.
//
// - takeover (the old owner is dead, or we lost quorum): immediate.
// - handover (both owners alive): the old owner keeps the bucket as `draining` (its existing
//   connections go on, new ones are refused) until its flows in it end or the drain timeout
//   passes. The new owner first holds it *pending* (served like draining: nothing new is taken
//   while the old owner may still take new connections, so a SYN is never answered twice), then,
//   once the old owner's heartbeat from the same view lists it as draining, as `incoming` (new
//   connections and its own only), and owns it fully once the old owner no longer lists it.
import { assign, type Member, type Owners, type Strategy } from '../assignment/assign.js';
import type { Ownership } from '../dataplane/types.js';
import { viewKey, type View } from './membership.js';
import { bucketsOfBitmap, type Heartbeat } from './wire.js';

export interface HandoverOptions {
  local: number;
  /** The configured nodes and weights (their home buckets). */
  nodes: readonly Member[];
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

/**
 * Owners of every bucket in a view. A drained node (weight 0) is left out like a dead one but
 * keeps its configured weight for its home buckets: draining it moves only its own buckets,
 * evenly, and taking its share back moves only those back. Without quorum nobody owns anything.
 * Home weights are the ones the live nodes agree on (the view's `home`, else `nodes`); nodes the
 * view leaves out of `vip` (their parameters for it differ) own none of its buckets.
 */
export function ownersOfView(view: View, nodes: readonly Member[], buckets: number, strategy?: Strategy, vip?: string): Owners {
  if (!view.quorate) return new Array(buckets).fill(0);
  const weight = (id: number) => view.members.find((m) => m.id === id)?.weight ?? 0;
  const out = new Set(vip !== undefined ? (view.excluded?.[vip] ?? []) : []);
  const home = (view.home ?? nodes).map((n) => ({ id: n.id, weight: weight(n.id) > 0 ? weight(n.id) : n.weight }));
  return assign(home, new Set(view.live.filter((id) => weight(id) > 0 && !out.has(id))), buckets, strategy);
}

export class BucketKeeper {
  private owners: Owners;
  private view = '';
  /** bucket → deadline (ms) */
  private readonly draining = new Map<number, number>();
  /** bucket → the live node it comes from, and whether that node has been seen draining it */
  private readonly incoming = new Map<number, { from: number; confirmed: boolean }>();

  constructor(private opts: HandoverOptions) {
    this.owners = new Array(opts.buckets).fill(0);
  }

  /** New configured weights or drain timeout (a configuration reload): used from the next view on. */
  reconfigure(o: Pick<HandoverOptions, 'nodes' | 'drainTimeoutMs'>): void {
    this.opts = { ...this.opts, ...o };
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
    const after = ownersOfView(view, this.opts.nodes, this.opts.buckets, this.opts.strategy, this.opts.vip);
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
          if (was !== 0 && live.has(was)) this.incoming.set(b, { from: was, confirmed: false });
        }
        // The node we were taking it from has died: nobody else serves it any more.
        const from = this.incoming.get(b)?.from;
        if (from !== undefined && !live.has(from)) {
          this.incoming.delete(b);
          change.promoted.push(b);
        }
      } else {
        this.incoming.delete(b);
        if (was === local) {
          change.lost.push(b);
          if (now_ !== 0 && live.has(now_) && view.quorate) {
            this.draining.set(b, now + this.opts.drainTimeoutMs);
            change.drainingStarted.push(b);
          }
        } else if (this.draining.has(b) && (now_ === 0 || !live.has(now_) || !view.quorate)) {
          // Nobody to hand over to any more (lost quorum, or the new owner died): let go at once.
          this.draining.delete(b);
          change.drainingEnded.push(b);
        }
      }
    }
    this.owners = after;
    this.view = viewKey(view);
    return change;
  }

  /**
   * A peer's heartbeat, sent from the same view: buckets it drains become incoming here (new
   * connections welcome); buckets it no longer holds at all become fully owned; buckets it holds
   * but does not yet drain (its kernel update is still on its way) stay pending. Returns the
   * buckets whose state changed.
   */
  onHeartbeat(hb: Heartbeat): number[] {
    const changed: number[] = [];
    if (hb.view !== this.view) {
      // From another view the old owner's word on draining means nothing here, but a bucket it
      // says it holds no connection in at all (it has joined and announces what it holds), while
      // it has us live (so it is not about to take our buckets over), is served by nobody: ours
      // outright, or it would stay unserved while views settle.
      const held = hb.holding[this.opts.vip];
      if (held === undefined || !hb.live.includes(this.opts.local)) return [];
      const holds = bucketsOfBitmap(held);
      for (const [b, state] of this.incoming) {
        if (state.from === hb.from && !holds.has(b)) {
          this.incoming.delete(b);
          changed.push(b);
        }
      }
      return changed;
    }
    // `holding` lists what its kernel still has in any state; a peer without one (not joined, or
    // older) is taken at its word on draining alone.
    const draining = new Set(hb.draining[this.opts.vip] ?? []);
    const held = hb.holding[this.opts.vip];
    const holds = held === undefined ? draining : bucketsOfBitmap(held);
    for (const [b, state] of this.incoming) {
      if (state.from !== hb.from) continue;
      if (!holds.has(b)) {
        this.incoming.delete(b);
        changed.push(b);
      } else if (draining.has(b) && !state.confirmed) {
        state.confirmed = true;
        changed.push(b);
      }
    }
    return changed;
  }

  /** Ends draining for buckets without flows left, and for those past their deadline. */
  settleDraining(now: number, emptied: ReadonlySet<number>): number[] {
    const ended: number[] = [];
    for (const [b, deadline] of this.draining) {
      if (emptied.has(b) || now >= deadline) {
        this.draining.delete(b);
        ended.push(b);
      }
    }
    return ended;
  }

  /**
   * Buckets this node's kernel still drains (a previous run of this daemon was handing them over):
   * they keep draining — their connections carry on — unless this node owns them in the view.
   * Draining takes no new connection, so this can never make a second owner.
   */
  keepDraining(buckets: Iterable<number>, now: number): number[] {
    const kept: number[] = [];
    for (const b of buckets) {
      if (this.owners[b - 1] === this.opts.local || this.draining.has(b)) continue;
      this.draining.set(b, now + this.opts.drainTimeoutMs);
      kept.push(b);
    }
    return kept;
  }

  drainingBuckets(): number[] {
    return [...this.draining.keys()].sort((a, b) => a - b);
  }

  ownership(): Ownership {
    const owned: number[] = [];
    const incoming: number[] = [];
    const draining = this.drainingBuckets();
    this.owners.forEach((id, i) => {
      if (id !== this.opts.local) return;
      const state = this.incoming.get(i + 1);
      if (!state) owned.push(i + 1);
      else if (state.confirmed) incoming.push(i + 1);
      else draining.push(i + 1); // pending: keep only what is ours already
    });
    return { owned, incoming, draining: draining.sort((a, b) => a - b) };
  }
}
