// The one life cycle every check runs on, as keepalived's check_api.c is for its checkers: it owns
// the check's deadline (an entry in the shared sweep, no timer of its own), the timeout message,
// and the cleanup of every socket, child process and timer the check opens. A check opens them
// only through its CheckRun, so each is registered as it is made; when the check settles —
// answered, failed, thrown or out of time — all of them are closed at once, and opening one after
// that throws. A check resolves exactly once and never throws.
import { spawn, ChildProcess } from 'node:child_process';
import { createSocket, Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import raw, { type RawSocket } from 'raw-socket';
import { deadlines, type Deadline } from './deadlines.js';
import { errorText, fail, type CheckResult } from './result.js';
import type { CheckTarget } from './target.js';

/** A check's work: open what it needs through `run` and settle it, or return the result. */
export type CheckBody = (run: CheckRun, t: CheckTarget) => void | Promise<CheckResult>;

/** One kind of check, as the registry keeps it. */
export interface CheckType {
  readonly run: CheckBody;
  /** The deadline when it is not the target's timeout (ping: one timeout per try). */
  readonly deadlineMs?: (t: CheckTarget) => number;
}

/**
 * Who handles a socket's errors: the life cycle (the check goes down with the error's code), or
 * the check itself (a library that listens, as ldapts does). At the deadline a socket of the
 * second kind is destroyed with the timeout error, so whatever waits on it gives up too.
 */
export type ErrorHandling = 'settle' | 'own';

/** A child still running this long after its SIGTERM at cleanup gets SIGKILL. */
const KILL_GRACE_MS = 2000;

type Resource = Socket | UdpSocket | ChildProcess | Resolver | RawSocket | Deadline;

const ignore = (): void => {};

export class CheckRun {
  private done = false;
  private readonly deadline: Deadline;
  /** Most checks open one thing: it is kept here, the others in `more`. */
  private first?: Resource;
  private more?: Resource[];
  /** Sockets whose errors the check handles itself. */
  private own?: Set<Resource>;

  constructor(
    private readonly name: string,
    timeoutMs: number,
    private readonly resolve: (r: CheckResult) => void,
  ) {
    this.deadline = deadlines.set(timeoutMs, this.expire);
  }

  /** Ends the check with `r` (the first call wins) and closes everything it opened. */
  settle(r: CheckResult): void {
    if (this.done) return;
    this.done = true;
    deadlines.settle(this.deadline);
    this.releaseAll(undefined);
    this.resolve(r);
  }

  /** The default 'error' listener: the check is down with the error's code. */
  readonly onError = (e: unknown): void => this.settle(fail(errorText(e)));

  private readonly expire = (): void => {
    if (this.done) return;
    this.done = true;
    const why = new Error(`${this.name} check timed out`);
    this.releaseAll(why);
    this.resolve(fail(why.message));
  };

  /** A TCP connection, being made. */
  tcp(host: string, port: number, errors: ErrorHandling = 'settle'): Socket {
    const s = this.socket(new Socket(), errors);
    s.connect(port, host);
    return s;
  }

  /** A TLS connection, being made. */
  tls(options: ConnectionOptions, errors: ErrorHandling = 'settle'): TLSSocket {
    this.open();
    return this.socket(tlsConnect(options), errors);
  }

  udp(type: 'udp4' | 'udp6'): UdpSocket {
    this.open();
    const s = createSocket(type);
    s.on('error', this.onError);
    this.add(s);
    return s;
  }

  /** A raw socket (ICMP), as the raw-socket package makes them. */
  raw(options: Parameters<typeof raw.createSocket>[0]): RawSocket {
    this.open();
    const s = raw.createSocket(options);
    s.on('error', this.onError);
    this.add(s);
    return s;
  }

  /** A child process (stdio ignored); failing to start it settles the check down. */
  spawn(command: string, args: string[]): ChildProcess {
    this.open();
    const child = spawn(command, args, { stdio: 'ignore' });
    child.on('error', (e) => this.settle(fail(`cannot run ${command}: ${e.message}`)));
    this.add(child);
    return child;
  }

  resolver(options: ConstructorParameters<typeof Resolver>[0]): Resolver {
    this.open();
    const r = new Resolver(options);
    this.add(r);
    return r;
  }

  /** Runs `fn` after `ms` (on the shared sweep) unless the check has ended by then. */
  after(ms: number, fn: () => void): void {
    this.open();
    const d = deadlines.set(ms, () => {
      this.forget(d);
      if (!this.done) fn();
    });
    this.add(d);
  }

  /** Closes one resource before the check ends (a redirect's finished connection). */
  close(r: Resource): void {
    this.forget(r);
    release(r, undefined, false);
  }

  private socket<S extends Socket>(s: S, errors: ErrorHandling): S {
    this.open();
    if (errors === 'settle') s.on('error', this.onError);
    else (this.own ??= new Set()).add(s);
    this.add(s);
    return s;
  }

  private open(): void {
    if (this.done) throw new Error(`${this.name} check has ended: nothing more may be opened`);
  }

  private add(r: Resource): void {
    if (this.first === undefined) this.first = r;
    else (this.more ??= []).push(r);
  }

  private forget(r: Resource): void {
    if (this.first === r) this.first = undefined;
    else if (this.more) {
      const i = this.more.indexOf(r);
      if (i >= 0) this.more.splice(i, 1);
    }
  }

  private releaseAll(why: Error | undefined): void {
    if (this.first !== undefined) release(this.first, why, this.own?.has(this.first) ?? false);
    this.first = undefined;
    if (this.more) for (const r of this.more.splice(0)) release(r, why, this.own?.has(r) ?? false);
  }
}

/** Closes one resource, whatever state it is in; never throws. */
function release(r: Resource, why: Error | undefined, ownErrors: boolean): void {
  try {
    if (r instanceof Socket) {
      if (why && ownErrors) {
        // The check's library may have dropped its listeners: keep the error from being unhandled.
        if (r.listenerCount('error') === 0) r.on('error', ignore);
        r.destroy(why);
      } else r.destroy();
    } else if (r instanceof UdpSocket) r.close();
    else if (r instanceof ChildProcess) terminate(r);
    else if (r instanceof Resolver) r.cancel();
    else if ('fire' in r) deadlines.settle(r);
    else r.close();
  } catch {
    /* already closed */
  }
}

function terminate(child: ChildProcess): void {
  const running = () => child.exitCode === null && child.signalCode === null;
  if (!running()) return;
  child.kill('SIGTERM');
  deadlines.set(KILL_GRACE_MS, () => {
    if (running()) child.kill('SIGKILL');
  });
}

/** Runs a check of `type` against `t` on its own life cycle; `name` is what its timeout message calls it. */
export function startCheck(name: string, type: CheckType, t: CheckTarget): Promise<CheckResult> {
  return new Promise((resolve) => {
    const run = new CheckRun(name, type.deadlineMs ? type.deadlineMs(t) : t.timeoutMs, resolve);
    try {
      const p = type.run(run, t);
      if (p) p.then((r) => run.settle(r), run.onError);
    } catch (e) {
      run.onError(e);
    }
  });
}
