// The directives of a virtual service section, one handler each, grouped by what they set:
// real servers and fallback, the health check, IPVS scheduling, alerts and the rest.
import type { ParseContext } from './context.js';
import { optionallyQuoted, quotedValue } from './context.js';
import { CHECK_KINDS, SERVICES, type CheckKind, type Service } from './model.js';
import type { OpenSection } from './section.js';
import { emailAlert, emailAlertFreq, emailAlertStatus, normaliseRequest, smtpServer, splitFallback } from './values.js';

/** One `key=value` line of a section, with what its handler needs. */
interface Directive {
  ctx: ParseContext;
  s: OpenSection;
  key: string;
  value: string;
  line: number;
  /** The value in double quotes, or `Unknown command` (ldirectord's pattern did not match). */
  quoted(): string;
  /** The value, or `message` when it is empty. */
  nonEmpty(x: string, message: string): string;
}
type Handler = (d: Directive) => void;

const servers: Record<string, Handler> = {
  real: (d) => realLine(d),
  real6: (d) => realLine(d),
  fallback: (d) => fallbackLine(d),
  fallback6: (d) => fallbackLine(d),
  fallbackcommand: ({ s, value, nonEmpty }) => {
    s.v.fallbackcommand = nonEmpty(optionallyQuoted(value), 'invalid fallback command');
  },
};

function realLine({ ctx, s, key, value, line }: Directive): void {
  const { family } = s.v;
  if ((key === 'real6') !== (family === 6)) ctx.fail(line, `cannot specify "${key}" here.  please use "real${family === 6 ? '6' : ''}" instead`, key);
  s.reals.push({ value, line, field: key });
}

function fallbackLine({ ctx, s, key, value, line }: Directive): void {
  const { family } = s.v;
  if ((key === 'fallback6') !== (family === 6)) ctx.fail(line, `cannot specify "${key}" here.  please use "fallback${family === 6 ? '6' : ''}" instead`, key);
  s.fallback = splitFallback(ctx, value, line, key);
}

const check: Record<string, Handler> = {
  request: ({ s, quoted, nonEmpty }) => {
    s.v.request = normaliseRequest(nonEmpty(quoted(), 'no request string specified'));
  },
  receive: ({ s, quoted, nonEmpty }) => {
    s.v.receive = nonEmpty(quoted(), 'invalid receive string');
  },
  checktype: ({ ctx, s, key, value, line }) => {
    const digits = value.match(/\d+/);
    const word = value.match(/[\w-]+/)?.[0];
    if (digits) s.v.checktype = { kind: 'combined', connectRounds: Number(digits[0]) };
    else if (word !== undefined && (CHECK_KINDS as readonly string[]).includes(word)) s.v.checktype = { kind: word as CheckKind };
    else ctx.fail(line, 'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number', key);
  },
  checkcommand: ({ s, value, nonEmpty }) => {
    s.v.checkcommand = nonEmpty(optionallyQuoted(value), 'invalid check command');
  },
  checktimeout: ({ ctx, s, key, value, line }) => {
    s.v.checktimeout = ctx.seconds(value, line, key, 'invalid check timeout');
  },
  negotiatetimeout: ({ ctx, s, key, value, line }) => {
    s.v.negotiatetimeout = ctx.seconds(value, line, key, 'invalid negotiate timeout');
  },
  connecttimeout: ({ ctx, key, line }) => ctx.fail(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key),
  checkcount: ({ ctx, s, key, value, line }) => {
    s.v.checkcount = ctx.positive(value, line, key, 'invalid check count');
    ctx.warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
  },
  failurecount: ({ ctx, s, key, value, line }) => {
    s.v.failurecount = ctx.positive(value, line, key, 'invalid failure count');
  },
  checkinterval: ({ ctx, s, key, value, line }) => {
    s.v.checkinterval = ctx.seconds(value, line, key, 'invalid checkinterval');
    s.checkintervalLine = line;
  },
  checkport: ({ ctx, s, key, value, line }) => {
    const digits = value.match(/\d+/);
    if (!digits) return ctx.fail(line, 'invalid port', key);
    const n = Number(digits[0]);
    if (n < 1 || n > 65535) ctx.fail(line, 'checkport must be in range 1..65536', key);
    s.v.checkport = n;
  },
  login: ({ s, quoted, nonEmpty }) => {
    s.v.login = nonEmpty(quoted(), 'invalid login string');
  },
  passwd: ({ s, quoted, nonEmpty }) => {
    s.v.passwd = nonEmpty(quoted(), 'invalid password');
  },
  database: ({ s, quoted, nonEmpty }) => {
    s.v.database = nonEmpty(quoted(), 'invalid database');
  },
  secret: ({ s, quoted, nonEmpty }) => {
    s.v.secret = nonEmpty(quoted(), 'invalid secret');
  },
  load: ({ ctx, s, key, line, quoted }) => {
    const word = quoted().match(/\w+/);
    if (!word) return ctx.fail(line, 'invalid string for load testing', key);
    s.v.load = word[0];
  },
  service: (d) => serviceLine(d),
  httpmethod: ({ ctx, s, key, value, line }) => {
    const word = value.match(/\w+/)?.[0].toUpperCase();
    if (word !== 'GET' && word !== 'HEAD') return ctx.fail(line, 'httpmethod must be GET or HEAD', key);
    s.v.httpmethod = word;
  },
  virtualhost: ({ s, value }) => {
    const host = value.match(/^"?([^"]*)/)![1].trimEnd();
    s.v.virtualhost = host === '' ? undefined : host;
  },
};

function serviceLine({ ctx, s, key, value, line }: Directive): void {
  const { v } = s;
  const word = value.match(/\w+/)?.[0];
  if (word === undefined || !(SERVICES as readonly string[]).includes(word)) {
    ctx.fail(line, `service must be ${SERVICES.slice(0, -1).join(', ')} or ${SERVICES.at(-1)}`, key);
  }
  v.service = word as Service;
  s.serviceSet = true;
  // Defaults filled when `service=` is read, so a login given before it is kept, one after it wins.
  if (v.service === 'ftp' && v.login === '') v.login = 'anonymous';
  else if (v.service === 'sip' && v.login === '') v.login = `ldirectord@${ctx.localName}`;
  if (v.service === 'ftp' && v.passwd === '') v.passwd = `ldirectord@${ctx.localName}`;
}

const scheduling: Record<string, Handler> = {
  scheduler: ({ ctx, s, key, value, line }) => {
    const name = value.match(/[a-z]+/);
    if (!name) return ctx.fail(line, 'invalid scheduler, should be only lowercase letters (a-z)', key);
    s.v.scheduler = name[0];
  },
  persistent: ({ ctx, s, key, value, line }) => {
    const digits = value.match(/\d+/);
    if (!digits) return ctx.fail(line, 'invalid persistent timeout', key);
    s.v.persistent = Number(digits[0]);
  },
  schedflags: ({ ctx, s, key, value, line }) => {
    const flags = value.match(/\S+/);
    if (!flags) return ctx.fail(line, 'invalid sched-flags', key);
    s.v.schedflags = flags[0];
  },
  netmask: ({ ctx, s, key, value, line }) => {
    if (s.v.family === 6) {
      if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 128)
        ctx.fail(line, 'invalid netmask: a prefix length between 1 and 128 is required', key);
    } else if (!/^\d+\.\d+\.\d+\.\d+$/.test(value) || value.split('.').some((o) => Number(o) > 255)) {
      ctx.fail(line, 'invalid netmask: dotted quad notation is required', key);
    }
    s.v.netmask = value;
  },
  protocol: ({ ctx, s, key, value, line }) => {
    const word = value.match(/\w+/)?.[0];
    if (word === undefined) return ctx.fail(line, 'invalid protocol', key);
    if (s.v.protocol === 'fwm') {
      if (word !== 'fwm') ctx.fail(line, 'protocol must be fwm if the virtual service is a fwmark (a number)', key);
    } else if (word === 'tcp' || word === 'udp') {
      s.v.protocol = word;
    } else {
      ctx.fail(line, 'protocol must be tcp or udp if the virtual service is an address and port', key);
    }
  },
  ops: ({ ctx, s, key, value, line }) => {
    s.v.ops = ctx.yesno(key, value, line);
  },
  quiescent: ({ ctx, s, key, value, line }) => {
    s.v.quiescent = ctx.yesno(key, value, line);
  },
  cleanstop: ({ ctx, s, key, value, line }) => {
    s.v.cleanstop = ctx.yesno(key, value, line);
  },
};

const other: Record<string, Handler> = {
  emailalert: ({ ctx, s, key, value, line }) => {
    s.v.alerts.emailalert = emailAlert(ctx, value, line, key);
  },
  emailalertfreq: ({ ctx, s, key, value, line }) => {
    s.v.alerts.emailalertfreq = emailAlertFreq(ctx, value, line, key);
  },
  emailalertstatus: ({ ctx, s, key, value, line }) => {
    s.v.alerts.emailalertstatus = emailAlertStatus(ctx, value, line, key);
  },
  smtp: ({ ctx, s, key, value, line }) => {
    s.v.alerts.smtp = smtpServer(ctx, value, line, key);
  },
  monitorfile: ({ ctx, s, key, value, line }) => {
    const path = optionallyQuoted(value);
    const why = ctx.files?.appendError(path);
    if (why !== undefined) ctx.fail(line, `unable to open monitorfile ${path}: ${why}`, key);
    s.v.monitorfile = path;
  },
  servicename: ({ s, value }) => {
    s.v.servicename = value;
  },
  comment: ({ s, value }) => {
    s.v.comment = value;
  },
};

/** A Map, not an object: `constructor=` or `__proto__=` must be unknown commands, not lookups. */
const HANDLERS = new Map<string, Handler>(Object.entries({ ...servers, ...check, ...scheduling, ...other }));

/** One section line (`rcmd`: after the indentation, comment cut; `raw`: the line as written). */
export function sectionDirective(ctx: ParseContext, s: OpenSection, rcmd: string, raw: string, line: number): void {
  const d = rcmd.match(/^(\w+)\s*=\s*(.*)$/s);
  const unknown = (): never => ctx.fail(line, `Unknown command "${raw}"`, d?.[1]);
  const handler = d ? HANDLERS.get(d[1]) : undefined;
  if (!d || !handler) return unknown();
  const [, key, value] = d;
  handler({
    ctx,
    s,
    key,
    value,
    line,
    quoted: () => quotedValue(value) ?? unknown(),
    nonEmpty: (x, message) => (x === '' ? ctx.fail(line, message, key) : x),
  });
}
