// Column-0 directives: the globals, with ldirectord's defaults and its per-directive messages
// (which differ from the section's: `invalid check timeout value`, `Unknown command LINE`).
import { quotedValue, type ParseContext } from './context.js';
import type { Globals } from './model.js';
import { emailAlert, emailAlertFreq, emailAlertStatus, resolveFallback, smtpServer, splitFallback } from './values.js';

export function defaultGlobals(): Globals {
  return {
    checkinterval: 10,
    checkcount: 1,
    failurecount: 1,
    autoreload: false,
    logfile: '/var/log/ldirectord.log',
    execute: [],
    fork: false,
    supervised: false,
    quiescent: false,
    readdquiescent: false,
    cleanstop: true,
    alerts: {},
  };
}

interface Directive {
  ctx: ParseContext;
  g: Globals;
  key: string;
  value: string;
  line: number;
  quoted(): string;
}
type Handler = (d: Directive) => void;

const checks: Record<string, Handler> = {
  checktimeout: ({ ctx, g, key, value, line }) => {
    g.checktimeout = ctx.seconds(value, line, key, 'invalid check timeout value');
  },
  connecttimeout: ({ ctx, key, line }) => ctx.fail(line, 'connecttimeout directive deprecated in favour of negotiatetimeout', key),
  negotiatetimeout: ({ ctx, g, key, value, line }) => {
    g.negotiatetimeout = ctx.seconds(value, line, key, 'invalid negotiate timeout value');
  },
  checkinterval: ({ ctx, g, key, value, line }) => {
    g.checkinterval = ctx.seconds(value, line, key, 'invalid check interval value');
  },
  checkcount: ({ ctx, g, key, value, line }) => {
    g.checkcount = ctx.positive(value, line, key, 'invalid check count value');
    ctx.warn(line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'");
  },
  failurecount: ({ ctx, g, key, value, line }) => {
    g.failurecount = ctx.positive(value, line, key, 'invalid failure count value');
  },
  timeout: ({ ctx, key, line }) => ctx.fail(line, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout', key),
};

const servers: Record<string, Handler> = {
  fallback: ({ ctx, g, key, value, line }) => {
    g.fallback = resolveFallback(ctx, splitFallback(ctx, value, line, key), 4, ['tcp', 'udp']);
  },
  fallback6: ({ ctx, g, key, value, line }) => {
    g.fallback6 = resolveFallback(ctx, splitFallback(ctx, value, line, key), 6, ['tcp', 'udp']);
  },
  fallbackcommand: ({ ctx, g, key, value, line }) => {
    if (value === '') ctx.fail(line, 'invalid fallback command', key);
    g.fallbackcommand = value;
  },
  quiescent: ({ ctx, g, key, value, line }) => {
    g.quiescent = ctx.yesno(key, value, line);
  },
  readdquiescent: ({ ctx, g, key, value, line }) => {
    g.readdquiescent = ctx.yesno(key, value, line);
  },
  cleanstop: ({ ctx, g, key, value, line }) => {
    g.cleanstop = ctx.yesno(key, value, line);
  },
  maintenancedir: ({ ctx, g, key, value, line }) => {
    if (value === '') ctx.fail(line, 'maintenance directory not specified', key);
    g.maintenancedir = value;
    if (ctx.files && !ctx.files.isDirectory(value)) ctx.warn(line, 'maintenance directory does not exist');
  },
};

const daemon: Record<string, Handler> = {
  autoreload: ({ ctx, g, key, value, line }) => {
    g.autoreload = ctx.yesno(key, value, line);
  },
  callback: ({ g, quoted }) => {
    const c = quoted();
    g.callback = c === '' ? undefined : c;
  },
  logfile: ({ ctx, g, key, line, quoted }) => {
    const path = quoted();
    // Opened (and so checked) only when logging goes to it: not in supervised mode, as in ldirectord.
    if (path.startsWith('/') && !g.supervised && ctx.files?.appendError(path) !== undefined) ctx.fail(line, `unable to open logfile: ${path}`, key);
    g.logfile = path;
  },
  execute: ({ g, value }) => {
    if (!g.execute.includes(value)) g.execute.push(value);
  },
  fork: ({ ctx, g, key, value, line }) => {
    g.fork = ctx.yesno(key, value, line);
  },
};

const alerts: Record<string, Handler> = {
  emailalert: ({ ctx, g, key, value, line }) => {
    g.alerts.emailalert = emailAlert(ctx, value, line, key);
  },
  emailalertfreq: ({ ctx, g, key, value, line }) => {
    g.alerts.emailalertfreq = emailAlertFreq(ctx, value, line, key);
  },
  emailalertstatus: ({ ctx, g, key, value, line }) => {
    g.alerts.emailalertstatus = emailAlertStatus(ctx, value, line, key);
  },
  emailalertfrom: ({ ctx, g, key, value, line }) => {
    if (value === '') ctx.fail(line, 'no email from address specified', key);
    g.alerts.emailalertfrom = value;
  },
  smtp: ({ ctx, g, key, value, line }) => {
    g.alerts.smtp = smtpServer(ctx, value, line, key);
  },
};

/** A Map, not an object: `constructor=` or `__proto__=` must be unknown commands, not lookups. */
const HANDLERS = new Map<string, Handler>(Object.entries({ ...checks, ...servers, ...daemon, ...alerts }));

/** `supervised` is the one global that may stand alone (deprecated), so it is matched first. */
function supervisedLine(ctx: ParseContext, g: Globals, raw: string, line: number): void {
  const m = raw.match(/^supervised\s*=\s*(.*)$/s);
  if (m && (m[1] === 'yes' || m[1] === 'no')) g.supervised = m[1] === 'yes';
  else if (/^supervised\s*$/.test(raw)) {
    g.supervised = true;
    ctx.warn(line, 'please update your config not to use a bare supervised directive');
  } else ctx.fail(line, "supervised must be 'yes' or 'no'", 'supervised');
}

export function globalDirective(ctx: ParseContext, g: Globals, raw: string, line: number): void {
  if (raw.startsWith('supervised')) return supervisedLine(ctx, g, raw, line);
  const d = raw.match(/^(\w+)\s*=\s*(.*)$/s);
  const unknown = (): never => ctx.fail(line, `Unknown command ${raw}`, d?.[1]);
  const handler = d ? HANDLERS.get(d[1]) : undefined;
  if (!d || !handler) return unknown();
  const [, key, value] = d;
  handler({ ctx, g, key, value, line, quoted: () => quotedValue(value) ?? unknown() });
}
