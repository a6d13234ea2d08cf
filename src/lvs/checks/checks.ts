// Health checks of real servers, one function per check, each bounded by its own timeout and
// all running concurrently on the event loop: a hung server never delays the others.
// A check resolves to { up, message }; it never throws.
// The checks that run thousands of times a second (HTTP and connect) are plain callbacks on one
// socket each, and every check's deadline is kept by one shared sweep instead of a timer apiece.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect as tcpConnect, isIP, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import raw from 'raw-socket';
import type { VirtualService } from '../config/model.js';
import { deadlines, withTimeout } from './deadlines.js';
import { ldapCheck } from './ldap.js';
import { radiusCheck } from './radius.js';
import { errorText, fail, ok, type CheckResult } from './result.js';

export type { CheckResult } from './result.js';

/** What a check needs: the real server to reach, and the virtual service's check settings. */
export interface CheckTarget extends Pick<VirtualService, 'service' | 'request' | 'receive' | 'httpmethod' | 'virtualhost' | 'login' | 'passwd' | 'database' | 'secret' | 'checkcommand'> {
  /** Real server address and the port to check (checkport, else the real's, else the service's default). */
  host: string;
  port: number;
  realPort: number;
  /** The virtual service, as external checks are told it. */
  virtualHost: string;
  virtualPort: number;
  protocol: VirtualService['protocol'];
  timeoutMs: number;
  checkcount: number;
}

/** Opens a TCP (or TLS) connection; resolves when connected. Idle past `timeoutMs`, it is destroyed. */
function open(host: string, port: number, tls: boolean, timeoutMs = 30_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = tls ? tlsConnect({ host, port, rejectUnauthorized: false, servername: isIP(host) ? undefined : host }) : tcpConnect({ host, port });
    s.setTimeout(timeoutMs, () => s.destroy(new Error('timed out')));
    s.once(tls ? 'secureConnect' : 'connect', () => resolve(s));
    s.once('error', reject);
  });
}

export function connectCheck(t: CheckTarget): Promise<CheckResult> {
  return new Promise((resolve) => {
    const s = new Socket();
    const d = deadlines.set(t.timeoutMs, () => { s.destroy(); resolve(fail('connect timed out')); });
    const settle = (r: CheckResult) => { s.destroy(); if (deadlines.settle(d)) resolve(r); };
    s.on('error', (e) => settle(fail(errorText(e))));
    s.on('connect', () => settle(ok('connected')));
    try { s.connect(t.port, t.host); } catch (e) { settle(fail(errorText(e))); }
  });
}

/** ICMP echo through a raw socket; up to `checkcount` tries, each waiting the timeout. */
export async function pingCheck(t: CheckTarget): Promise<CheckResult> {
  const v6 = t.host.includes(':');
  for (let attempt = 0; attempt < Math.max(1, t.checkcount); attempt++) {
    const socket = raw.createSocket({ protocol: v6 ? raw.Protocol.ICMPv6 : raw.Protocol.ICMP, addressFamily: v6 ? raw.AddressFamily.IPv6 : raw.AddressFamily.IPv4 });
    const id = (process.pid + attempt) & 0xffff;
    const packet = Buffer.alloc(16);
    packet[0] = v6 ? 128 : 8;
    packet.writeUInt16BE(id, 4);
    packet.writeUInt16BE(attempt, 6);
    if (!v6) raw.writeChecksum(packet, 2, raw.createChecksum(packet));
    const reply = new Promise<boolean>((resolve) => {
      socket.on('message', (buf: Buffer, source: string) => {
        const icmp = v6 ? buf : buf.subarray((buf[0] & 0x0f) * 4);
        if (source === t.host && icmp[0] === (v6 ? 129 : 0) && icmp.readUInt16BE(4) === id) resolve(true);
      });
      socket.send(packet, 0, packet.length, t.host, (err) => { if (err) resolve(false); });
    });
    const r = await withTimeout(reply, t.timeoutMs, () => {});
    socket.close();
    if (r === true) return ok('echo reply');
  }
  return fail('no echo reply');
}

/** ldirectord's external check: `checkcommand VIP VPORT RIP RPORT`, exit 0 = up, killed at the timeout. */
export async function externalCheck(t: CheckTarget): Promise<CheckResult> {
  const args = t.protocol === 'fwm' ? [t.virtualHost, '0', t.host, String(t.realPort)] : [t.virtualHost, String(t.virtualPort), t.host, String(t.realPort)];
  const child = spawn(t.checkcommand, args, { stdio: 'ignore' });
  const done = new Promise<CheckResult>((resolve) => {
    child.on('error', (e) => resolve(fail(`cannot run ${t.checkcommand}: ${e.message}`)));
    child.on('exit', (code, signal) => resolve(code === 0 ? ok('exit 0') : fail(signal ? `killed by ${signal}` : `exit ${code}`)));
  });
  const r = await withTimeout(done, t.timeoutMs, () => child.kill('SIGTERM'));
  return r === 'timeout' ? fail('timed out') : r;
}


/** An HTTP check's connection and request, derived once per URL (URL parsing is dear at this rate). */
interface HttpRequest { tls: boolean; host: string; port: number; servername?: string; text: Buffer }

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
    const hostHeader = viaProxy ? u.host : t.virtualhost ?? u.host;
    const text = Buffer.from(`${t.httpmethod} ${target} HTTP/1.0\r\nHost: ${hostHeader}\r\nUser-Agent: aavip\r\nConnection: close\r\n\r\n`);
    return { tls, host, port, servername: tls && !isIP(host) ? host : undefined, text };
  });
}

const STATUS = /^HTTP\/\d\.\d (\d{3})/;
const LOCATION = /^location:\s*(.+)$/im;
/** A reply is read to this size at most; the check judges what it has. */
const MAX_REPLY = 1_000_000;

/**
 * One HTTP/1.0 exchange per connection on a plain socket (TLS for https), all callbacks: far
 * cheaper per check than node:http or promise chains, which matters at thousands of checks a
 * second. Follows up to 5 redirects, as ldirectord's LWP does; the timeout covers them all.
 */
function httpCheck(t: CheckTarget, scheme: 'http' | 'https' | 'proxy'): Promise<CheckResult> {
  const viaProxy = scheme === 'proxy';
  const first = t.request.includes('://') ? t.request : `${scheme === 'https' ? 'https' : 'http'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}${t.request}`;
  return new Promise((resolve) => {
    let sock: Socket | undefined;
    const d = deadlines.set(t.timeoutMs, () => { sock?.destroy(); resolve(fail(`${t.service} check timed out`)); });
    const settle = (r: CheckResult) => { sock?.destroy(); if (deadlines.settle(d)) resolve(r); };

    const judge = (reply: string, url: string, redirects: number): void => {
      const headEnd = reply.indexOf('\r\n\r\n');
      const head = headEnd >= 0 ? reply.slice(0, headEnd) : reply;
      const status = Number(STATUS.exec(head)?.[1] ?? 0);
      if (status >= 300 && status < 400 && redirects > 0) {
        const location = LOCATION.exec(head)?.[1]?.trim();
        if (location) { get(new URL(location, url).toString(), redirects - 1); return; }
      }
      if (status < 200 || status > 299) { settle(fail(`HTTP ${status}`)); return; }
      const body = headEnd >= 0 ? reply.slice(headEnd + 4) : '';
      const re = t.receive ? cached(receivePatterns, t.receive, () => new RegExp(t.receive)) : undefined;
      settle(re && !re.test(body) ? fail(`HTTP ${status}, body does not match /${t.receive}/`) : ok(`HTTP ${status}`));
    };

    const get = (url: string, redirects: number): void => {
      const req = httpRequest(url, t, viaProxy);
      sock?.destroy();
      const s = req.tls ? tlsConnect({ host: req.host, port: req.port, rejectUnauthorized: false, servername: req.servername }) : new Socket();
      sock = s;
      let reply = '';
      let judged = false;
      const done = () => {
        if (judged) return;
        judged = true;
        s.destroy();
        try { judge(reply, url, redirects); } catch (e) { settle(fail(errorText(e))); }
      };
      s.on('error', (e) => { if (!judged) { judged = true; settle(fail(errorText(e))); } });
      s.once(req.tls ? 'secureConnect' : 'connect', () => s.write(req.text));
      s.on('data', (chunk: Buffer) => { reply += chunk.toString('latin1'); if (reply.length > MAX_REPLY) done(); });
      s.on('end', done);
      if (!req.tls) s.connect(req.port, req.host);
    };

    try { get(first, 5); } catch (e) { settle(fail(errorText(e))); }
  });
}

/** A line-protocol dialogue: read a greeting, send lines, expect prefixes. */
async function dialogue(t: CheckTarget, tls: boolean, steps: { send?: string; expect: RegExp }[]): Promise<CheckResult> {
  const sock = await open(t.host, t.port, tls, t.timeoutMs);
  let buf = '';
  const waiters: (() => void)[] = [];
  sock.setEncoding('utf8');
  sock.on('data', (d) => { buf += d; waiters.splice(0).forEach((w) => w()); });
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  try {
    for (const step of steps) {
      if (step.send !== undefined) sock.write(`${step.send}\r\n`);
      for (;;) {
        const nl = buf.indexOf('\n');
        if (nl >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          // Multi-line replies (SMTP "250-...") continue until the last line.
          if (/^\d{3}-/.test(line)) continue;
          if (!step.expect.test(line)) return fail(`unexpected reply: ${line.slice(0, 80)}`);
          break;
        }
        const more = new Promise<void>((r) => waiters.push(r));
        await Promise.race([more, closed]);
        if (sock.destroyed && buf.indexOf('\n') < 0) return fail('connection closed');
      }
    }
    return ok('dialogue complete');
  } finally {
    sock.destroy();
  }
}

async function dnsCheck(t: CheckTarget): Promise<CheckResult> {
  const name = t.request.replace(/^\//, '');
  const resolver = new Resolver({ timeout: t.timeoutMs, tries: 1 });
  resolver.setServers([t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`]);
  try {
    const answers = isIP(name) ? await resolver.reverse(name) : await resolver.resolve4(name);
    if (!t.receive) return fail('no receive string: ldirectord counts a dns check without one as down');
    return answers.some((a) => new RegExp(t.receive).test(a)) ? ok(`answered ${answers.join(',')}`) : fail(`answers ${answers.join(',')} do not match`);
  } catch (e) {
    return fail(errorText(e));
  } finally {
    resolver.cancel();
  }
}

async function simpletcpCheck(t: CheckTarget): Promise<CheckResult> {
  const sock = await open(t.host, t.port, false, t.timeoutMs);
  try {
    sock.end(t.request.replace(/^\//, '').replace(/\\n/g, '\n'));
    let data = '';
    for await (const chunk of sock) { data += chunk; if (data.length > 65536) break; }
    return data.split('\n').some((l) => new RegExp(t.receive).test(l)) ? ok('matched') : fail('no line matches');
  } finally {
    sock.destroy();
  }
}

async function sipCheck(t: CheckTarget): Promise<CheckResult> {
  const callId = `${Date.now()}@aavip`;
  const msg = [`OPTIONS sip:${t.login} SIP/2.0`, `Via: SIP/2.0/${t.protocol === 'tcp' ? 'TCP' : 'UDP'} ${t.host}:${t.port};branch=z9hG4bK${Date.now()}`,
    `From: <sip:${t.login}>;tag=aavip`, `To: <sip:${t.login}>`, `Call-ID: ${callId}`, 'CSeq: 1 OPTIONS', `Contact: <sip:${t.login}>`, 'Content-Length: 0', '', ''].join('\r\n');
  if (t.protocol === 'tcp') return dialogue(t, false, [{ send: msg.trimEnd(), expect: /^SIP\/2\.0 200 OK/ }]);
  const s = createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
  try {
    const reply = new Promise<string>((resolve) => s.on('message', (m) => resolve(m.toString())));
    s.send(msg, t.port, t.host);
    const first = (await reply).split('\r\n')[0];
    return first.startsWith('SIP/2.0 200 OK') ? ok(first) : fail(first);
  } finally {
    s.close();
  }
}

async function mysqlCheck(t: CheckTarget): Promise<CheckResult> {
  // The server speaks first: a handshake packet (protocol 10) means mysqld is accepting clients.
  const sock = await open(t.host, t.port, false, t.timeoutMs);
  try {
    const first: Buffer = await new Promise((resolve, reject) => { sock.once('data', resolve); sock.once('error', reject); });
    return first.length > 4 && first[4] === 10 ? ok('server greeting') : fail(first[4] === 0xff ? 'server refused the connection' : 'not a MySQL greeting');
  } finally {
    sock.destroy();
  }
}

async function pgsqlCheck(t: CheckTarget): Promise<CheckResult> {
  // A startup message; an authentication request ('R') or ready state means postgres is serving.
  const sock = await open(t.host, t.port, false, t.timeoutMs);
  try {
    const params = Buffer.from(`user\0${t.login || 'postgres'}\0database\0${t.database || 'postgres'}\0\0`);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(8 + params.length, 0);
    head.writeUInt32BE(196608, 4);
    sock.write(Buffer.concat([head, params]));
    const first: Buffer = await new Promise((resolve, reject) => { sock.once('data', resolve); sock.once('error', reject); });
    return first[0] === 0x52 ? ok('authentication requested') : fail(`replied '${String.fromCharCode(first[0])}'`);
  } finally {
    sock.destroy();
  }
}

/** Negotiate checks by service. */
export function negotiateCheck(t: CheckTarget): Promise<CheckResult> {
  switch (t.service) {
    // The hot paths keep their own deadline (same message as below on a timeout).
    case 'http': return httpCheck(t, 'http');
    case 'https': return httpCheck(t, 'https');
    case 'http_proxy': return httpCheck(t, 'proxy');
    case 'none': return Promise.resolve(ok('service none: not checked'));
    case 'smtp': case 'submission': case 'pop': case 'pops': case 'imap': case 'imaps': case 'ftp': case 'nntp':
    case 'dns': case 'simpletcp': case 'sip': case 'mysql': case 'pgsql': return dialogueCheck(t);
    case 'ldap': case 'ldaps': return ldapCheck(t);
    case 'radius': return radiusCheck(t);
    default: return connectCheck(t); // oracle: a TCP connect (see the README)
  }
}

/** The less common negotiate checks: written as dialogues, bounded by one timeout. */
async function dialogueCheck(t: CheckTarget): Promise<CheckResult> {
  const login = t.login ? [{ send: `USER ${t.login}`, expect: /^\+OK/ }, { send: `PASS ${t.passwd}`, expect: /^\+OK/ }] : [];
  const run = async (): Promise<CheckResult> => {
    switch (t.service) {
      case 'smtp': case 'submission': return dialogue(t, false, [{ expect: /^220/ }, { send: 'EHLO aavip', expect: /^250/ }, { send: 'QUIT', expect: /^221/ }]);
      // Unlike ldirectord (which calls a POP server up even when unreachable if no login is set), connect and greet.
      case 'pop': return dialogue(t, false, [{ expect: /^\+OK/ }, ...login, { send: 'QUIT', expect: /^\+OK/ }]);
      case 'pops': return dialogue(t, true, [{ expect: /^\+OK/ }, ...login, { send: 'QUIT', expect: /^\+OK/ }]);
      case 'imap': case 'imaps':
        return dialogue(t, t.service === 'imaps', [{ expect: /^\* OK/ }, ...(t.login ? [{ send: `a1 LOGIN ${t.login} ${t.passwd}`, expect: /^a1 OK/ }] : []), { send: 'a2 LOGOUT', expect: /^\* BYE|^a2 OK/ }]);
      case 'ftp': return dialogue(t, false, [{ expect: /^220/ }, { send: `USER ${t.login || 'anonymous'}`, expect: /^(331|230)/ }, { send: `PASS ${t.passwd}`, expect: /^230/ }, { send: 'QUIT', expect: /^221/ }]);
      case 'nntp': return dialogue(t, false, [{ expect: /^2/ }]);
      case 'dns': return dnsCheck(t);
      case 'simpletcp': return simpletcpCheck(t);
      case 'sip': return sipCheck(t);
      case 'mysql': return mysqlCheck(t);
      default: return pgsqlCheck(t);
    }
  };
  const r = await withTimeout(run().catch((e: unknown) => fail(errorText(e))), t.timeoutMs, () => {});
  return r === 'timeout' ? fail(`${t.service} check timed out`) : r;
}
