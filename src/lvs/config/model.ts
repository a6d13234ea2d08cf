// ldirectord.cf as a typed model. Times are in seconds, as in the file.

export type Forwarding = 'gate' | 'masq' | 'ipip';
export type Protocol = 'tcp' | 'udp' | 'fwm';
export type CheckKind = 'negotiate' | 'connect' | 'ping' | 'external' | 'external-perl' | 'on' | 'off';
/** A check type; `combined` is ldirectord's numeric checktype: negotiate, then N rounds of connect. */
export type Checktype = { kind: CheckKind } | { kind: 'combined'; connectRounds: number };

export const SERVICES = ['dns', 'ftp', 'http', 'https', 'http_proxy', 'imap', 'imaps', 'ldap', 'ldaps', 'mysql', 'nntp', 'none', 'oracle', 'pop',
  'pops', 'radius', 'pgsql', 'simpletcp', 'sip', 'smtp', 'submission'] as const;
export type Service = (typeof SERVICES)[number];

export interface RealServer {
  /** Line of the `real=` directive (one line may expand to several servers through a range). */
  line: number;
  address: string;
  /** 0 when the line gives none. */
  port: number;
  forwarding: Forwarding;
  weight: number;
  /** Per-real check request/receive, overriding the virtual's. */
  request?: string;
  receive?: string;
  /** Connection thresholds (ipvsadm -y / -x); 0 = none. */
  lower: number;
  upper: number;
}

export interface Fallback {
  address: string;
  /** undefined: the virtual's port. */
  port?: number;
  forwarding: Forwarding;
}

export interface Alerts {
  emailalert?: string;
  emailalertfreq?: number;
  emailalertstatus?: string[];
  smtp?: string;
}

export interface VirtualService {
  line: number;
  family: 4 | 6;
  protocol: Protocol;
  /** The VIP (IP forms) — undefined for fwmark services. */
  address?: string;
  port?: number;
  fwmark?: number;
  realServers: RealServer[];
  checktype: Checktype;
  service: Service;
  checkport?: number;
  request: string;
  receive: string;
  httpmethod: 'GET' | 'HEAD';
  virtualhost?: string;
  login: string;
  passwd: string;
  database: string;
  secret: string;
  checkcommand: string;
  scheduler: string;
  persistent?: number;
  netmask?: string;
  schedflags?: string;
  ops: boolean;
  monitorfile?: string;
  servicename?: string;
  comment?: string;
  fallback?: Fallback;
  fallbackcommand?: string;
  quiescent?: boolean;
  cleanstop?: boolean;
  alerts: Alerts;
  /** Set in this section (overriding the globals). */
  checktimeout?: number;
  negotiatetimeout?: number;
  checkcount?: number;
  failurecount?: number;
  checkinterval?: number;
}

export interface Globals {
  checktimeout?: number;
  negotiatetimeout?: number;
  checkinterval: number;
  checkcount: number;
  failurecount: number;
  autoreload: boolean;
  callback?: string;
  fallback?: Fallback;
  fallback6?: Fallback;
  fallbackcommand?: string;
  logfile: string;
  execute: string[];
  fork: boolean;
  supervised: boolean;
  /** The code's default is no (the man page says yes). */
  quiescent: boolean;
  readdquiescent: boolean;
  cleanstop: boolean;
  alerts: Alerts & { emailalertfrom?: string };
  maintenancedir?: string;
}

export interface LdirectordConfig {
  file: string;
  globals: Globals;
  virtualServices: VirtualService[];
  warnings: { line: number; message: string }[];
}

/** A virtual's identity as ipvsadm prints it: `tcp:VIP:PORT`, `udp:[v6]:PORT`, `fwm:MARK`. */
export function virtualId(v: VirtualService): string {
  if (v.protocol === 'fwm') return `fwm:${v.fwmark}`;
  return `${v.protocol}:${hostPort(v.address!, v.port!)}`;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Effective timeouts and counts of a virtual, resolved as ldirectord does. */
export function effective(v: VirtualService, g: Globals) {
  return {
    checktimeout: v.checktimeout ?? v.negotiatetimeout ?? g.checktimeout ?? g.negotiatetimeout ?? 5,
    negotiatetimeout: v.negotiatetimeout ?? v.checktimeout ?? g.negotiatetimeout ?? g.checktimeout ?? 30,
    failurecount: v.failurecount ?? g.failurecount,
    checkcount: v.checkcount ?? g.checkcount,
    checkinterval: (g.fork ? v.checkinterval : undefined) ?? g.checkinterval,
    quiescent: v.quiescent ?? g.quiescent,
    cleanstop: v.cleanstop ?? g.cleanstop,
    fallbackcommand: v.fallbackcommand ?? g.fallbackcommand,
    /** The global fallback never applies to fwmark virtuals (ldirectord would emit a broken `-r :0`). */
    fallback: v.fallback ?? (v.protocol === 'fwm' ? undefined : v.family === 4 ? g.fallback : g.fallback6),
  };
}
