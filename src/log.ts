// One logger for the whole program: pino JSON, pretty-printed when stderr is a terminal.
// Logs go to stderr so that stdout stays clean for data (`--json`, `hash owner`).
//
// Logging must never kill or hang the daemon: a full disk (ENOSPC), a closed pipe (EPIPE) or a
// reader that does not keep up loses log lines — counted in logStats() — and nothing else.
// (pino's own destination re-throws such errors as an uncaught exception, and its exit flush
// retries ENOSPC for ever, so systemd never gets to restart the daemon.)
import { write as writeAsync, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogStats {
  /** Lines written in full. */
  written: number;
  /** Lines lost to a failing or slow destination. */
  dropped: number;
  /** The last write error's code (ENOSPC, EPIPE, ...), or why lines were dropped. */
  lastError?: string;
}

/** Lines waiting beyond this (a reader that has stopped reading) are dropped rather than kept. */
const MAX_QUEUED_BYTES = 1 << 20;
/** A non-blocking descriptor that is full is tried again a few times, then its lines are dropped. */
const EAGAIN_RETRY_MS = 20;
const EAGAIN_RETRIES = 50;

/** A queued write: a log line, or aavip's own note (a line break, a report of lost lines). */
interface Chunk { buf: Buffer; line: boolean; reports?: number }

/**
 * A pino destination on a file descriptor. Writes are asynchronous and one at a time (the event
 * loop never waits on the disk); a failed write drops what is queued, and the next line tries again.
 */
export class FdDestination {
  readonly stats: LogStats = { written: 0, dropped: 0 };
  private queue: Chunk[] = [];
  private queuedBytes = 0;
  private inFlight = false;
  private retries = 0;
  /** Lines dropped and not yet reported in the log itself. */
  private unreported = 0;
  /** The head of the queue is the rest of a chunk already partly written. */
  private headPartial = false;
  /** A line was cut by a failed write: the next write starts a new line. */
  private cut = false;

  constructor(private readonly fd: number, private readonly maxQueuedBytes = MAX_QUEUED_BYTES) {}

  write(line: string): boolean {
    const buf = Buffer.from(line);
    if (this.queuedBytes + buf.length > this.maxQueuedBytes) this.drop(1, 'the log destination does not keep up');
    else this.enqueue({ buf, line: true });
    this.pump();
    return true; // never ask pino to wait
  }

  private enqueue(chunk: Chunk, first = false): void {
    if (first) this.queue.unshift(chunk); else this.queue.push(chunk);
    this.queuedBytes += chunk.buf.length;
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.cut) { this.enqueue({ buf: Buffer.from('\n'), line: false }, true); this.cut = false; }
    const head = this.queue[0];
    this.inFlight = true;
    writeAsync(this.fd, head.buf, 0, head.buf.length, null, (err, n) => {
      this.inFlight = false;
      if (err) { this.failed(err); return; }
      this.retries = 0;
      this.queuedBytes -= n;
      this.headPartial = n < head.buf.length;
      if (this.headPartial) head.buf = head.buf.subarray(n);
      else this.written(this.queue.shift()!);
      if (this.unreported > 0) this.reportDrops();
      this.pump();
    });
  }

  private written(chunk: Chunk): void {
    if (chunk.line) this.stats.written++;
  }

  private failed(err: NodeJS.ErrnoException): void {
    if (err.code === 'EAGAIN' && this.retries++ < EAGAIN_RETRIES) {
      setTimeout(() => this.pump(), EAGAIN_RETRY_MS).unref();
      return;
    }
    this.retries = 0;
    this.cut = this.headPartial;
    this.headPartial = false;
    this.dropQueue(err.code ?? err.message);
  }

  private dropQueue(reason: string): void {
    let lines = 0;
    for (const c of this.queue) {
      if (c.line) lines++;
      this.unreported += c.reports ?? 0; // a lost report: still to be made
    }
    this.queue = [];
    this.queuedBytes = 0;
    this.drop(lines, reason);
  }

  private drop(lines: number, reason: string): void {
    this.stats.dropped += lines;
    this.unreported += lines;
    this.stats.lastError = reason;
  }

  /** Says in the log itself that lines are missing, once writing works again. */
  private reportDrops(): void {
    const note = { level: 40, time: Date.now(), pid: process.pid, msg: 'log lines were lost: the log destination failed', dropped: this.unreported, err: this.stats.lastError };
    this.enqueue({ buf: Buffer.from(JSON.stringify(note) + '\n'), line: false, reports: this.unreported });
    this.unreported = 0;
  }

  /**
   * At exit, once: what is queued, written synchronously if no write is under way, and given up
   * at the first error (never retried). A write still under way means a destination that does
   * not take data: its lines are dropped rather than waited for.
   */
  flushAtExit(): void {
    if (this.inFlight) { this.dropQueue('exit while a log write was under way'); return; }
    try {
      while (this.queue.length) {
        const { buf } = this.queue[0];
        for (let off = 0; off < buf.length;) {
          const n = writeSync(this.fd, buf, off, buf.length - off);
          if (n <= 0) throw new Error('the log destination takes nothing');
          off += n;
        }
        this.written(this.queue.shift()!);
      }
      this.queuedBytes = 0;
    } catch (e) { this.dropQueue((e as NodeJS.ErrnoException).code ?? (e as Error).message); }
  }
}

let onStderr: FdDestination | undefined;

/** The one destination on stderr, created with its exit flush on first use (for other loggers too). */
export function stderrDestination(): FdDestination {
  if (!onStderr) {
    const dest = new FdDestination(2);
    process.on('exit', () => dest.flushAtExit());
    onStderr = dest;
  }
  return onStderr;
}

/** What the stderr log has written and lost so far. */
export function logStats(): LogStats {
  return { ...(onStderr?.stats ?? { written: 0, dropped: 0 }) };
}

export function createLogger(name = 'aavip', level = process.env.AAVIP_LOG_LEVEL ?? 'info'): Logger {
  // isatty, not process.stderr.isTTY: that would open a second stream on fd 2, with its own errors.
  if (isatty(2)) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ name, level }, stderrDestination());
}

export const log = createLogger();
