// The ldirectord.cf grammar, as ldirectord's code reads it (not always as its man page says).
// Pure: text in, model out; errors are InputErrors naming the file, the line and the directive,
// with ldirectord's own wording. Deliberate differences, each a bug of ldirectord's:
//  - `#` inside double quotes is kept (ldirectord cuts the line there);
//  - a blank line inside a section does not end it (ldirectord then rejects the next indented line);
//  - `virtual=ADDRESS` without a port is refused (ldirectord silently makes it fwmark N from the
//    address's first digits);
//  - quoted thresholds (`"l:5" "u:10"`) are refused (ldirectord takes them as request/receive);
//  - host names are not resolved: addresses are IP literals (or localhost); port names come from
//    /etc/services.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';
import { InputError } from '../../errors.js';
import {
  SERVICES, type CheckKind, type Fallback, type Forwarding, type Globals, type LdirectordConfig, type RealServer, type Service, type VirtualService,
  virtualId,
} from './model.js';

const DEFAULT_SERVICE_BY_PORT: Record<number, Service> = {
  21: 'ftp', 25: 'smtp', 53: 'dns', 80: 'http', 110: 'pop', 119: 'nntp', 143: 'imap', 389: 'ldap', 443: 'https', 587: 'submission',
  636: 'ldaps', 993: 'imaps', 995: 'pops', 1521: 'oracle', 1812: 'radius', 3128: 'http_proxy', 3306: 'mysql', 5060: 'sip', 5432: 'pgsql',
};

let servicesCache: Map<string, number> | undefined;
/** Port names, as getservbyname would give them (from /etc/services, where there is one). */
function portByName(name: string): number | undefined {
  if (!servicesCache) {
    servicesCache = new Map([['http', 80], ['https', 443], ['domain', 53], ['smtp', 25], ['ftp', 21], ['ssh', 22], ['pop3', 110], ['imap2', 143], ['imap', 143], ['ldap', 389], ['mysql', 3306], ['postgresql', 5432], ['sip', 5060]]);
    try {
      for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
        const m = line.match(/^([\w-]+)\s+(\d+)\/(tcp|udp)((?:\s+[\w-]+)*)/);
        if (!m) continue;
        for (const n of [m[1], ...m[4].trim().split(/\s+/).filter(Boolean)]) if (!servicesCache.has(n)) servicesCache.set(n, Number(m[2]));
      }
    } catch { /* the built-in names will do */ }
  }
  return servicesCache.get(name);
}

function parsePort(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text) <= 65535 ? Number(text) : undefined;
  return portByName(text);
}

const literal = (host: string): string | undefined => {
  const h = host.replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return '127.0.0.1';
  return isIPv4(h) || isIPv6(h) ? h : undefined;
};

const ipv4ToNumber = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const numberToIpv4 = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** Strips a `#` comment that is not inside double quotes. */
function stripComment(line: string): string {
  let inQuote = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"') inQuote = !inQuote;
    else if (line[i] === '#' && !inQuote) return line.slice(0, i);
  }
  return line;
}

export function defaultGlobals(): Globals {
  return {
    checkinterval: 10, checkcount: 1, failurecount: 1, autoreload: false, logfile: '/var/log/ldirectord.log', execute: [], fork: false,
    supervised: false, quiescent: false, readdquiescent: false, cleanstop: true, alerts: {},
  };
}

export function parseLdirectordConfig(text: string, file: string): LdirectordConfig {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const globals = defaultGlobals();
  const virtuals: VirtualService[] = [];
  const warnings: { line: number; message: string }[] = [];
  const err = (line: number, message: string, field?: string) => new InputError(message, { file, line, field });
  let current: { v: VirtualService; explicit: Set<string> } | undefined;

  // Numbers are read as ldirectord reads them: the first run of digits in the value.
  const num = (value: string, line: number, message: string, min = 1): number => {
    const m = value.match(/(\d+)/);
    const n = m ? Number(m[1]) : NaN;
    if (Number.isNaN(n) || n < min) throw err(line, message);
    return n;
  };
  const yesno = (key: string, value: string, line: number): boolean => {
    if (value !== 'yes' && value !== 'no') throw err(line, `${key} must be 'yes' or 'no'`, key);
    return value === 'yes';
  };
  const unquote = (value: string) => value.replace(/^"(.*)"$/, '$1');

  const parseFallback = (value: string, line: number, six: boolean): Fallback => {
    const m = value.match(/^(\[[^\]]+\]|[\w.-]+)(?::(\w+))?(?:\s+(\w+))?\s*$/);
    const address = m ? literal(m[1]) : undefined;
    if (!m || !address || (six !== address.includes(':'))) throw err(line, `invalid address for fallback server`);
    const port = m[2] === undefined ? undefined : parsePort(m[2]);
    if (m[2] !== undefined && port === undefined) throw err(line, `invalid port (${m[2]}) for fallback server`);
    const method = (m[3] ?? 'gate') as Forwarding;
    if (!['gate', 'masq', 'ipip'].includes(method)) throw err(line, 'forward method must be gate, masq or ipip');
    return { address, port, forwarding: method };
  };

  const parseAlertStatus = (value: string, line: number): string[] => {
    const list = value.split(',').map((s) => s.trim());
    for (const s of list) if (!['all', 'none', 'starting', 'running', 'stopping', 'reloading'].includes(s)) throw err(line, `invalid email alert status: "${s}"`);
    const other = list.find((s) => s !== 'none');
    if (list.includes('none') && other) throw err(line, `invalid email alert status: "${other}" specified with "none"`);
    return list;
  };

  const parseReal = (value: string, line: number, six: boolean): RealServer[] => {
    const m = value.match(/^(\[[^\]]+\]|[A-Za-z0-9.-]+)(?:->(\[[^\]]+\]|[A-Za-z0-9.-]+))?(?::(\S+?))?(?:\s+(.*))?$/);
    if (!m || m[4] === undefined || m[4].trim() === '') throw err(line, 'invalid address for real server (wrong format)', 'real');
    const [, first, last, portText] = m;
    let rest = m[4].trim();
    const method = rest.match(/^(\S+)/)![1];
    if (!['gate', 'masq', 'ipip'].includes(method)) throw err(line, 'forward method must be gate, masq or ipip', 'real');
    rest = rest.slice(method.length).trim();
    let weight = 1;
    const w = rest.match(/^(\d+)(?:\s+|$)/);
    if (w) { weight = Number(w[1]); rest = rest.slice(w[0].length); }
    let request: string | undefined;
    let receive: string | undefined;
    const rr = rest.match(/^"([^"]*)"\s*[, ]\s*"([^"]*)"\s*/);
    if (rr) {
      if (/^l:\d+$/.test(rr[1]) || /^u:\d+$/.test(rr[2])) throw err(line, 'connection thresholds are written unquoted: l:N u:N', 'real');
      request = rr[1].startsWith('/') || rr[1].includes('://') ? rr[1] : `/${rr[1]}`;
      receive = rr[2];
      rest = rest.slice(rr[0].length);
    }
    let lower = 0;
    let upper = 0;
    const l = rest.match(/^l:(\d+)\s*/);
    if (l) { lower = Number(l[1]); rest = rest.slice(l[0].length); }
    const u = rest.match(/^u:(\d+)\s*/);
    if (u) { upper = Number(u[1]); rest = rest.slice(u[0].length); }
    if (rest.trim() !== '') throw err(line, `Invalid real server line, around "${rest.trim()}"`, 'real');
    const start = literal(first);
    if (!start) throw err(line, `invalid address for real server (could not resolve ${first}: aavip takes IP addresses only)`, 'real');
    if (six !== start.includes(':')) throw err(line, six ? 'cannot specify "real" here.  please use "real6" instead' : 'cannot specify "real6" here.  please use "real" instead', 'real');
    let port = 0;
    if (portText !== undefined) {
      const p = parsePort(portText);
      if (p === undefined) throw err(line, `invalid port (${portText}) for real server (could not resolve port)`, 'real');
      port = p;
    }
    let addresses = [start];
    if (last !== undefined) {
      if (six) throw err(line, 'Address range for IPv6 is not supported yet', 'real');
      const end = literal(last);
      if (!end || end.includes(':')) throw err(line, `invalid address for real server (could not resolve ${last})`, 'real');
      const a = ipv4ToNumber(start);
      const b = ipv4ToNumber(end);
      if (a > b) throw err(line, `Invalid Range: ${start}-${end}: First value must be greater than or equal to the second value`, 'real');
      if (b - a > 65535) throw err(line, `Invalid Range: ${start}-${end}: too many addresses`, 'real');
      addresses = Array.from({ length: b - a + 1 }, (_, k) => numberToIpv4(a + k));
    }
    return addresses.map((address) => ({ line, address, port, forwarding: method as Forwarding, weight, request, receive, lower, upper }));
  };

  const openVirtual = (key: string, value: string, line: number): VirtualService => {
    const six = key === 'virtual6';
    const base = {
      line, family: (six ? 6 : 4) as 4 | 6, realServers: [], checktype: { kind: 'negotiate' as CheckKind }, service: 'none' as Service,
      request: '/', receive: '', httpmethod: 'GET' as const, login: '', passwd: '', database: '', secret: '', checkcommand: '/bin/true',
      scheduler: 'wrr', ops: false, alerts: {},
    };
    const v = value.trim();
    if (/^\d+$/.test(v)) return { ...base, protocol: 'fwm', fwmark: Number(v) };
    if (!six && v.startsWith('[')) throw err(line, 'cannot specify an IPv6 address here. please use "virtual6" instead.', key);
    const m = six ? v.match(/^\[([^\]]+)\]:(\S+?)(?:\s.*)?$/) : v.match(/^([A-Za-z0-9._+-]+):(\S+?)(?:\s.*)?$/);
    if (!m) {
      if (/^\d/.test(v)) throw err(line, `invalid address for virtual service: ${v} has no port (ldirectord would take it as firewall mark ${v.match(/^\d+/)![0]})`, key);
      throw err(line, 'invalid address for virtual service', key);
    }
    const address = literal(m[1]);
    if (!address || six !== address.includes(':')) throw err(line, `invalid address for virtual service (aavip takes IP addresses only)`, key);
    const port = parsePort(m[2]);
    if (port === undefined) throw err(line, `invalid port (${m[2]}) for virtual service`, key);
    return { ...base, protocol: port === 53 ? 'udp' : 'tcp', address, port };
  };

  const closeVirtual = () => {
    if (!current) return;
    const { v, explicit } = current;
    if (!explicit.has('service')) v.service = v.protocol === 'fwm' ? 'none' : DEFAULT_SERVICE_BY_PORT[v.port!] ?? 'none';
    if (explicit.has('checkinterval') && !globals.fork) warnings.push({ line: v.line, message: `checkinterval in virtual service ${virtualId(v)} ignored when fork=no` });
    const dup = virtuals.find((o) => virtualId(o) === virtualId(v));
    if (dup) throw err(v.line, `duplicate virtual server (the same as line ${dup.line})`, 'virtual');
    virtuals.push(v);
    current = undefined;
  };

  const sectionDirective = (key: string, value: string, line: number, raw: string) => {
    const { v, explicit } = current!;
    const unknown = () => err(line, `Unknown command "${raw}"`, key);
    const quoted = () => { const m = value.match(/^"(.*)"$/); if (!m) throw unknown(); return m[1]; };
    explicit.add(key);
    switch (key) {
      case 'real': case 'real6':
        if ((key === 'real6') !== (v.family === 6)) throw err(line, key === 'real' ? 'cannot specify "real" here.  please use "real6" instead' : 'cannot specify "real6" here.  please use "real" instead', key);
        v.realServers.push(...parseReal(value, line, v.family === 6));
        return;
      case 'checktype': {
        const t = value;
        if (['connect', 'negotiate', 'on', 'off', 'ping', 'external', 'external-perl'].includes(t)) v.checktype = { kind: t as CheckKind };
        else if (/^\d+$/.test(t)) v.checktype = { kind: 'combined', connectRounds: Number(t) };
        else throw err(line, 'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number', key);
        return;
      }
      case 'service':
        if (!(SERVICES as readonly string[]).includes(value)) throw err(line, `service must be ${SERVICES.slice(0, -1).join(', ')} or ${SERVICES.at(-1)}`, key);
        v.service = value as Service;
        if (value === 'ftp') { v.login ||= 'anonymous'; v.passwd ||= `ldirectord@${hostname()}`; }
        if (value === 'sip') v.login ||= `ldirectord@${hostname()}`;
        return;
      case 'checkport': {
        const n = num(value, line, 'checkport must be in range 1..65536');
        if (n > 65535) throw err(line, 'checkport must be in range 1..65536', key);
        v.checkport = n;
        return;
      }
      case 'request': {
        const r = quoted();
        if (r === '') throw err(line, 'no request string specified', key);
        v.request = r.startsWith('/') || r.includes('://') ? r : `/${r}`;
        return;
      }
      case 'receive': { const r = quoted(); if (r === '') throw err(line, 'invalid receive string', key); v.receive = r; return; }
      case 'httpmethod': {
        const u = value.toUpperCase();
        if (u !== 'GET' && u !== 'HEAD') throw err(line, 'httpmethod must be GET or HEAD', key);
        v.httpmethod = u;
        return;
      }
      case 'virtualhost': v.virtualhost = unquote(value); return;
      case 'login': v.login = quoted(); return;
      case 'passwd': v.passwd = quoted(); return;
      case 'database': v.database = quoted(); return;
      case 'secret': v.secret = quoted(); return;
      case 'load': quoted(); return;
      case 'checkcommand': v.checkcommand = unquote(value); return;
      case 'scheduler':
        if (!/^[a-z]+$/.test(value)) throw err(line, 'invalid scheduler, should be only lowercase letters (a-z)', key);
        v.scheduler = value;
        return;
      case 'persistent': v.persistent = num(value, line, 'invalid persistent value', 0); return;
      case 'netmask':
        if (v.family === 4) {
          if (!isIPv4(value)) throw err(line, 'invalid netmask: dotted quad notation is required', key);
        } else if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 128) throw err(line, 'invalid netmask: an IPv6 prefix length 1..128 is required', key);
        v.netmask = value;
        return;
      case 'schedflags': if (!/^\S+$/.test(value)) throw err(line, 'invalid schedflags', key); v.schedflags = value; return;
      case 'protocol':
        if (v.fwmark !== undefined) {
          if (value !== 'fwm') throw err(line, 'protocol must be fwm if the virtual service is a fwmark (a number)', key);
        } else if (value !== 'tcp' && value !== 'udp') throw err(line, 'protocol must be tcp or udp if the virtual service is an address and port', key);
        v.protocol = value as 'tcp' | 'udp' | 'fwm';
        return;
      case 'ops': v.ops = yesno(key, value, line); return;
      case 'monitorfile': v.monitorfile = unquote(value); return;
      case 'servicename': v.servicename = value; return;
      case 'comment': v.comment = value; return;
      case 'fallback': case 'fallback6':
        if ((key === 'fallback6') !== (v.family === 6)) throw unknown();
        v.fallback = parseFallback(value, line, v.family === 6);
        return;
      case 'fallbackcommand': v.fallbackcommand = unquote(value); return;
      case 'quiescent': v.quiescent = yesno(key, value, line); return;
      case 'cleanstop': v.cleanstop = yesno(key, value, line); return;
      case 'emailalert': v.alerts.emailalert = unquote(value); return;
      case 'emailalertfreq': v.alerts.emailalertfreq = num(value, line, 'invalid email alert frequency', 0); return;
      case 'emailalertstatus': v.alerts.emailalertstatus = parseAlertStatus(value, line); return;
      case 'smtp': v.alerts.smtp = value; return;
      case 'checktimeout': v.checktimeout = num(value, line, 'invalid check timeout'); return;
      case 'negotiatetimeout': v.negotiatetimeout = num(value, line, 'invalid negotiate timeout'); return;
      case 'checkcount':
        v.checkcount = num(value, line, 'invalid check count');
        warnings.push({ line, message: "checkcount option is deprecated and slated for removal.  please see 'failurecount'" });
        return;
      case 'failurecount': v.failurecount = num(value, line, 'invalid failure count'); return;
      case 'checkinterval': v.checkinterval = num(value, line, 'invalid checkinterval'); return;
      case 'connecttimeout': throw err(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key);
      case 'timeout': throw err(line, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout', key);
      default: throw unknown();
    }
  };

  const globalDirective = (key: string, value: string, line: number, raw: string) => {
    const quoted = () => { const m = value.match(/^"(.*)"$/); if (!m) throw err(line, `Unknown command ${raw}`, key); return m[1]; };
    switch (key) {
      case 'checktimeout': globals.checktimeout = num(value, line, 'invalid check timeout'); return;
      case 'negotiatetimeout': globals.negotiatetimeout = num(value, line, 'invalid negotiate timeout'); return;
      case 'checkinterval': globals.checkinterval = num(value, line, 'invalid check interval value'); return;
      case 'checkcount':
        globals.checkcount = num(value, line, 'invalid check count');
        warnings.push({ line, message: "checkcount option is deprecated and slated for removal.  please see 'failurecount'" });
        return;
      case 'failurecount': globals.failurecount = num(value, line, 'invalid failure count'); return;
      case 'autoreload': globals.autoreload = yesno(key, value, line); return;
      case 'callback': globals.callback = quoted(); return;
      case 'fallback': globals.fallback = parseFallback(value, line, false); return;
      case 'fallback6': globals.fallback6 = parseFallback(value, line, true); return;
      case 'fallbackcommand': globals.fallbackcommand = value; return;
      case 'logfile': globals.logfile = quoted(); return;
      case 'execute': globals.execute.push(value); return;
      case 'fork': globals.fork = yesno(key, value, line); return;
      case 'supervised':
        if (value === '') { warnings.push({ line, message: 'supervised without a value: taken as yes' }); globals.supervised = true; return; }
        globals.supervised = yesno(key, value, line);
        return;
      case 'quiescent': globals.quiescent = yesno(key, value, line); return;
      case 'readdquiescent': globals.readdquiescent = yesno(key, value, line); return;
      case 'cleanstop': globals.cleanstop = yesno(key, value, line); return;
      case 'emailalert': globals.alerts.emailalert = unquote(value); return;
      case 'emailalertfreq': globals.alerts.emailalertfreq = num(value, line, 'invalid email alert frequency', 0); return;
      case 'emailalertstatus': globals.alerts.emailalertstatus = parseAlertStatus(value, line); return;
      case 'emailalertfrom': globals.alerts.emailalertfrom = value; return;
      case 'smtp': globals.alerts.smtp = value; return;
      case 'maintenancedir': globals.maintenancedir = value; return;
      case 'connecttimeout': throw err(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key);
      case 'timeout': throw err(line, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout', key);
      default: throw err(line, `Unknown command ${raw}`, key);
    }
  };

  lines.forEach((raw, k) => {
    const line = k + 1;
    if (current) {
      if (/^\s*#/.test(raw)) return;
      const text = stripComment(raw).replace(/\t/g, '    ');
      if (text.trim() === '') return;
      const m = text.match(/^ {4,}(\S.*)$/);
      if (m) {
        const d = m[1].match(/^(\w+)\s*=\s*(.*)$/);
        if (!d) throw err(line, `Unknown command "${raw}"`);
        sectionDirective(d[1], d[2], line, raw);
        return;
      }
      closeVirtual();
    }
    if (raw.trim() === '' || /^\s*#/.test(raw)) return;
    const d = raw.match(/^(\w+)\s*=\s*(.*)$/);
    if (!d) throw err(line, `Unknown command ${raw}`);
    const [, key, value] = d;
    if (key === 'virtual' || key === 'virtual6') {
      current = { v: openVirtual(key, value, line), explicit: new Set() };
      return;
    }
    globalDirective(key, value, line, raw);
  });
  closeVirtual();
  return { file, globals, virtualServices: virtuals, warnings };
}

export function loadLdirectordConfig(file: string): LdirectordConfig {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new InputError(`Config file ${file} not found (${(e as NodeJS.ErrnoException).code})`, { file }); }
  return parseLdirectordConfig(text, file);
}
