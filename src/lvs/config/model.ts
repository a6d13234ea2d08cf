// ldirectord.cf as a typed model: what parse.ts produces and the director consumes.
// Times are whole seconds, as written in the file. Addresses are IP literals (host names are
// resolved while parsing), IPv6 without brackets; ports are numbers (port names resolved).

export type Forwarding = 'gate' | 'masq' | 'ipip';
export const FORWARDINGS: readonly Forwarding[] = ['gate', 'masq', 'ipip'];
/** IPVS service kinds: address:port over TCP or UDP, or a firewall mark. */
export type Protocol = 'tcp' | 'udp' | 'fwm';
export type CheckKind = 'negotiate' | 'connect' | 'ping' | 'external' | 'external-perl' | 'on' | 'off';
export const CHECK_KINDS: readonly CheckKind[] = ['connect', 'negotiate', 'on', 'off', 'ping', 'external', 'external-perl'];
/**
 * How real servers are checked. `combined` is ldirectord's numeric checktype N (there is no
 * keyword for it): a negotiate check, then N rounds of plain connect, then negotiate again; a
 * failed connect forces a negotiate next round. N = 0 negotiates every round.
 */
export type Checktype = { kind: CheckKind } | { kind: 'combined'; connectRounds: number };

/** Protocols a negotiate check speaks, as ldirectord names them (`service=`). */
export const SERVICES = [
  'dns',
  'ftp',
  'http',
  'https',
  'http_proxy',
  'imap',
  'imaps',
  'ldap',
  'ldaps',
  'mysql',
  'nntp',
  'none',
  'oracle',
  'pop',
  'pops',
  'radius',
  'pgsql',
  'simpletcp',
  'sip',
  'smtp',
  'submission',
] as const;
export type Service = (typeof SERVICES)[number];

/** The service a virtual on this port gets when the file names none (ldirectord's table). */
export const SERVICE_BY_PORT: Readonly<Record<number, Service>> = {
  21: 'ftp',
  25: 'smtp',
  53: 'dns',
  80: 'http',
  110: 'pop',
  119: 'nntp',
  143: 'imap',
  389: 'ldap',
  443: 'https',
  587: 'submission',
  636: 'ldaps',
  993: 'imaps',
  995: 'pops',
  1521: 'oracle',
  1812: 'radius',
  3128: 'http_proxy',
  3306: 'mysql',
  5060: 'sip',
  5432: 'pgsql',
};
/** The port a negotiate check uses when neither checkport nor the real's port gives one. */
export const PORT_BY_SERVICE: Readonly<Partial<Record<Service, number>>> = Object.fromEntries(
  Object.entries(SERVICE_BY_PORT).map(([port, service]) => [service, Number(port)]),
);

/** Daemon phases an e-mail alert may be sent in (`emailalertstatus`). */
export type EmailPhase = 'starting' | 'running' | 'stopping' | 'reloading';
export const EMAIL_PHASES: readonly EmailPhase[] = ['starting', 'running', 'stopping', 'reloading'];

export interface RealServer {
  /** Line of the `real=` directive (a range `a->b` gives several servers on one line). */
  line: number;
  /** IP literal, IPv6 without brackets. */
  address: string;
  /** As written (names resolved); 0 when the line gives none (the usual form for fwmark services). */
  port: number;
  forwarding: Forwarding;
  /** IPVS weight; 1 unless given, 0 allowed. */
  weight: number;
  /**
   * Per-real check request/receive (both or neither), overriding the virtual's. The request
   * starts with `/`, unless it is an absolute URL (`scheme://...`), which the check then uses as is.
   */
  request?: string;
  receive?: string;
  /** Connection thresholds: `l:N` (ipvsadm -y, lower) and `u:N` (ipvsadm -x, upper); 0 = none. */
  lower: number;
  upper: number;
}

export interface Fallback {
  /** Line of the `fallback=` directive. */
  line: number;
  address: string;
  /** undefined: the virtual service's port (0 for a fwmark service). */
  port?: number;
  /** `gate` unless given. The fallback's weight is always 1, its thresholds 0. */
  forwarding: Forwarding;
}

export interface Alerts {
  /** Recipients, comma separated, as written (enclosing quotes removed). */
  emailalert?: string;
  /** Seconds between repeated "Inaccessible real server" mails; 0 = never repeat. */
  emailalertfreq?: number;
  /** Phases in which mails are sent: `all` = every phase, `none` = []. */
  emailalertstatus?: EmailPhase[];
  /** SMTP server to send through (host name or address). */
  smtp?: string;
}

export interface VirtualService {
  /** Line of the `virtual=`/`virtual6=` directive. */
  line: number;
  family: 4 | 6;
  /** tcp unless `protocol=` says otherwise; udp when the port is 53 (`domain`); fwm for a mark. */
  protocol: Protocol;
  /** The VIP (address services only). */
  address?: string;
  /** The VIP's port (address services only). */
  port?: number;
  /** The firewall mark (fwm services only). */
  fwmark?: number;
  realServers: RealServer[];
  checktype: Checktype;
  /** Negotiate protocol: `service=`, else inferred from the port (SERVICE_BY_PORT), else none (never checked). */
  service: Service;
  /** Port the checks use instead of the real's port. */
  checkport?: number;
  /** Negotiate request (default `/`): a path starting with `/`, or an absolute URL (for http_proxy). */
  request: string;
  /** Negotiate answer regex (Perl syntax in ldirectord); '' = any answer. */
  receive: string;
  httpmethod: 'GET' | 'HEAD';
  /** HTTP Host header (default: the real server's address). */
  virtualhost?: string;
  /** Credentials for ftp/imap/pop/ldap/sql/radius/sip checks ('' = none; `service=ftp` and `sip` fill defaults). */
  login: string;
  passwd: string;
  /** SQL database name. */
  database: string;
  /** RADIUS secret. */
  secret: string;
  /** `load=` (parsed, unused by ldirectord too). */
  load?: string;
  /** Program for external / external-perl checks, called with VIP VPORT RIP RPORT. Default /bin/true. */
  checkcommand: string;
  /** IPVS scheduler (lowercase letters; not checked against a list). Default wrr. */
  scheduler: string;
  /** Persistence timeout in seconds (ipvsadm -p); undefined = not persistent. */
  persistent?: number;
  /** Persistence granularity (ipvsadm -M): dotted quad for IPv4, prefix length 1..128 for IPv6. */
  netmask?: string;
  /** Scheduler flags (ipvsadm -b). */
  schedflags?: string;
  /** One-packet scheduling (ipvsadm -o), applied to udp services only. */
  ops: boolean;
  /** File each check result is appended to. */
  monitorfile?: string;
  /** Free text used in alert mails. */
  servicename?: string;
  comment?: string;
  /** This virtual's fallback server (overrides the global one). */
  fallback?: Fallback;
  /** Shell command run with `start|stop VIP:PORT PROTO` when no real server is up / one is again. */
  fallbackcommand?: string;
  // Overrides of globals (undefined = the global applies; see effective()).
  quiescent?: boolean;
  cleanstop?: boolean;
  alerts: Alerts;
  checktimeout?: number;
  negotiatetimeout?: number;
  checkcount?: number;
  failurecount?: number;
  /** Honoured only with fork=yes, as in ldirectord (a warning says so otherwise). */
  checkinterval?: number;
}

export interface Globals {
  /** Connect/ping/external timeout, seconds (unset: see effective()). */
  checktimeout?: number;
  /** Negotiate timeout, seconds (unset: see effective()). */
  negotiatetimeout?: number;
  /** Seconds between check rounds. Default 10. */
  checkinterval: number;
  /** Ping attempts (deprecated). Default 1. */
  checkcount: number;
  /** Consecutive failed checks before a real server is taken down. Default 1. */
  failurecount: number;
  /** Re-read the file when its content changes. Default no. */
  autoreload: boolean;
  /** Program run with the config path when the file's content changes. */
  callback?: string;
  /** Fallback server for every IPv4 (fallback) / IPv6 (fallback6) tcp/udp virtual without its own. */
  fallback?: Fallback;
  fallback6?: Fallback;
  /** Default fallbackcommand, verbatim (quotes included; the shell removes them). */
  fallbackcommand?: string;
  /** Log file (absolute path) or syslog facility. Default /var/log/ldirectord.log. */
  logfile: string;
  /** Other ldirectord configurations managed along with this one. */
  execute: string[];
  /** One process per virtual service in ldirectord (per-virtual checkinterval honoured). Default no. */
  fork: boolean;
  /** Run in the foreground, logging to stdout. Default no. */
  supervised: boolean;
  /** Keep failed real servers with weight 0 instead of removing them. Default no (the man page says yes; the code says no). */
  quiescent: boolean;
  /** Re-add absent failed real servers with weight 0 at start/reload (with quiescent). Default no. */
  readdquiescent: boolean;
  /** Remove the virtual services from IPVS on stop. Default yes. */
  cleanstop: boolean;
  alerts: Alerts & { emailalertfrom?: string };
  /** Directory whose files (`RIP:RPORT`, `RIP`, names) force real servers down. */
  maintenancedir?: string;
}

export interface ConfigWarning {
  line: number;
  message: string;
}

export interface LdirectordConfig {
  file: string;
  globals: Globals;
  virtualServices: VirtualService[];
  /** Non-fatal findings, in file order (ldirectord prints some of them too). */
  warnings: ConfigWarning[];
}

/** A virtual's identity as ldirectord writes it: `tcp:VIP:PORT`, `udp:[v6]:PORT`, `fwm:MARK`, `fwm6:MARK`. */
export function virtualId(v: VirtualService): string {
  if (v.protocol === 'fwm') return `fwm${v.family === 6 ? '6' : ''}:${v.fwmark}`;
  return `${v.protocol}:${hostPort(v.address!, v.port!)}`;
}

/** `IP:PORT`, with IPv6 in brackets. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export const DEFAULT_CHECKTIMEOUT = 5;
export const DEFAULT_NEGOTIATETIMEOUT = 30;

/** A virtual's settings after its overrides and the globals are combined, as ldirectord does. */
export interface EffectiveSettings {
  checktimeout: number;
  negotiatetimeout: number;
  failurecount: number;
  checkcount: number;
  checkinterval: number;
  quiescent: boolean;
  cleanstop: boolean;
  fallbackcommand?: string;
  fallback?: Fallback;
  emailalert?: string;
  emailalertfreq: number;
  emailalertstatus: EmailPhase[];
  smtp?: string;
}

export function effective(v: VirtualService, g: Globals): EffectiveSettings {
  return {
    // Each timeout stands in for the other when only one is set (virtual first, then global).
    checktimeout: v.checktimeout ?? v.negotiatetimeout ?? g.checktimeout ?? g.negotiatetimeout ?? DEFAULT_CHECKTIMEOUT,
    negotiatetimeout: v.negotiatetimeout ?? v.checktimeout ?? g.negotiatetimeout ?? g.checktimeout ?? DEFAULT_NEGOTIATETIMEOUT,
    failurecount: v.failurecount ?? g.failurecount,
    checkcount: v.checkcount ?? g.checkcount,
    checkinterval: (g.fork ? v.checkinterval : undefined) ?? g.checkinterval,
    quiescent: v.quiescent ?? g.quiescent,
    cleanstop: v.cleanstop ?? g.cleanstop,
    fallbackcommand: v.fallbackcommand ?? g.fallbackcommand,
    // The global fallback never applies to fwmark services: ldirectord builds a broken `-r :0`
    // command for them, which ipvsadm refuses, so none is ever installed.
    fallback: v.fallback ?? (v.protocol === 'fwm' ? undefined : v.family === 4 ? g.fallback : g.fallback6),
    emailalert: v.alerts.emailalert ?? g.alerts.emailalert,
    emailalertfreq: v.alerts.emailalertfreq ?? g.alerts.emailalertfreq ?? 0,
    emailalertstatus: v.alerts.emailalertstatus ?? g.alerts.emailalertstatus ?? [...EMAIL_PHASES],
    smtp: v.alerts.smtp ?? g.alerts.smtp,
  };
}
