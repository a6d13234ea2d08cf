// The http, https and http_proxy negotiate checks: one HTTP/1.0 exchange per connection on a plain
// socket (TLS for https, the certificate not verified, as ldirectord), all callbacks — far cheaper
// per check than node:http or promise chains, which matters at thousands of checks a second.
// Follows up to 5 redirects, as ldirectord's LWP does; the check's one deadline covers them all.
// What is read is bounded: headers up to HEAD_CAP; the body only when a receive string must
// match it, and then its first BODY_CAP bytes (LWP would read it all).
import { isIP, type Socket } from 'node:net';
import type { CheckRun, CheckType } from './lifecycle.js';
import { errorText, fail, ok } from './result.js';
import type { CheckTarget } from './target.js';

/** Headers longer than this fail the check (no status is judged on a head that never ends); generous, as LWP has no limit. */
export const HEAD_CAP = 64 * 1024;
/** A receive string is matched against this much of the body at most. */
export const BODY_CAP = 1024 * 1024;

/** An HTTP check's connection and request, derived once per URL (URL parsing is dear at this rate). */
interface HttpRequest {
  tls: boolean;
  host: string;
  port: number;
  servername?: string;
  text: Buffer;
}

const httpRequests = new Map<string, HttpRequest>();
const receivePatterns = new Map<string, RegExp>();
/** Caches are keyed by configuration strings; past this many entries (configs churning) they start over. */
const CACHE_LIMIT = 100_000;

function cached<V>(cache: Map<string, V>, key: string, make: () => V): V {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, v);
  }
  return v;
}

function httpRequest(url: string, t: CheckTarget, viaProxy: boolean): HttpRequest {
  const key = `${viaProxy ? `${t.host}\0${t.port}` : ''}\0${t.httpmethod}\0${t.virtualhost ?? '\u0001'}\0${url}`;
  return cached(httpRequests, key, () => {
    const u = new URL(url);
    const tls = u.protocol === 'https:' && !viaProxy;
    const host = viaProxy ? t.host : u.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = viaProxy ? t.port : Number(u.port || (tls ? 443 : 80));
    const target = viaProxy ? url : u.pathname + u.search;
    const hostHeader = viaProxy ? u.host : (t.virtualhost ?? u.host);
    const text = Buffer.from(`${t.httpmethod} ${target} HTTP/1.0\r\nHost: ${hostHeader}\r\nUser-Agent: aavip\r\nConnection: close\r\n\r\n`);
    return { tls, host, port, servername: tls && !isIP(host) ? host : undefined, text };
  });
}

const STATUS = /^HTTP\/\d\.\d (\d{3})/;
const LOCATION = /^location:\s*(.+)$/im;
const CONTENT_LENGTH = /^content-length:\s*(\d+)\s*$/im;
const HEAD_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);

/** Where the head ends in `chunk` (just past its CR LF CR LF), given the head's last bytes before it; -1 if not there. */
function headEnd(tail: Buffer, chunk: Buffer): number {
  const at = (tail.length ? Buffer.concat([tail, chunk]) : chunk).indexOf(HEAD_END);
  return at < 0 ? -1 : at + HEAD_END.length - tail.length;
}

type Scheme = 'http' | 'https' | 'proxy';

function start(run: CheckRun, t: CheckTarget, scheme: Scheme): void {
  const first = t.request.includes('://')
    ? t.request
    : `${scheme === 'https' ? 'https' : 'http'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${t.request}`;
  exchange(run, t, scheme === 'proxy', first, 5);
}

/** One request and its reply on a fresh connection; a redirect starts the next. */
function exchange(run: CheckRun, t: CheckTarget, viaProxy: boolean, url: string, redirects: number): void {
  const req = httpRequest(url, t, viaProxy);
  const s: Socket = req.tls ? run.tls({ host: req.host, port: req.port, rejectUnauthorized: false, servername: req.servername }) : run.tcp(req.host, req.port);
  const reply = new Reply(run, t, (head) => {
    const location = LOCATION.exec(head)?.[1]?.trim();
    if (!location || redirects <= 0) return false;
    run.close(s);
    exchange(run, t, viaProxy, new URL(location, url).toString(), redirects - 1);
    return true;
  });
  s.once(req.tls ? 'secureConnect' : 'connect', () => s.write(req.text));
  // A bad redirect URL throws inside these handlers: the check is down with the reason.
  s.on('data', (chunk: Buffer) => {
    try {
      reply.take(chunk);
    } catch (e) {
      run.settle(fail(errorText(e)));
    }
  });
  s.on('end', () => {
    try {
      reply.end();
    } catch (e) {
      run.settle(fail(errorText(e)));
    }
  });
}

/** An HTTP reply read as it arrives: the head (bounded), then the body when `receive` needs it (bounded). */
class Reply {
  private readonly parts: Buffer[] = [];
  private held = 0;
  /** The last bytes of the head so far (a terminator may straddle two chunks). */
  private tail = EMPTY;
  private status = 0;
  /** The body's length when the head gives it: a server keeping the connection open is judged once it has come. */
  private length = Infinity;
  private headDone = false;

  /** `redirect` follows a 3xx head if it can (true: this reply is done with). */
  constructor(
    private readonly run: CheckRun,
    private readonly t: CheckTarget,
    private readonly redirect: (head: string) => boolean,
  ) {}

  take(chunk: Buffer): void {
    if (this.headDone) this.takeBody(chunk);
    else this.takeHead(chunk);
  }

  end(): void {
    if (this.headDone) {
      this.judgeBody(false);
      return;
    }
    // A reply that ends before its head does is judged on what came (a status line alone is enough).
    this.headDone = true;
    const head = Buffer.concat(this.parts).toString('latin1');
    this.parts.length = 0;
    this.held = 0;
    if (this.judgeHead(head)) this.judgeBody(false);
  }

  /** Judges a finished head; true when the body is wanted. */
  private judgeHead(head: string): boolean {
    this.status = Number(STATUS.exec(head)?.[1] ?? 0);
    const wanted = this.t.expectStatus;
    if (this.status >= 300 && this.status < 400 && wanted !== this.status && this.redirect(head)) return false;
    if (wanted === undefined ? this.status < 200 || this.status > 299 : this.status !== wanted) {
      this.run.settle(fail(`HTTP ${this.status}${wanted === undefined ? '' : ` (wanted ${wanted})`}`));
      return false;
    }
    if (!this.t.receive) {
      this.run.settle(ok(`HTTP ${this.status}`));
      return false;
    }
    this.length = Number(CONTENT_LENGTH.exec(head)?.[1] ?? Infinity);
    return true;
  }

  private judgeBody(capped: boolean): void {
    const body = Buffer.concat(this.parts).toString('latin1');
    const t = this.t;
    const re = cached(receivePatterns, t.receive, () => new RegExp(t.receive));
    this.run.settle(
      re.test(body)
        ? ok(`HTTP ${this.status}`)
        : fail(`HTTP ${this.status}, body does not match /${t.receive}/${capped ? ` (first ${BODY_CAP} bytes read)` : ''}`),
    );
  }

  private takeBody(chunk: Buffer): void {
    if (chunk.length === 0) {
      if (this.length === 0) this.judgeBody(false);
      return;
    }
    const room = BODY_CAP - this.held;
    this.parts.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    this.held += Math.min(room, chunk.length);
    if (this.held >= BODY_CAP) this.judgeBody(true);
    else if (this.held >= this.length) this.judgeBody(false);
  }

  private takeHead(chunk: Buffer): void {
    const end = headEnd(this.tail, chunk);
    if (end < 0) {
      this.held += chunk.length;
      if (this.held > HEAD_CAP) {
        this.run.settle(fail(`HTTP: headers longer than ${HEAD_CAP} bytes`));
        return;
      }
      this.parts.push(chunk);
      this.tail = chunk.length >= 3 ? chunk.subarray(chunk.length - 3) : Buffer.concat([this.tail, chunk]).subarray(-3);
      return;
    }
    this.parts.push(chunk.subarray(0, end));
    const head = Buffer.concat(this.parts).toString('latin1', 0, this.held + end - HEAD_END.length);
    this.headDone = true;
    this.parts.length = 0;
    this.held = 0;
    if (this.judgeHead(head)) this.takeBody(chunk.subarray(end));
  }
}

export const http: CheckType = { run: (run, t) => start(run, t, 'http') };
export const https: CheckType = { run: (run, t) => start(run, t, 'https') };
export const httpProxy: CheckType = { run: (run, t) => start(run, t, 'proxy') };
