// The last ownership changes of this node, for the status page: when, which VIP, how many buckets
// came and went, and how long the kernel took to serve what came (from the change to the first
// kernel update carrying all of it). A small ring: the oldest falls out.
import type { AppliedUpdate } from '../daemon/deps.js';

export interface OwnershipChangeEntry {
  /** Wall time of the change (ISO 8601). */
  at: string;
  vip: string;
  gained: number;
  lost: number;
  /** Buckets this node owns after it. */
  owned: number;
  /** From the change to the kernel serving every gained bucket (null: not yet, or nothing gained). */
  takeoverMs: number | null;
  /** From the change to the first successful kernel update after it (null: none yet). */
  appliedMs: number | null;
}

interface Pending {
  entry: OwnershipChangeEntry;
  since: number;
  gained: number[];
}

export class RecentChanges {
  private readonly ring: Pending[] = [];

  constructor(
    private readonly now: () => number,
    private readonly wall: () => number = Date.now,
    readonly size = 20,
  ) {}

  changed(vip: string, change: { gained: number[]; lost: number[]; owned: number }): void {
    const entry: OwnershipChangeEntry = {
      at: new Date(this.wall()).toISOString(),
      vip,
      gained: change.gained.length,
      lost: change.lost.length,
      owned: change.owned,
      takeoverMs: null,
      appliedMs: null,
    };
    this.ring.push({ entry, since: this.now(), gained: [...change.gained] });
    if (this.ring.length > this.size) this.ring.shift();
  }

  applied(vip: string, u: AppliedUpdate): void {
    if (!u.ok) return;
    const served = new Set([...u.ownership.owned, ...u.ownership.incoming]);
    for (const p of this.ring) {
      if (p.entry.vip !== vip || u.at < p.since) continue;
      const ms = Math.max(0, Math.round((u.at - p.since) * 10) / 10);
      p.entry.appliedMs ??= ms;
      if (p.entry.takeoverMs === null && p.gained.length && p.gained.every((b) => served.has(b))) p.entry.takeoverMs = ms;
    }
  }

  /** Newest first. */
  list(): OwnershipChangeEntry[] {
    return this.ring.map((p) => ({ ...p.entry })).reverse();
  }
}
