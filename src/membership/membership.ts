// Who is alive: the pure core of the embedded membership. It is handed decoded heartbeats and
// the time; it answers with views. It knows nothing of sockets or clocks of its own.
//
// A peer is live while some evidence of it is younger than the deadtime: its own heartbeat, or
// another peer's word that it heard it (hearsay, with the age of that hearing). With three or more
// nodes a lossy path between two of them is then no failover, and the survivors of a real death
// still see it at the same moment, since hearsay carries the time of the last hearing, not of
// the relay. A peer whose latest evidence says it is pausing (a daemon restart whose kernel rules
// keep serving) stays live for the restart grace instead.
import type { Member } from '../assignment/assign.js';
import { agree, agreedMembers, type ClusterFacts } from './agreement.js';
import { trackedWeight, type TrackVerdict } from '../track/state.js';
import type { Hearsay, Heartbeat, WeightSetting } from './wire.js';

/** A weight setting stamped further than this ahead of the local wall clock is ignored (a hostile or broken stamp must not block every later setting). */
export const MAX_STAMP_AHEAD_MS = 24 * 3600_000;

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
  /**
   * This daemon's incarnation. When given, a peer's heartbeats count as evidence only once one of
   * them shows it has heard this incarnation: recorded heartbeats replayed to a daemon that has
   * just restarted (and so remembers no sequence numbers) fake nothing.
   */
  incarnation?: number;
  /** What decides owners here (agreement.ts); peers' facts arrive in their heartbeats. */
  facts?: ClusterFacts;
}

export interface View {
  /** Increases by one at every change of the live set, the quorum or a weight. */
  epoch: number;
  /** Live node ids, sorted; always includes the local node. */
  live: number[];
  quorate: boolean;
  /** Every configured node with its current weight (configured, or as set at run time). */
  members: Member[];
  /** The configured weights the live nodes agree on (agreement.ts): what home buckets are dealt by. */
  home?: Member[];
  /** Per VIP, live nodes left out because their parameters for it differ from the agreed ones. */
  excluded?: Record<string, number[]>;
  /** Live nodes whose facts differ from the agreed ones. */
  dissenters?: number[];
}

/** What decides the owners of a view, as a string: nodes that agree on it compute the same owners. */
export const viewKey = (v: Pick<View, 'live' | 'members' | 'quorate' | 'home' | 'excluded'>): string =>
  `${v.quorate ? 'q' : 'nq'}/${v.live.join(',')}/${v.members.map((m) => `${m.id}:${m.weight}`).join(',')}` +
  (v.home ? `/h${v.home.map((m) => `${m.id}:${m.weight}`).join(',')}` : '') +
  (v.excluded && Object.keys(v.excluded).length ? `/x${JSON.stringify(Object.entries(v.excluded).sort())}` : '');

export interface Counters {
  accepted: number;
  replayed: number;
  forged: number;
  truncated: number;
  malformed: number;
  unknownSender: number;
  wrongCluster: number;
  /** Heartbeats of a peer that has not yet shown it heard this incarnation (not evidence yet). */
  unconfirmed: number;
  /** Weight settings refused for a stamp too far ahead. */
  futureStamps: number;
}

interface Peer {
  incarnation: number;
  seq: number;
  heardAt: number;
  last: Heartbeat;
  /** Has this incarnation of the peer shown it heard ours (see MembershipOptions.incarnation)? */
  fresh: boolean;
  /** The latest of our sequence numbers the peer says it heard (this incarnation of ours). */
  ourSeq?: number;
  /** Its recent heartbeats' (own seq, our seq it had heard by then), oldest first: what it relayed of us. */
  relayed: { seq: number; ourSeq: number }[];
}

/** How many of a peer's recent heartbeats are remembered for relays (a few seconds' worth). */
const RELAY_MEMORY = 64;

interface Evidence {
  at: number;
  paused: boolean;
  /** The peer said it is going away (its rules are gone): dead at once. */
  leaving?: boolean;
}

export type Verdict = 'accepted' | 'replayed' | 'unknown-sender';

/** Whether setting `a` supersedes `b`. */
const newer = (a: WeightSetting, b: WeightSetting | undefined) => !b || a.stamp > b.stamp || (a.stamp === b.stamp && a.by > b.by);

export class Membership {
  /** Heartbeats heard directly, per peer. */
  private readonly peers = new Map<number, Peer>();
  /** The latest evidence of each peer, direct or by hearsay. */
  private readonly evidence = new Map<number, Evidence>();
  private readonly settings = new Map<number, WeightSetting>();
  private lastStamp = 0;
  /** This node's tracked services (their peers' come in their heartbeats). */
  localTrack?: TrackVerdict;
  private opts: MembershipOptions;
  private current: View;
  readonly counters: Counters = {
    accepted: 0,
    replayed: 0,
    forged: 0,
    truncated: 0,
    malformed: 0,
    unknownSender: 0,
    wrongCluster: 0,
    unconfirmed: 0,
    futureStamps: 0,
  };

  constructor(opts: MembershipOptions) {
    if (!opts.nodes.some((n) => n.id === opts.local)) throw new Error(`local node ${opts.local} is not configured`);
    this.opts = opts;
    this.current = this.compute(0, 0);
  }

  /**
   * New timing or configured weights (a configuration reload); takes effect at the next tick.
   * The node set and the local node cannot change while running.
   */
  reconfigure(opts: Pick<MembershipOptions, 'nodes' | 'deadtimeMs' | 'restartGraceMs' | 'quorum' | 'facts'>): void {
    const ids = (nodes: readonly Member[]) =>
      nodes
        .map((n) => n.id)
        .sort((a, b) => a - b)
        .join();
    if (ids(opts.nodes) !== ids(this.opts.nodes)) throw new Error('the set of nodes cannot change while running');
    this.opts = { ...this.opts, ...opts };
  }

  /** Records a reason a packet was refused before it became a heartbeat (wire.ts decides). */
  refused(reason: 'truncated' | 'bad-magic' | 'bad-mac' | 'malformed' | 'wrong-cluster'): void {
    if (reason === 'bad-mac' || reason === 'bad-magic') this.counters.forged++;
    else if (reason === 'truncated') this.counters.truncated++;
    else if (reason === 'malformed') this.counters.malformed++;
    else this.counters.wrongCluster++;
  }

  private configured(id: number): boolean {
    return this.opts.nodes.some((n) => n.id === id);
  }

  /**
   * An authenticated heartbeat: accepted only if it is newer than anything heard from its sender.
   * `wall` (the local wall clock) bounds the stamps of weight settings it may carry.
   */
  receive(hb: Heartbeat, now: number, wall?: number): Verdict {
    if (hb.from === this.opts.local || !this.configured(hb.from)) {
      this.counters.unknownSender++;
      return 'unknown-sender';
    }
    const known = this.peers.get(hb.from);
    if (known && (hb.incarnation < known.incarnation || (hb.incarnation === known.incarnation && hb.seq <= known.seq))) {
      this.counters.replayed++;
      return 'replayed';
    }
    const mine = hb.heard.find((h) => h.node === this.opts.local);
    const echoes = this.opts.incarnation === undefined || mine?.inc === this.opts.incarnation;
    const same = known?.incarnation === hb.incarnation;
    const fresh = (same && known.fresh) || echoes;
    const ourSeq = mine && echoes && mine.seq !== undefined ? mine.seq : same ? known.ourSeq : undefined;
    const relayed = same ? known.relayed : [];
    if (ourSeq !== undefined) {
      relayed.push({ seq: hb.seq, ourSeq });
      if (relayed.length > RELAY_MEMORY) relayed.shift();
    }
    this.peers.set(hb.from, { incarnation: hb.incarnation, seq: hb.seq, heardAt: now, last: hb, fresh, ourSeq, relayed });
    this.counters.accepted++;
    if (!fresh) {
      this.counters.unconfirmed++;
      return 'accepted';
    }
    this.witness(hb.from, { at: now, paused: hb.paused === true, leaving: hb.leaving === true });
    for (const h of hb.heard) {
      if (h.node !== this.opts.local && this.configured(h.node)) this.witness(h.node, { at: now - h.ageMs, paused: h.paused }, true);
    }
    for (const s of hb.weights) {
      if (!this.configured(s.node)) continue;
      if (wall !== undefined && s.stamp > wall + MAX_STAMP_AHEAD_MS) {
        this.counters.futureStamps++;
        continue;
      }
      this.adopt(s);
    }
    return 'accepted';
  }

  /**
   * For each live peer, the latest of this node's heartbeats (by sequence number) it is known to
   * have had news of: what bounds how long this node may keep serving (lease.ts), since the peer
   * declares us dead a deadtime after its latest news, which is no older than the sending of that
   * heartbeat. Its own echo counts, and so does a relay's: if the peer heard Q's heartbeat k, and
   * Q had heard our heartbeat m when it sent k, Q's hearsay told the peer of m. Undefined for a
   * live peer that has not shown it heard us at all.
   */
  confirmedSeqs(now: number): Map<number, number | undefined> {
    // Only peers heard directly and running: a peer that is pausing (a restart) judges nobody,
    // and one heard only by hearsay is told of us by the same relays that tell us of it.
    const live = [...this.peers].filter(([id, p]) => p.fresh && this.isLive(id, now) && !p.last.paused && now - p.heardAt <= this.opts.deadtimeMs);
    const out = new Map<number, number | undefined>();
    for (const [id, p] of live) {
      let best = p.ourSeq;
      for (const [q, relay] of live) {
        const heardQ = q === id ? undefined : p.last.heard.find((h) => h.node === q && h.inc === relay.incarnation);
        if (heardQ?.seq === undefined) continue;
        for (let i = relay.relayed.length - 1; i >= 0; i--) {
          if (relay.relayed[i].seq <= heardQ.seq) {
            best = Math.max(best ?? -Infinity, relay.relayed[i].ourSeq);
            break;
          }
        }
      }
      out.set(id, best);
    }
    return out;
  }

  private witness(id: number, e: Evidence, hearsay = false): void {
    const had = this.evidence.get(id);
    // Only the peer itself ends its leaving (a new daemon's heartbeat); hearsay may be a late echo.
    if (had?.leaving && hearsay) return;
    // At the same moment the peer's own latest word wins (a pause right after a heartbeat); hearsay never un-pauses.
    if (!had || e.at > had.at || (e.at === had.at && (!hearsay || !e.paused))) this.evidence.set(id, e);
  }

  private adopt(s: WeightSetting): void {
    if (newer(s, this.settings.get(s.node))) this.settings.set(s.node, { ...s });
    this.lastStamp = Math.max(this.lastStamp, s.stamp);
  }

  private isLive(id: number, now: number): boolean {
    const e = this.evidence.get(id);
    return !!e && !e.leaving && now - e.at <= (e.paused ? (this.opts.restartGraceMs ?? this.opts.deadtimeMs) : this.opts.deadtimeMs);
  }

  /** The latest heartbeat heard directly from a peer that is live (by any evidence). */
  lastHeartbeat(id: number, now: number): Heartbeat | undefined {
    return this.isLive(id, now) ? this.peers.get(id)?.last : undefined;
  }

  /**
   * The same, only if heard within the last deadtime (and from an incarnation that has heard us):
   * what a peer holds is to be believed only from a heartbeat this recent — one from before a
   * partition says nothing of what it took over since.
   */
  recentHeartbeat(id: number, now: number): Heartbeat | undefined {
    const p = this.peers.get(id);
    return p?.fresh && this.isLive(id, now) && now - p.heardAt <= this.opts.deadtimeMs ? p.last : undefined;
  }

  /** What this node tells the others it hears directly (hearsay is never passed on). */
  hearsay(now: number): Hearsay[] {
    const horizon = Math.max(this.opts.deadtimeMs, this.opts.restartGraceMs ?? 0);
    return [...this.peers]
      .filter(([, p]) => now - p.heardAt <= horizon && !p.last.leaving)
      .map(([node, p]) => ({ node, ageMs: Math.max(0, Math.round(now - p.heardAt)), paused: p.last.paused === true, inc: p.incarnation, seq: p.seq }));
  }

  /**
   * Sets a node's weight at run time (`null`: back to the configured one); it reaches every
   * node through the heartbeats and wins over any earlier setting.
   */
  setWeight(node: number, weight: number | null, now: number): WeightSetting {
    if (!this.configured(node)) throw new Error(`node ${node} is not configured`);
    const s: WeightSetting = { node, weight, stamp: Math.max(Math.round(now), this.lastStamp + 1), by: this.opts.local };
    this.adopt(s);
    return s;
  }

  weightSettings(): WeightSetting[] {
    return [...this.settings.values()];
  }

  /** A node's weight in views: as configured or set, less what its failing tracked services take off. */
  private viewWeight(id: number, weight: number): number {
    return trackedWeight(weight, id === this.opts.local ? this.localTrack : this.peers.get(id)?.last.track);
  }

  weightOf(id: number): number {
    const s = this.settings.get(id);
    return s && s.weight !== null ? s.weight : (this.opts.nodes.find((n) => n.id === id)?.weight ?? 0);
  }

  view(): View {
    return this.current;
  }

  /** Re-evaluates liveness at `now`; returns the new view if anything changed. */
  tick(now: number): View | undefined {
    const next = this.compute(this.current.epoch, now);
    const same = viewKey(next) === viewKey(this.current) && (next.dissenters ?? []).join() === (this.current.dissenters ?? []).join();
    if (same) return undefined;
    next.epoch = this.current.epoch + 1;
    this.current = next;
    return next;
  }

  private compute(epoch: number, now: number): View {
    const live = this.opts.nodes
      .filter((n) => n.id === this.opts.local || this.isLive(n.id, now))
      .map((n) => n.id)
      .sort((a, b) => a - b);
    const quorate = this.opts.quorum === 'ignore' || live.length * 2 > this.opts.nodes.length;
    if (!this.opts.facts) {
      const members = this.opts.nodes.map((n) => ({ id: n.id, weight: this.viewWeight(n.id, this.weightOf(n.id)) }));
      return { epoch, live, quorate, members };
    }
    const byNode = new Map<number, ClusterFacts>([[this.opts.local, this.opts.facts]]);
    for (const id of live) {
      const f = this.peers.get(id)?.last.facts;
      if (f && id !== this.opts.local) byNode.set(id, f);
    }
    const agreement = agree(live, byNode, this.opts.local);
    const ids = this.opts.nodes.map((n) => n.id);
    const home = agreedMembers(agreement, ids);
    const members = home.map((m) => {
      const s = this.settings.get(m.id);
      return { id: m.id, weight: this.viewWeight(m.id, s && s.weight !== null ? s.weight : m.weight) };
    });
    return { epoch, live, quorate, members, home, excluded: agreement.excluded, dissenters: agreement.dissenters };
  }
}
