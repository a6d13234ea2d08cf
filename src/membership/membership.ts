// Who is alive: the pure core of the embedded membership. It is handed decoded heartbeats and
// the time; it answers with views. It knows nothing of sockets or clocks of its own.
import type { Member } from '../assignment/assign.js';
import type { Heartbeat } from './wire.js';

export type Quorum = 'majority' | 'ignore';

export interface MembershipOptions {
  cluster: string;
  local: number;
  /** Configured nodes with their configured weights. */
  nodes: readonly Member[];
  deadtimeMs: number;
  /** How long a peer that announced a pause (a daemon restart) stays live without heartbeats. */
  restartGraceMs?: number;
  quorum: Quorum;
}

export interface View {
  /** Increases by one at every change of the live set, the quorum or a weight. */
  epoch: number;
  /** Live node ids, sorted; always includes the local node. */
  live: number[];
  quorate: boolean;
  /** Every configured node with its current weight (announced by live peers). */
  members: Member[];
}

export interface Counters {
  accepted: number;
  replayed: number;
  forged: number;
  truncated: number;
  malformed: number;
  unknownSender: number;
  wrongCluster: number;
}

interface Peer {
  incarnation: number;
  seq: number;
  heardAt: number;
  last: Heartbeat;
}

export type Verdict = 'accepted' | 'replayed' | 'unknown-sender';

export class Membership {
  private readonly peers = new Map<number, Peer>();
  private current: View;
  private localWeight: number;
  readonly counters: Counters = { accepted: 0, replayed: 0, forged: 0, truncated: 0, malformed: 0, unknownSender: 0, wrongCluster: 0 };

  constructor(private readonly opts: MembershipOptions) {
    if (!opts.nodes.some((n) => n.id === opts.local)) throw new Error(`local node ${opts.local} is not configured`);
    this.localWeight = opts.nodes.find((n) => n.id === opts.local)!.weight;
    this.current = this.compute(0, 0);
  }

  /** Records a reason a packet was refused before it became a heartbeat (wire.ts decides). */
  refused(reason: 'truncated' | 'bad-magic' | 'bad-mac' | 'malformed' | 'wrong-cluster'): void {
    if (reason === 'bad-mac' || reason === 'bad-magic') this.counters.forged++;
    else if (reason === 'truncated') this.counters.truncated++;
    else if (reason === 'malformed') this.counters.malformed++;
    else this.counters.wrongCluster++;
  }

  /** An authenticated heartbeat: accepted only if it is newer than anything heard from its sender. */
  receive(hb: Heartbeat, now: number): Verdict {
    if (hb.from === this.opts.local || !this.opts.nodes.some((n) => n.id === hb.from)) {
      this.counters.unknownSender++;
      return 'unknown-sender';
    }
    const known = this.peers.get(hb.from);
    if (known && (hb.incarnation < known.incarnation || (hb.incarnation === known.incarnation && hb.seq <= known.seq))) {
      this.counters.replayed++;
      return 'replayed';
    }
    this.peers.set(hb.from, { incarnation: hb.incarnation, seq: hb.seq, heardAt: now, last: hb });
    this.counters.accepted++;
    return 'accepted';
  }

  private isLive(p: Peer | undefined, now: number): p is Peer {
    return !!p && now - p.heardAt <= (p.last.paused ? this.opts.restartGraceMs ?? this.opts.deadtimeMs : this.opts.deadtimeMs);
  }

  /** The latest heartbeat of a live peer. */
  lastHeartbeat(id: number, now: number): Heartbeat | undefined {
    const p = this.peers.get(id);
    return this.isLive(p, now) ? p.last : undefined;
  }

  setLocalWeight(weight: number): void {
    this.localWeight = weight;
  }

  get localWeightNow(): number {
    return this.localWeight;
  }

  view(): View {
    return this.current;
  }

  /** Re-evaluates liveness at `now`; returns the new view if anything changed. */
  tick(now: number): View | undefined {
    const next = this.compute(this.current.epoch, now);
    const same = next.quorate === this.current.quorate && next.live.join() === this.current.live.join()
      && next.members.every((m, i) => m.weight === this.current.members[i].weight);
    if (same) return undefined;
    next.epoch = this.current.epoch + 1;
    this.current = next;
    return next;
  }

  private compute(epoch: number, now: number): View {
    const live = this.opts.nodes
      .filter((n) => n.id === this.opts.local || this.isLive(this.peers.get(n.id), now))
      .map((n) => n.id)
      .sort((a, b) => a - b);
    const members = this.opts.nodes.map((n) => ({
      id: n.id,
      weight: n.id === this.opts.local ? this.localWeight : live.includes(n.id) ? this.peers.get(n.id)!.last.weight : n.weight,
    }));
    const quorate = this.opts.quorum === 'ignore' || live.length * 2 > this.opts.nodes.length;
    return { epoch, live, quorate, members };
  }
}
