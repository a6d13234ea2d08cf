// The split-brain alarm (pure). Every node says in its heartbeats which buckets its kernel takes
// new connections in, as read from the kernel; a bucket two live nodes take at once is served
// twice (connection resets), whatever the views say: a hand edit, a stuck kernel update, another
// tool's rules. Heartbeats are snapshots from different moments: in a handover the old owner's
// kernel lets go before the new owner's takes, yet a receiver may still hold the old owner's
// earlier heartbeat when the new owner's arrives (its heartbeat to us lost or late). So an overlap
// is confirmed only once every node in it has sent a heartbeat of a later round still showing it
// (each round goes out in `copies` datagrams, each with its own sequence number).

export interface Duplicate {
  vip: string;
  bucket: number;
  /** The live nodes whose kernels take the bucket, sorted. */
  nodes: number[];
}

interface Taking {
  seq: number;
  buckets: Map<string, ReadonlySet<number>>;
}

const keyOf = (d: Duplicate) => `${d.vip}|${d.bucket}|${d.nodes.join(',')}`;

export class DuplicateWatch {
  private readonly latest = new Map<number, Taking>();
  /** Overlaps seen but not yet confirmed: the sequence number of each node's heartbeat that showed it first. */
  private readonly candidates = new Map<string, Map<number, number>>();
  private readonly confirmed = new Map<string, Duplicate>();
  /** How many overlaps were ever confirmed. */
  raisedTotal = 0;

  constructor(
    private readonly local: number,
    private readonly copies: number,
  ) {}

  /** A node's latest word on what its kernel takes (the local node's own reading: any sequence, always fresh). */
  observe(node: number, seq: number, taking: Record<string, Iterable<number>>): void {
    const prev = this.latest.get(node);
    if (prev && node !== this.local && seq <= prev.seq) return;
    this.latest.set(node, { seq, buckets: new Map(Object.entries(taking).map(([vip, b]) => [vip, new Set(b)])) });
  }

  /** Compares the live nodes' latest words: what became a confirmed duplicate, and what stopped being one. */
  evaluate(live: readonly number[]): { raised: Duplicate[]; cleared: Duplicate[] } {
    const now = new Map<string, Duplicate>();
    for (const d of this.overlaps(live)) now.set(keyOf(d), d);
    const raised: Duplicate[] = [];
    for (const [key, d] of now) {
      if (this.confirmed.has(key)) continue;
      const first = this.candidates.get(key);
      const seqs = new Map(d.nodes.map((n) => [n, this.latest.get(n)!.seq]));
      if (!first) this.candidates.set(key, seqs);
      else if (d.nodes.every((n) => n === this.local || seqs.get(n)! >= first.get(n)! + this.copies)) {
        this.candidates.delete(key);
        this.confirmed.set(key, d);
        this.raisedTotal++;
        raised.push(d);
      }
    }
    for (const key of this.candidates.keys()) if (!now.has(key)) this.candidates.delete(key);
    const cleared = [...this.confirmed].filter(([key]) => !now.has(key)).map(([key, d]) => (this.confirmed.delete(key), d));
    return { raised, cleared };
  }

  /** The confirmed duplicates now, by VIP and bucket. */
  current(): Duplicate[] {
    return [...this.confirmed.values()].sort((a, b) => (a.vip < b.vip ? -1 : a.vip > b.vip ? 1 : a.bucket - b.bucket));
  }

  private overlaps(live: readonly number[]): Duplicate[] {
    const takers = new Map<string, Map<number, number[]>>();
    for (const node of [...live].sort((a, b) => a - b)) {
      for (const [vip, buckets] of this.latest.get(node)?.buckets ?? []) {
        const byBucket = takers.get(vip) ?? takers.set(vip, new Map()).get(vip)!;
        for (const b of buckets) byBucket.set(b, [...(byBucket.get(b) ?? []), node]);
      }
    }
    return [...takers].flatMap(([vip, byBucket]) => [...byBucket].filter(([, nodes]) => nodes.length > 1).map(([bucket, nodes]) => ({ vip, bucket, nodes })));
  }
}
