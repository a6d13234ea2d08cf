// One logger for the whole program: pino JSON, pretty-printed when stderr is a terminal.
// Logs go to stderr so that stdout stays clean for data (`--json`, `hash owner`).
//
// Logging must never kill or hang the daemon: a full disk (ENOSPC), a closed pipe (EPIPE) or a
// reader that does not keep up loses log lines — counted in logStats() — and nothing else.
// (pino's own destination re-throws such errors as an uncaught exception, and its exit flush
// retries ENOSPC for ever, so systemd never gets to restart the daemon.)
import { fstatSync, write as writeAsync, writeSync } from 'node:fs';
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

/**
 * Lines waiting beyond this (a reader that has stopped reading) are dropped rather than kept;
 * far more than a burst of logging (10,000 lines at once are about 2 MiB).
 */
const MAX_QUEUED_BYTES = 16 << 20;
const MAX_WRITE_BYTES = 64 << 10;
/** A non-blocking descriptor that is full is tried again a few times, then its lines are dropped. */
const EAGAIN_RETRY_MS = 20;
const EAGAIN_RETRIES = 50;

/** A queued write: a log line, or aavip's own note (a line break, a report of lost lines). */
interface Chunk {
  buf: Buffer;
  line: boolean;
  reports?: number;
}

const codeOf = (e: unknown) => (e as NodeJS.ErrnoException).code ?? (e as Error).message;

/**
 * A pino destination on a file descriptor that never throws and never retries for ever.
 * A regular file or a character device (a terminal, /dev/full) is written synchronously: that
 * never waits long, and keeps every line up to an exit. A pipe or socket is written
 * asynchronously, one batch at a time, since a reader that stops reading would block the
 * process: the event loop goes on, and what waits is bounded.
 */
export class FdDestination {
  readonly stats: LogStats = { written: 0, dropped: 0 };
  private readonly sync: boolean;
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

  constructor(
    private readonly fd: number,
    private readonly maxQueuedBytes = MAX_QUEUED_BYTES,
  ) {
    let sync = true;
    try {
      const st = fstatSync(fd);
      sync = !st.isFIFO() && !st.isSocket();
    } catch {
      /* a closed fd: every write fails at once */
    }
    this.sync = sync;
  }

  write(line: string): boolean {
    const buf = Buffer.from(line);
    if (this.sync) this.writeNow({ buf, line: true });
    else if (this.queuedBytes + buf.length > this.maxQueuedBytes) this.drop(1, 'the log destination does not keep up');
    else {
      this.enqueue({ buf, line: true });
      this.pump();
    }
    return true; // never ask pino to wait
  }

  /** The synchronous path: the whole chunk, or it is dropped (false). */
  private writeNow(chunk: Chunk): boolean {
    let off = 0;
    try {
      if (this.cut) {
        writeSync(this.fd, '\n');
        this.cut = false;
      }
      while (off < chunk.buf.length) {
        const n = writeSync(this.fd, chunk.buf, off, chunk.buf.length - off);
        if (n <= 0) throw new Error('the log destination takes nothing');
        off += n;
      }
    } catch (e) {
      this.cut ||= off > 0;
      this.unreported += chunk.reports ?? 0;
      if (chunk.line) this.drop(1, codeOf(e));
      else this.stats.lastError = codeOf(e);
      return false;
    }
    this.written(chunk);
    if (this.unreported > 0) this.writeNow(this.report());
    return true;
  }

  private enqueue(chunk: Chunk, first = false): void {
    if (first) this.queue.unshift(chunk);
    else this.queue.push(chunk);
    this.queuedBytes += chunk.buf.length;
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.cut) {
      this.enqueue({ buf: Buffer.from('\n'), line: false }, true);
      this.cut = false;
    }
    // Many lines in one write: a burst of logging costs a few system calls, not one a line.
    let size = 0;
    let count = 0;
    for (const c of this.queue) {
      if (count > 0 && size + c.buf.length > MAX_WRITE_BYTES) break;
      size += c.buf.length;
      count++;
    }
    const buf =
      count === 1
        ? this.queue[0].buf
        : Buffer.concat(
            this.queue.slice(0, count).map((c) => c.buf),
            size,
          );
    this.inFlight = true;
    writeAsync(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.inFlight = false;
      if (err) {
        this.failed(err);
        return;
      }
      this.retries = 0;
      this.consume(n);
      if (this.unreported > 0) this.enqueue(this.report());
      this.pump();
    });
  }

  /** Takes `n` written bytes off the head of the queue. */
  private consume(n: number): void {
    this.queuedBytes -= n;
    this.headPartial = false;
    for (let left = n; left > 0; ) {
      const head = this.queue[0];
      if (left >= head.buf.length) {
        left -= head.buf.length;
        this.written(this.queue.shift()!);
      } else {
        head.buf = head.buf.subarray(left);
        this.headPartial = true;
        left = 0;
      }
    }
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
    this.dropQueue(codeOf(err));
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

  /** A line saying in the log itself that lines are missing, for when writing works again. */
  private report(): Chunk {
    const note = {
      level: 40,
      time: Date.now(),
      pid: process.pid,
      msg: 'log lines were lost: the log destination failed',
      dropped: this.unreported,
      err: this.stats.lastError,
    };
    const chunk = { buf: Buffer.from(JSON.stringify(note) + '\n'), line: false, reports: this.unreported };
    this.unreported = 0;
    return chunk;
  }

  /**
   * At exit (pipes and sockets): what is queued, written synchronously if no write is under way,
   * given up at the first error (never retried). A write still under way may be one the reader
   * does not take: what waits behind it is dropped rather than waited for.
   */
  flushAtExit(): void {
    if (this.inFlight) {
      this.dropQueue('exit while a log write was under way');
      return;
    }
    while (this.queue.length) {
      const chunk = this.queue.shift()!;
      this.queuedBytes -= chunk.buf.length;
      if (!this.writeNow(chunk)) {
        this.dropQueue(this.stats.lastError ?? 'write failed');
        return;
      }
    }
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
