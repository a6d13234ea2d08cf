// Time for the daemon, injected so that the membership scenarios run in memory: liveness and
// leases are judged on a monotonic clock (a wall-clock step must neither hide a death nor fake
// one); the wall clock is only for log lines and cluster-wide weight stamps.
export type TimerHandle = { readonly id: number };

export interface Clock {
  /** Milliseconds on a clock that never steps (performance.now() in a real process). */
  now(): number;
  /** Milliseconds since the epoch, as the operator's clock says. */
  wall(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clear(t: TimerHandle | undefined): void;
}

/** The process's own clocks and timers. */
export function systemClock(): Clock {
  let next = 0;
  const live = new Map<number, NodeJS.Timeout>();
  const handle = (t: NodeJS.Timeout, repeat: boolean): TimerHandle => {
    const id = ++next;
    live.set(id, t);
    if (!repeat) t.unref?.();
    return { id };
  };
  return {
    now: () => performance.now(),
    wall: () => Date.now(),
    setTimeout: (fn, ms) => {
      const h = handle(
        setTimeout(() => {
          live.delete(h.id);
          fn();
        }, ms),
        false,
      );
      return h;
    },
    setInterval: (fn, ms) => handle(setInterval(fn, ms), true),
    clear: (t) => {
      if (!t) return;
      const timer = live.get(t.id);
      if (timer) {
        clearTimeout(timer);
        clearInterval(timer);
        live.delete(t.id);
      }
    },
  };
}

interface Pending {
  id: number;
  at: number;
  every?: number;
  fn: () => void;
}

/**
 * A clock that moves only when told to (tests): `advance(ms)` runs every timer due on the way,
 * in time order, with `now()` set to each timer's moment. `wallOffset` lets a test step the
 * wall clock without touching the monotonic one.
 */
export class ManualClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: Pending[] = [];
  wallOffset = 1_700_000_000_000;

  now(): number {
    return this.t;
  }
  wall(): number {
    return this.t + this.wallOffset;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }
  clear(h: TimerHandle | undefined): void {
    if (h) this.timers = this.timers.filter((p) => p.id !== h.id);
  }

  private add(fn: () => void, ms: number, every?: number): TimerHandle {
    const p: Pending = { id: ++this.seq, at: this.t + Math.max(0, ms), every, fn };
    this.timers.push(p);
    return { id: p.id };
  }

  /** Moves time forward by `ms`, running due timers; `between` runs after each (to let promises settle). */
  async advance(ms: number, between?: () => Promise<void>): Promise<void> {
    const end = this.t + ms;
    for (let guard = 0; guard < 1_000_000; guard++) {
      const due = this.timers.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.t = due.at;
      if (due.every) due.at += due.every;
      else this.timers = this.timers.filter((p) => p !== due);
      due.fn();
      if (between) await between();
    }
    this.t = end;
  }
}
