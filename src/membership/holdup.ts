// The hold-up rule: a daemon that was itself held up (CPU starvation, a long GC, SIGSTOP) has not
// heard anything meanwhile, so the silence it sees is its own. It judges nobody dead until it has
// been awake for a heartbeat interval and heard what queued up in the meantime.
export interface HoldUpOptions {
  /** How often liveness is evaluated. */
  tickMs: number;
  intervalMs: number;
}

export class HoldUpGuard {
  private lastTick = 0;
  private judgeFrom = 0;

  constructor(private opts: HoldUpOptions) {}

  reconfigure(opts: HoldUpOptions): void {
    this.opts = opts;
  }

  /**
   * A tick at `now`: returns the gap since the previous one when it shows a hold-up, and
   * whether views may be judged at this tick.
   */
  tick(now: number): { heldUpMs?: number; judge: boolean } {
    const gap = this.lastTick ? now - this.lastTick : 0;
    this.lastTick = now;
    let heldUpMs: number | undefined;
    if (gap > 3 * this.opts.tickMs) {
      this.judgeFrom = now + this.opts.intervalMs + this.opts.tickMs;
      heldUpMs = gap;
    }
    return { heldUpMs, judge: now >= this.judgeFrom };
  }
}
