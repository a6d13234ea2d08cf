// When the director's checks run: rounds every checkinterval, each spread over most of the
// interval, a bounded number in flight, a real never checked twice at once; and when the table
// is brought in line: once per batch of state changes, at once for a change in a paced round.
import type { Logger } from '../log.js';

/** A scheduled round spreads its checks over this share of checkinterval. */
const SPREAD = 0.8;
/** The pacer starts checks in batches at most this often (one timer wake per batch). */
const PACE_MS = 4;

export interface PacerHooks<J> {
  concurrency: number;
  /** The checks of one round, in order (a job's place gives its slot). */
  jobs(): J[];
  /** The job's identity: one check per key at a time. */
  key(job: J): string;
  /** Runs one check; true when the real went up or down. */
  run(job: J): Promise<boolean>;
  /** Brings the table in line (one pass, reading the live table). */
  settle(): Promise<void>;
  /** After every check of a round is back (count, fallbackcommand, table). */
  endRound(): Promise<void>;
  /** checkinterval, ms. */
  interval(): number;
  log: Logger;
}

export class Pacer<J> {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private inFlight = 0;
  private readonly running = new Set<string>();
  /** Bumped when a real goes up or down; the table is settled when `settledGen` catches up. */
  private stateGen = 0;
  private settledGen = 0;
  private settling?: Promise<void>;
  /** Checks completed, over all rounds. */
  checks = 0;

  constructor(private readonly h: PacerHooks<J>) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /**
   * Rounds start every checkinterval (ldirectord sleeps checkinterval *after* each round, so its
   * period grows with the time its sequential checks take). A scheduled round spreads its checks
   * evenly over most of the interval rather than starting them in one burst (thousands of connects
   * at once queue behind each other and load both ends in spikes); each real keeps its slot, so
   * it is checked once per interval. The next round waits only for this one's checks to be
   * started, not answered: a hung server, skipped while its check is out, delays no other.
   */
  schedule(lastStart = performance.now()): void {
    if (this.stopped) return;
    const interval = this.h.interval();
    const wait = Math.max(0, interval - (performance.now() - lastStart));
    this.timer = setTimeout(() => {
      const start = performance.now();
      void this.pacedRound(interval * SPREAD).finally(() => this.schedule(start));
    }, wait);
  }

  /** One round at once (bounded), then its end. */
  async round(): Promise<void> {
    const jobs = this.h.jobs();
    let next = 0;
    const workers = Array.from({ length: Math.min(this.h.concurrency, jobs.length) }, async () => {
      for (let i = next++; i < jobs.length && !this.stopped; i = next++) await this.runJob(jobs[i], false);
    });
    await Promise.all(workers);
    await this.endRound();
  }

  /**
   * A scheduled round: job i of n starts at i/n of the window, in batches every few ms, within
   * the concurrency bound. Resolves once every check is started; the round ends when they are
   * all back. A state change reaches IPVS at once.
   */
  private async pacedRound(windowMs: number): Promise<void> {
    const jobs = this.h.jobs();
    const n = jobs.length;
    const start = performance.now();
    const out: Promise<void>[] = [];
    // Each pass starts at least one check or waits for a slot or a free place: n passes plus waits bounded by the window and the checks' timeouts.
    for (let i = 0; i < n && !this.stopped; ) {
      const due = Math.min(n, Math.floor(((performance.now() - start) / windowMs) * n) + 1);
      while (i < due && this.inFlight < this.h.concurrency) {
        out.push(this.runJob(jobs[i++], true).catch((e: unknown) => this.h.log.error({ err: (e as Error).message }, 'check failed to run')));
      }
      if (i >= n) break;
      const wait = this.inFlight >= this.h.concurrency ? PACE_MS : Math.max(PACE_MS, start + (i / n) * windowMs - performance.now());
      await new Promise<void>((r) => {
        this.timer = setTimeout(r, wait);
      });
    }
    void Promise.all(out)
      .then(() => this.endRound())
      .catch((e: unknown) => this.h.log.error({ err: (e as Error).message }, 'end of round failed'));
  }

  private async runJob(j: J, paced: boolean): Promise<void> {
    const key = this.h.key(j);
    if (this.running.has(key)) return;
    this.running.add(key);
    this.inFlight++;
    let changed = false;
    try {
      changed = await this.h.run(j);
      this.checks++;
    } finally {
      this.running.delete(key);
      this.inFlight--;
      if (changed) {
        this.stateGen++;
        if (paced) this.settleInBackground();
      }
    }
  }

  private async endRound(): Promise<void> {
    if (this.stopped) return;
    await this.h.endRound();
  }

  /**
   * Brings IPVS in line with the states, once per batch of changes: changes that arrive while it
   * writes are taken by its next pass. Resolves at once when nothing changed.
   */
  settle(): Promise<void> {
    if (this.settling) return this.settling;
    if (this.settledGen === this.stateGen) return Promise.resolve();
    const settling = (async () => {
      // Each pass takes every change made before it; the bound only yields now and then under constant change.
      for (let pass = 0; pass < 100 && this.settledGen !== this.stateGen && !this.stopped; pass++) {
        const gen = this.stateGen;
        await this.h.settle();
        this.settledGen = gen;
      }
    })();
    this.settling = settling;
    // A change that came just as the last pass ended (or past the bound) gets its own; a failed write waits for the next round.
    settling.then(
      () => {
        this.settling = undefined;
        if (this.settledGen !== this.stateGen && !this.stopped) this.settleInBackground();
      },
      () => {
        this.settling = undefined;
      },
    );
    return settling;
  }

  private settleInBackground(): void {
    this.settle().catch((e: unknown) => this.h.log.error({ err: (e as Error).message }, 'IPVS update failed'));
  }
}
