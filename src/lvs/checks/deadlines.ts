// Check deadlines: thousands of checks a second each need a timeout, kept here by one shared
// sweep instead of a timer apiece.

/** A check's deadline: `fire` runs once, unless the check settles first. */
export interface Deadline {
  at: number;
  done: boolean;
  fire: () => void;
}

/** How late a deadline may be handled: sweeps come at most this often. */
const SWEEP_MS = 10;

/**
 * The deadlines of checks in flight, swept by one timer. They are queued by timeout length, so
 * each queue is in deadline order and setting one is an append. A sweep runs after the event loop
 * has taken in pending I/O (setImmediate), so an answer that arrived while the loop was busy still
 * counts. Settled entries stay queued until a sweep passes them (no search to remove them).
 */
class Deadlines {
  private readonly queues = new Map<number, { items: Deadline[]; head: number }>();
  private timer?: NodeJS.Timeout;
  private armedAt = Infinity;
  /** Deadlines neither met nor fired: while there are none, the timer holds no process open. */
  private open = 0;

  set(ms: number, fire: () => void): Deadline {
    const d: Deadline = { at: performance.now() + ms, done: false, fire };
    let q = this.queues.get(ms);
    if (!q) {
      q = { items: [], head: 0 };
      this.queues.set(ms, q);
    }
    q.items.push(d);
    if (this.open++ === 0) this.timer?.ref();
    if (d.at + SWEEP_MS < this.armedAt) this.arm(d.at);
    return d;
  }

  /** Marks a deadline met; false when it had already fired (or been met): the caller is too late. */
  settle(d: Deadline): boolean {
    if (d.done) return false;
    d.done = true;
    if (--this.open === 0) this.timer?.unref();
    return true;
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(SWEEP_MS, at - performance.now()));
    if (this.open === 0) this.timer.unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.armedAt = Infinity;
    setImmediate(this.sweep);
  };

  private readonly sweep = (): void => {
    const now = performance.now();
    let next = Infinity;
    for (const q of this.queues.values()) {
      const items = q.items;
      // Bounded by the queue's length; fire() may append (a new check), which a later sweep takes.
      for (const end = items.length; q.head < end; q.head++) {
        const d = items[q.head];
        if (d.done) continue;
        if (d.at > now) break;
        d.done = true;
        this.open--;
        try {
          d.fire();
        } catch {
          /* one check's clean-up failing must not stop the others expiring */
        }
      }
      if (q.head === items.length) {
        items.length = 0;
        q.head = 0;
      } else {
        if (q.head > 1024 && q.head * 2 > items.length) {
          items.splice(0, q.head);
          q.head = 0;
        }
        next = Math.min(next, items[q.head].at);
      }
    }
    if (next < this.armedAt) this.arm(next);
    else if (this.open === 0) this.timer?.unref();
  };
}

/** The one sweep every check's deadline goes through. */
export const deadlines = new Deadlines();
