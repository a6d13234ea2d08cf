// ldirectord.cf, read as ldirectord's code reads it (which is not always what its man page says):
// the same line structure, the same value extraction (often an unanchored "first match", so
// `checktype=connect  # tcp` and `checkinterval=5s` work), the same defaults, the same messages.
// Text in, model out; names go through the Resolver given (pure by default). Errors are
// InputErrors naming the file, the line and the directive.
//
// Where ldirectord has a bug (spec ldirectord.md §8), this parser differs, on purpose. The rule:
// fix it where the meaning the user wanted is certain; where it is not, read the file as
// ldirectord does and warn. Every difference:
//  1. `#` inside a balanced pair of double quotes is kept (ldirectord cuts the line there, so
//     `receive="a#b"` was an error and `checkcommand="/x#y"` ran `"/x`).
//  2. A blank (or whitespace-only) line inside a section does not end it (ldirectord ends the
//     section there and then rejects the next indented line as `Unknown command`).
//  3. Quoted thresholds, `"l:5" "u:10"` as the man page writes them, are thresholds, with a
//     warning (ldirectord silently took them as check request `/l:5` and receive `u:10`).
//  4. `virtual=` on the last line with no body is a virtual with no real servers (ldirectord
//     reported `duplicate virtual server`).
//  5. Kept, with a warning: `virtual=127.0.0.100` (no port) is firewall mark 127, as in
//     ldirectord, since no other reading is certain.
//  6. A duplicate virtual service is reported at its own `virtual=` line, naming the first one
//     (ldirectord reports the line after the block).
//  7. The global fallback does not apply to fwmark services (ldirectord built a broken
//     `ipvsadm -r :0` for them, so none was installed): see model.ts effective().
//  8. A request that is an absolute URL (`http://host/path`, optionally after a `/`) is kept as a
//     URL for the check (ldirectord does so only for per-real requests and http_proxy).
//  9. Limits ldirectord does not have, so nothing can hang: directive lines of at most 4,096 characters,
//     a range of at most 65,536 addresses, 262,144 real servers in all; longer timeouts and
//     intervals than 2,147,483 s are cut to that, with a warning. A firewall mark outside 1..4294967295 (which ipvsadm refuses, so
//     ldirectord never installed it) leaves its virtual out of the model, with a warning.
//  10. CRLF line ends are accepted (ldirectord kept the CR in values: `quiescent=yes\r` failed).
import { readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { InputError } from '../../errors.js';
import { systemFileChecks, type FileChecks } from './files.js';
import {
  CHECK_KINDS, EMAIL_PHASES, FORWARDINGS, SERVICE_BY_PORT, SERVICES,
  type Alerts, type CheckKind, type ConfigWarning, type EmailPhase, type Fallback, type Forwarding, type Globals, type LdirectordConfig,
  type RealServer, type Service, type VirtualService, virtualId,
} from './model.js';
import { canonicalAddress, literalResolver, systemResolver, type Resolver } from './resolve.js';

export interface ParseOptions {
  /** Host and port names (default: IP literals, localhost and common port names only). */
  resolver?: Resolver;
  /** logfile/monitorfile/maintenancedir checks (default: none). */
  files?: FileChecks;
  /** This host's name, for the default ftp/sip check login (default: os.hostname()). */
  hostname?: string;
}

/** Longest directive line (comment lines may be longer); keeps the unanchored searches quick. */
export const MAX_LINE_LENGTH = 4096;
export const MAX_RANGE = 65_536;
export const MAX_REAL_SERVERS = 262_144;
/** The longest timer Node can arm, in whole seconds. */
export const MAX_SECONDS = 2_147_483;

export function defaultGlobals(): Globals {
  return {
    checkinterval: 10, checkcount: 1, failurecount: 1, autoreload: false, logfile: '/var/log/ldirectord.log', execute: [], fork: false,
    supervised: false, quiescent: false, readdquiescent: false, cleanstop: true, alerts: {},
  };
}

// Grammar pieces, as ldirectord matches them. Perl's `.` matches any character but a newline, so
// every pattern with `.` has the `s` flag (lines hold no newline; a CR inside a line is kept).
/** A port as written after `:` (digits or a service name). */
const PORT = '(\\d+|[A-Za-z0-9_-]+)';
/** The port of `virtual=` (one class: `80x` is the port name `80x`, not 80). */
const VIRTUAL_PORT = '([0-9A-Za-z_-]+)';
const REAL_HOST = '(\\d+\\.\\d+\\.\\d+\\.\\d+|[A-Za-z0-9.-]+|\\[[0-9A-fa-f:]+\\])';
/** `ADDR[->ADDR2][:PORT] FLAGS`, searched anywhere in the value (ldirectord does not anchor it). */
const REAL_LINE = new RegExp(`${REAL_HOST}(->${REAL_HOST})?(:${PORT})?\\s+(.*)`, 's');
const URL_REQUEST = /^\/?([A-Za-z][A-Za-z0-9+.-]*:\/\/.*)$/s;

/** Cuts a `#` comment, keeping a `#` inside a balanced pair of double quotes. */
function stripComment(line: string): string {
  for (let k = 0; k < line.length; k++) {
    if (line[k] === '"') {
      const close = line.indexOf('"', k + 1);
      if (close >= 0) k = close;
    } else if (line[k] === '#') {
      return line.slice(0, k);
    }
  }
  return line;
}

/** A check request as stored: a path with a leading `/`, or an absolute URL as written. */
function normaliseRequest(request: string): string {
  const url = request.match(URL_REQUEST);
  if (url) return url[1];
  return request.startsWith('/') ? request : `/${request}`;
}

const ipv4ToNumber = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const numberToIpv4 = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

interface FallbackText { line: number; field: string; server: string; portText?: string; forwarding: Forwarding }

interface OpenSection {
  v: VirtualService;
  /** `host` and `port` as written, resolved when the section ends (the protocol may still change). */
  host?: string;
  portText?: string;
  fallback?: FallbackText;
  /** `real=` lines, resolved when the section ends (after the fallback and the virtual, as ldirectord does). */
  reals: { value: string; line: number; field: string }[];
  serviceSet: boolean;
  checkintervalLine?: number;
  /** A firewall mark as written (marks out of range are checked for duplicates, then left out). */
  markText?: string;
  unusable?: boolean;
}

export function parseLdirectordConfig(text: string, file: string, options: ParseOptions = {}): LdirectordConfig {
  const resolver = options.resolver ?? literalResolver;
  const files = options.files;
  const localName = options.hostname ?? osHostname();
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const globals = defaultGlobals();
  const virtuals: VirtualService[] = [];
  const warnings: ConfigWarning[] = [];
  const seen = new Map<string, number>();
  let realCount = 0;
  const checkintervalLines = new Map<VirtualService, number>();

  const fail = (line: number, message: string, field?: string): never => {
    throw new InputError(message, { file, line, field });
  };
  const warn = (line: number, message: string) => warnings.push({ line, message });

  // Values, extracted as ldirectord extracts them.
  /** The first run of digits anywhere in the value, required non-zero. */
  const positive = (value: string, line: number, field: string, message: string): number => {
    const m = value.match(/\d+/);
    const n = m ? Number(m[0]) : 0;
    if (n < 1) fail(line, message, field);
    return n;
  };
  /** A time in seconds, as `positive`; beyond what a timer can hold, the longest one, with a warning. */
  const seconds = (value: string, line: number, field: string, message: string): number => {
    const n = positive(value, line, field, message);
    if (n <= MAX_SECONDS) return n;
    warn(line, `${field} ${n} is more than ${MAX_SECONDS} seconds: taken as ${MAX_SECONDS}`);
    return MAX_SECONDS;
  };
  const yesno = (field: string, value: string, line: number): boolean => {
    if (value !== 'yes' && value !== 'no') fail(line, `${field} must be 'yes' or 'no'`, field);
    return value === 'yes';
  };
  /** `"..."` up to the last quote (greedy, as ldirectord), or undefined when the value is not quoted. */
  const quotedValue = (value: string): string | undefined => value.match(/^"(.*)"/s)?.[1];
  /** Quoted or not: ldirectord strips a pair of quotes when there is one. */
  const optionallyQuoted = (value: string): string => quotedValue(value) ?? value;
  const portNumber = (text: string, protocol: 'tcp' | 'udp' | ''): number | undefined => {
    if (/^\d+$/.test(text)) return Number(text) < 65536 ? Number(text) : undefined;
    return resolver.service(text, protocol);
  };
  /** ld_gethostbyname: brackets stripped, then resolved in the family. */
  const hostAddress = (name: string, family: 4 | 6): string | undefined => resolver.host(name.match(/\[(.*)\]/s)?.[1] ?? name, family);

  const emailAlert = (value: string, line: number, field: string): string => {
    const addr = value.match(/^"([^"]*)"$/)?.[1] ?? value;
    if (addr === '') fail(line, 'no email address specified', field);
    return addr;
  };
  const emailAlertFreq = (value: string, line: number, field: string): number => {
    const m = value.match(/^\d+/); // ldirectord: `emailalertfreq\s*=\s*(\d*)`
    if (!m) fail(line, 'invalid email alert frequency', field);
    return Number(m![0]);
  };
  const emailAlertStatus = (value: string, line: number, field: string): EmailPhase[] => {
    const items = value.split(/\s*,\s*/);
    const none = items.includes('none');
    const phases = new Set<EmailPhase>();
    for (const item of items) {
      if (item === 'none') continue;
      if (item === 'all') EMAIL_PHASES.forEach((p) => phases.add(p));
      else if ((EMAIL_PHASES as readonly string[]).includes(item)) phases.add(item as EmailPhase);
      else fail(line, `invalid email alert status at: "${item}"`, field);
      if (none) fail(line, `invalid email alert status: "${item}" specified with "none"`, field);
    }
    return EMAIL_PHASES.filter((p) => phases.has(p));
  };
  const smtpServer = (value: string, line: number, field: string): string => {
    const m = value.match(/^[0-9A-Za-z._+-]+/);
    if (!m) fail(line, 'invalid SMTP server address', field);
    return m![0];
  };

  /** `host[:port] [gate|masq|ipip]` taken apart (read time: a bad method is reported at once). */
  const splitFallback = (text: string, line: number, field: string): FallbackText => {
    let hostPort = text;
    let method: string | undefined;
    const split = text.match(/(\S+)(\s+(\S+))?\s*$/);
    if (split) { hostPort = split[1]; method = split[3]; }
    const p = hostPort.match(new RegExp(`(:${PORT})?$`))!;
    if (method !== undefined && !(FORWARDINGS as readonly string[]).includes(method)) fail(line, 'forward method must be gate, masq or ipip', field);
    return { line, field, server: hostPort.slice(0, p.index), portText: p[2], forwarding: (method ?? 'gate') as Forwarding };
  };
  /** Resolves a fallback; without a port it takes `defaultPortText` (the virtual's port as written); "0" is 0. */
  const resolveFallback = (f: FallbackText, family: 4 | 6, protocols: ('tcp' | 'udp')[], defaultPortText?: string): Fallback => {
    const address = hostAddress(f.server, family);
    if (address === undefined) fail(f.line, `invalid IPv${family} address or could not resolve for fallback server: ${f.server}`, f.field);
    const text = f.portText ?? defaultPortText;
    let port: number | undefined;
    if (text !== undefined && text !== '0') {
      const numbers = protocols.map((protocol) => portNumber(text, protocol));
      if (numbers.some((n) => n === undefined)) fail(f.line, 'invalid port for fallback server', f.field);
      port = numbers[0];
    } else if (text === '0') port = 0;
    return { line: f.line, address: address!, port, forwarding: f.forwarding };
  };

  /** `real=`: one line, one server or an IPv4 range of them. */
  const parseReal = (value: string, line: number, field: string, family: 4 | 6): RealServer[] => {
    const m = value.match(REAL_LINE);
    if (!m) fail(line, 'invalid address for real server (wrong format)', field);
    const [, ip1, , ip2, , portText = '0', flags] = m!;
    const first = hostAddress(ip1, family);
    if (first === undefined) fail(line, `invalid address (${ip1}) for real server (could not resolve host)`, field);
    const port = portNumber(portText, '');
    if (port === undefined) fail(line, `invalid port (${portText}) for real server (could not resolve port)`, field);
    let addresses = [first!];
    if (ip2 !== undefined) {
      const last = hostAddress(ip2, family);
      if (last === undefined) fail(line, `invalid address (${ip2}) for real server (could not resolve end host)`, field);
      if (family === 6) fail(line, 'Address range for IPv6 is not supported yet', field);
      const [a, b] = [ipv4ToNumber(first!), ipv4ToNumber(last!)];
      if (a > b) fail(line, `Invalid Range: ${first}-${last}: First value must be greater than or equal to the second value`, field);
      if (b - a >= MAX_RANGE) fail(line, `Invalid Range: ${first}-${last}: more than ${MAX_RANGE} addresses`, field);
      addresses = Array.from({ length: b - a + 1 }, (_, k) => numberToIpv4(a + k));
    }

    // The flags, taken apart as ldirectord does: each later part is searched for in what follows
    // the previous one, and only text left over after the last part found is an error.
    const method = flags.match(/(\w+)(.*)/s);
    if (!method || !(FORWARDINGS as readonly string[]).includes(method[1])) fail(line, 'forward method must be gate, masq or ipip', field);
    let rest = method![2];
    let weight = 1;
    const w = rest.match(/\s+(\d+)(.*)/s);
    if (w) { weight = Number(w[1]); rest = w[2]; }
    let request: string | undefined;
    let receive: string | undefined;
    let lower = 0;
    let upper = 0;
    const rr = rest.match(/\s+"(.*)"[, ]\s*"(.*)"(.*)/s);
    if (rr) {
      rest = rr[3];
      const [l, u] = [rr[1].match(/^l:(\d+)$/), rr[2].match(/^u:(\d+)$/)];
      if (l && u) {
        [lower, upper] = [Number(l[1]), Number(u[1])];
        warn(line, `thresholds in quotes ("${rr[1]}" "${rr[2]}") taken as ${rr[1]} ${rr[2]}; ldirectord would have read them as check request "/${rr[1]}" and receive "${rr[2]}"`);
      } else {
        request = normaliseRequest(rr[1]);
        receive = rr[2];
      }
    }
    const lm = rest.match(/\s+l:(\d+)(.*)/s);
    if (lm) { lower = Number(lm[1]); rest = lm[2]; }
    const um = rest.match(/\s+u:(\d+)(.*)/s);
    if (um) { upper = Number(um[1]); rest = um[2]; }
    if (/\S/.test(rest)) {
      const hint = /"[lu]:\d+"/.test(rest) ? ' (connection thresholds are written without quotes: l:N u:N)' : '';
      fail(line, `Invalid real server line, around "${rest}"${hint}`, field);
    }
    if (weight > 65535) warn(line, `weight ${weight} is above 65535, which ipvsadm refuses`);
    realCount += addresses.length;
    if (realCount > MAX_REAL_SERVERS) fail(line, `more than ${MAX_REAL_SERVERS} real servers`, field);
    return addresses.map((address) => ({ line, address, port: port!, forwarding: method![1] as Forwarding, weight, request, receive, lower, upper }));
  };

  const openSection = (six: boolean, value: string, line: number): OpenSection => {
    const family: 4 | 6 = six ? 6 : 4;
    const field = six ? 'virtual6' : 'virtual';
    const base = {
      line, family, realServers: [], checktype: { kind: 'negotiate' as CheckKind }, service: 'none' as Service, request: '/', receive: '',
      httpmethod: 'GET' as const, login: '', passwd: '', database: '', secret: '', checkcommand: '/bin/true', scheduler: 'wrr', ops: false,
      alerts: {},
    };
    let m: RegExpMatchArray | null;
    let host: string;
    let portText: string;
    if ((!six && (m = value.match(new RegExp(`^(\\d+\\.\\d+\\.\\d+\\.\\d+):${VIRTUAL_PORT}`)))) || (m = value.match(new RegExp(`^([0-9A-Za-z._+-]+):${VIRTUAL_PORT}`)))) {
      [host, portText] = [m[1], m[2]];
    } else if ((m = value.match(/^\d+/))) {
      const mark = Number(m[0]);
      // ipvsadm refuses other marks, so ldirectord never installs such a service; nor does aavip.
      const unusable = mark < 1 || mark > 0xffffffff;
      if (unusable) warn(line, `${field}=${m[0]}: firewall mark ${m[0]} is outside 1..4294967295, which IPVS refuses: this virtual service is ignored`);
      const next = value.charAt(m[0].length);
      if (next !== '' && !/\s/.test(next)) {
        warn(line, `${field}=${value.trim()} has no port: it is firewall mark ${mark}, as ldirectord reads it (an address service is written ${field}=${six ? '[ADDRESS]' : 'ADDRESS'}:PORT)`);
      }
      return { v: { ...base, protocol: 'fwm', fwmark: mark }, markText: m[0], unusable, serviceSet: false, reals: [] };
    } else if ((m = value.match(new RegExp(`^\\[([0-9A-Fa-f:]+)\\]:${VIRTUAL_PORT}`)))) {
      if (!six) fail(line, 'cannot specify an IPv6 address here. please use "virtual6" instead.', field);
      if (canonicalAddress(m[1], 6) === undefined) fail(line, 'invalid ipv6 address for virtual server', field);
      [host, portText] = [`[${m[1]}]`, m[2]];
    } else {
      return fail(line, 'invalid address for virtual server', field);
    }
    const protocol = portText === '53' || portText === 'domain' ? 'udp' : 'tcp';
    return { v: { ...base, protocol }, host, portText, serviceSet: false, reals: [] };
  };

  const closeSection = (s: OpenSection) => {
    const { v } = s;
    const field = v.family === 6 ? 'virtual6' : 'virtual';
    if (s.fallback) {
      const protocol = v.protocol === 'fwm' ? 'tcp' : v.protocol;
      v.fallback = resolveFallback(s.fallback, v.family, [protocol], s.portText ?? '0');
    }
    if (v.protocol !== 'fwm') {
      const address = hostAddress(s.host!, v.family);
      const port = portNumber(s.portText!, v.protocol);
      if (address === undefined || port === undefined) fail(v.line, 'invalid address for virtual service', field);
      v.address = address;
      v.port = port;
    }
    for (const r of s.reals) v.realServers.push(...parseReal(r.value, r.line, r.field, v.family));
    if (!s.serviceSet) v.service = v.protocol === 'fwm' ? 'none' : SERVICE_BY_PORT[v.port!] ?? 'none';
    const id = s.markText !== undefined ? `fwm${v.family === 6 ? '6' : ''}:${s.markText}` : virtualId(v);
    const first = seen.get(id);
    if (first !== undefined) fail(v.line, `duplicate virtual server (${id} is already defined at line ${first})`, field);
    seen.set(id, v.line);
    if (s.unusable) return;
    if (s.checkintervalLine !== undefined) checkintervalLines.set(v, s.checkintervalLine);
    virtuals.push(v);
  };

  const sectionDirective = (s: OpenSection, rcmd: string, raw: string, line: number) => {
    const { v } = s;
    const d = rcmd.match(/^(\w+)\s*=\s*(.*)$/s);
    const unknown = (): never => fail(line, `Unknown command "${raw}"`, d?.[1]);
    if (!d) return unknown();
    const [, key, value] = d;
    const quoted = (): string => quotedValue(value) ?? unknown();
    const nonEmpty = (x: string, message: string) => (x === '' ? fail(line, message, key) : x);
    const alerts: Alerts = v.alerts;
    switch (key) {
      case 'real': case 'real6': {
        if ((key === 'real6') !== (v.family === 6)) fail(line, `cannot specify "${key}" here.  please use "real${v.family === 6 ? '6' : ''}" instead`, key);
        s.reals.push({ value, line, field: key });
        return;
      }
      case 'request': v.request = normaliseRequest(nonEmpty(quoted(), 'no request string specified')); return;
      case 'receive': v.receive = nonEmpty(quoted(), 'invalid receive string'); return;
      case 'checktype': {
        const digits = value.match(/\d+/);
        const word = value.match(/[\w-]+/)?.[0];
        if (digits) v.checktype = { kind: 'combined', connectRounds: Number(digits[0]) };
        else if (word !== undefined && (CHECK_KINDS as readonly string[]).includes(word)) v.checktype = { kind: word as CheckKind };
        else fail(line, 'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number', key);
        return;
      }
      case 'checkcommand': v.checkcommand = nonEmpty(optionallyQuoted(value), 'invalid check command'); return;
      case 'checktimeout': v.checktimeout = seconds(value, line, key, 'invalid check timeout'); return;
      case 'negotiatetimeout': v.negotiatetimeout = seconds(value, line, key, 'invalid negotiate timeout'); return;
      case 'connecttimeout': return fail(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key);
      case 'checkcount':
        v.checkcount = positive(value, line, key, 'invalid check count');
        warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
        return;
      case 'failurecount': v.failurecount = positive(value, line, key, 'invalid failure count'); return;
      case 'checkinterval':
        v.checkinterval = seconds(value, line, key, 'invalid checkinterval');
        s.checkintervalLine = line;
        return;
      case 'checkport': {
        const digits = value.match(/\d+/);
        if (!digits) fail(line, 'invalid port', key);
        const n = Number(digits![0]);
        if (n < 1 || n > 65535) fail(line, 'checkport must be in range 1..65536', key);
        v.checkport = n;
        return;
      }
      case 'login': v.login = nonEmpty(quoted(), 'invalid login string'); return;
      case 'passwd': v.passwd = nonEmpty(quoted(), 'invalid password'); return;
      case 'database': v.database = nonEmpty(quoted(), 'invalid database'); return;
      case 'secret': v.secret = nonEmpty(quoted(), 'invalid secret'); return;
      case 'load': {
        const word = quoted().match(/\w+/);
        if (!word) fail(line, 'invalid string for load testing', key);
        v.load = word![0];
        return;
      }
      case 'scheduler': {
        const name = value.match(/[a-z]+/);
        if (!name) fail(line, 'invalid scheduler, should be only lowercase letters (a-z)', key);
        v.scheduler = name![0];
        return;
      }
      case 'persistent': {
        const digits = value.match(/\d+/);
        if (!digits) fail(line, 'invalid persistent timeout', key);
        v.persistent = Number(digits![0]);
        return;
      }
      case 'schedflags': {
        const flags = value.match(/\S+/);
        if (!flags) fail(line, 'invalid sched-flags', key);
        v.schedflags = flags![0];
        return;
      }
      case 'netmask':
        if (v.family === 6) {
          if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 128) fail(line, 'invalid netmask: a prefix length between 1 and 128 is required', key);
        } else if (!/^\d+\.\d+\.\d+\.\d+$/.test(value) || value.split('.').some((o) => Number(o) > 255)) {
          fail(line, 'invalid netmask: dotted quad notation is required', key);
        }
        v.netmask = value;
        return;
      case 'protocol': {
        const word = value.match(/\w+/)?.[0];
        if (word === undefined) return fail(line, 'invalid protocol', key);
        if (v.protocol === 'fwm') {
          if (word !== 'fwm') fail(line, 'protocol must be fwm if the virtual service is a fwmark (a number)', key);
        } else if (word === 'tcp' || word === 'udp') {
          v.protocol = word;
        } else {
          fail(line, 'protocol must be tcp or udp if the virtual service is an address and port', key);
        }
        return;
      }
      case 'ops': v.ops = yesno(key, value, line); return;
      case 'service': {
        const word = value.match(/\w+/)?.[0];
        if (word === undefined || !(SERVICES as readonly string[]).includes(word)) {
          fail(line, `service must be ${SERVICES.slice(0, -1).join(', ')} or ${SERVICES.at(-1)}`, key);
        }
        v.service = word as Service;
        s.serviceSet = true;
        // Defaults filled when `service=` is read, so a login given before it is kept, one after it wins.
        if (v.service === 'ftp' && v.login === '') v.login = 'anonymous';
        else if (v.service === 'sip' && v.login === '') v.login = `ldirectord@${localName}`;
        if (v.service === 'ftp' && v.passwd === '') v.passwd = `ldirectord@${localName}`;
        return;
      }
      case 'httpmethod': {
        const word = value.match(/\w+/)?.[0].toUpperCase();
        if (word !== 'GET' && word !== 'HEAD') return fail(line, 'httpmethod must be GET or HEAD', key);
        v.httpmethod = word;
        return;
      }
      case 'virtualhost': {
        const host = value.match(/^"?([^"]*)/)![1].trimEnd();
        v.virtualhost = host === '' ? undefined : host;
        return;
      }
      case 'fallback': case 'fallback6':
        if ((key === 'fallback6') !== (v.family === 6)) fail(line, `cannot specify "${key}" here.  please use "fallback${v.family === 6 ? '6' : ''}" instead`, key);
        s.fallback = splitFallback(value, line, key);
        return;
      case 'fallbackcommand': v.fallbackcommand = nonEmpty(optionallyQuoted(value), 'invalid fallback command'); return;
      case 'quiescent': v.quiescent = yesno(key, value, line); return;
      case 'cleanstop': v.cleanstop = yesno(key, value, line); return;
      case 'emailalert': alerts.emailalert = emailAlert(value, line, key); return;
      case 'emailalertfreq': alerts.emailalertfreq = emailAlertFreq(value, line, key); return;
      case 'emailalertstatus': alerts.emailalertstatus = emailAlertStatus(value, line, key); return;
      case 'smtp': alerts.smtp = smtpServer(value, line, key); return;
      case 'monitorfile': {
        const path = optionallyQuoted(value);
        const why = files?.appendError(path);
        if (why !== undefined) fail(line, `unable to open monitorfile ${path}: ${why}`, key);
        v.monitorfile = path;
        return;
      }
      case 'servicename': v.servicename = value; return;
      case 'comment': v.comment = value; return;
      default: return unknown();
    }
  };

  const globalDirective = (raw: string, line: number) => {
    if (raw.startsWith('supervised')) {
      const m = raw.match(/^supervised\s*=\s*(.*)$/s);
      if (m && (m[1] === 'yes' || m[1] === 'no')) globals.supervised = m[1] === 'yes';
      else if (/^supervised\s*$/.test(raw)) {
        globals.supervised = true;
        warn(line, 'please update your config not to use a bare supervised directive');
      } else fail(line, "supervised must be 'yes' or 'no'", 'supervised');
      return;
    }
    const d = raw.match(/^(\w+)\s*=\s*(.*)$/s);
    const unknown = (): never => fail(line, `Unknown command ${raw}`, d?.[1]);
    if (!d) return unknown();
    const [, key, value] = d;
    const quoted = (): string => quotedValue(value) ?? unknown();
    switch (key) {
      case 'checktimeout': globals.checktimeout = seconds(value, line, key, 'invalid check timeout value'); return;
      case 'connecttimeout': return fail(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key);
      case 'negotiatetimeout': globals.negotiatetimeout = seconds(value, line, key, 'invalid negotiate timeout value'); return;
      case 'checkinterval': globals.checkinterval = seconds(value, line, key, 'invalid check interval value'); return;
      case 'checkcount':
        globals.checkcount = positive(value, line, key, 'invalid check count value');
        warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
        return;
      case 'failurecount': globals.failurecount = positive(value, line, key, 'invalid failure count value'); return;
      case 'fallback': globals.fallback = resolveFallback(splitFallback(value, line, key), 4, ['tcp', 'udp']); return;
      case 'fallback6': globals.fallback6 = resolveFallback(splitFallback(value, line, key), 6, ['tcp', 'udp']); return;
      case 'fallbackcommand':
        if (value === '') fail(line, 'invalid fallback command', key);
        globals.fallbackcommand = value;
        return;
      case 'autoreload': globals.autoreload = yesno(key, value, line); return;
      case 'callback': { const c = quoted(); globals.callback = c === '' ? undefined : c; return; }
      case 'logfile': {
        const path = quoted();
        // Opened (and so checked) only when logging goes to it: not in supervised mode, as in ldirectord.
        if (path.startsWith('/') && !globals.supervised && files?.appendError(path) !== undefined) fail(line, `unable to open logfile: ${path}`, key);
        globals.logfile = path;
        return;
      }
      case 'execute': if (!globals.execute.includes(value)) globals.execute.push(value); return;
      case 'fork': globals.fork = yesno(key, value, line); return;
      case 'quiescent': globals.quiescent = yesno(key, value, line); return;
      case 'readdquiescent': globals.readdquiescent = yesno(key, value, line); return;
      case 'emailalert': globals.alerts.emailalert = emailAlert(value, line, key); return;
      case 'emailalertfreq': globals.alerts.emailalertfreq = emailAlertFreq(value, line, key); return;
      case 'emailalertstatus': globals.alerts.emailalertstatus = emailAlertStatus(value, line, key); return;
      case 'emailalertfrom':
        if (value === '') fail(line, 'no email from address specified', key);
        globals.alerts.emailalertfrom = value;
        return;
      case 'cleanstop': globals.cleanstop = yesno(key, value, line); return;
      case 'smtp': globals.alerts.smtp = smtpServer(value, line, key); return;
      case 'maintenancedir':
        if (value === '') fail(line, 'maintenance directory not specified', key);
        globals.maintenancedir = value;
        if (files && !files.isDirectory(value)) warn(line, 'maintenance directory does not exist');
        return;
      case 'timeout': return fail(line, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout', key);
      default: return unknown();
    }
  };

  let i = 0;
  while (i < lines.length) {
    const raw = lines[i];
    const line = i + 1;
    i++;
    if (/^\s*$/.test(raw) || /^\s*#/.test(raw)) continue;
    if (raw.length > MAX_LINE_LENGTH) fail(line, `line longer than ${MAX_LINE_LENGTH} characters`);
    const open = raw.match(/^virtual(6)?\s*=\s*(.*)$/s);
    if (!open) {
      globalDirective(raw, line);
      continue;
    }
    const section = openSection(open[1] !== undefined, open[2], line);
    // The section: every following line indented by 4+ columns (a tab counts 4), comment and
    // blank lines skipped; the first other line ends it and is read again as a global line.
    for (; i < lines.length; i++) {
      const body = lines[i];
      if (/^\s*#/.test(body)) continue;
      const text = stripComment(body).replace(/\t/g, '    ');
      if (/^\s*$/.test(text)) continue;
      if (text.length > MAX_LINE_LENGTH) fail(i + 1, `line longer than ${MAX_LINE_LENGTH} characters`);
      const m = text.match(/^ {4,}(.+)$/s);
      if (!m) break;
      sectionDirective(section, m[1], body, i + 1);
    }
    closeSection(section);
  }

  if (!globals.fork) {
    for (const [v, line] of checkintervalLines) warn(line, `checkinterval in virtual service ${virtualId(v)} ignored when fork=no`);
  }
  return { file, globals, virtualServices: virtuals, warnings };
}

/**
 * Reads a configuration as ldirectord would on this host: host and port names resolved by the C
 * library, logfile/monitorfile/maintenancedir checked (nothing is created).
 */
export function loadLdirectordConfig(file: string, options: ParseOptions = {}): LdirectordConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? `Config file ${file} not found` : `can not open file ${file} (${code})`, { file });
  }
  return parseLdirectordConfig(text, file, { resolver: systemResolver(), files: systemFileChecks, ...options });
}
