// Runs the notify commands. Never in the way of the daemon: a command is started and not waited
// for; each hook runs its events one at a time, in order (a script that records state sees them
// as they happened), its queue bounded (the oldest dropped, and logged, when a hook falls
// behind); at its timeout a command's whole process group is killed.
import type { Logger } from '../log.js';
import { runBounded } from '../lvs/command.js';
import type { NotifyFacts } from './events.js';
import type { NotifySpec } from './settings.js';

/** Events a hook may have waiting; more and the oldest is dropped. */
export const NOTIFY_QUEUE = 32;

interface Hook {
  spec: NotifySpec;
  queue: NotifyFacts[];
  running: boolean;
}

export class Notifier {
  private hooks: Hook[];
  /** Process groups of the commands running now. */
  private readonly running = new Set<number>();
  private stopped = false;
  /** Ended runs, for status and tests: exited, timed out, failed to start, dropped. */
  readonly counters = { ran: 0, failed: 0, timedOut: 0, dropped: 0 };

  constructor(
    specs: readonly NotifySpec[],
    private readonly o: { log: Logger; base: Record<string, string> },
  ) {
    this.hooks = specs.map((spec) => ({ spec, queue: [], running: false }));
  }

  /** New hooks (a reload): what the old ones have waiting is dropped, what runs runs to its end. */
  reconfigure(specs: readonly NotifySpec[]): void {
    this.hooks = specs.map((spec) => ({ spec, queue: [], running: false }));
  }

  /** At the daemon's stop: nothing more is started, and what runs is killed (its whole group). */
  stop(): void {
    this.stopped = true;
    for (const h of this.hooks) h.queue.length = 0;
    for (const pid of this.running) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  emit(facts: NotifyFacts): void {
    if (this.stopped) return;
    for (const h of this.hooks) {
      if (!h.spec.on.includes(facts.event)) continue;
      if (h.queue.length >= NOTIFY_QUEUE) {
        h.queue.shift();
        this.counters.dropped++;
        this.o.log.warn({ command: h.spec.argv[0], event: facts.event }, 'notify command falls behind: its oldest waiting event was dropped');
      }
      h.queue.push(facts);
      if (!h.running) void this.drain(h);
    }
  }

  private async drain(h: Hook): Promise<void> {
    h.running = true;
    for (let f = h.queue.shift(); f; f = h.queue.shift()) {
      const env = { ...process.env, ...this.o.base, AAVIP_EVENT: f.event, ...f.env };
      const [file, ...args] = h.spec.argv;
      const out = await runBounded(file, args, h.spec.timeoutMs, env, this.running);
      this.counters.ran++;
      const fields = { command: file, event: f.event };
      if (out.kind === 'timed-out') {
        this.counters.timedOut++;
        this.o.log.error({ ...fields, pid: out.pid, timeoutMs: h.spec.timeoutMs }, 'notify command timed out: its process group was killed');
      } else if (out.kind === 'failed') {
        this.counters.failed++;
        this.o.log.error({ ...fields, error: out.error }, 'notify command could not be run');
      } else if (out.code !== 0) {
        this.counters.failed++;
        this.o.log.warn({ ...fields, exit: out.code, signal: out.signal }, 'notify command failed');
      }
    }
    h.running = false;
  }
}
