// A virtual service section: its `virtual=`/`virtual6=` line opens it, its directives fill it
// (section-directives.ts), and when it ends its names are resolved and it joins the model: the
// fallback first, then the virtual, then the real servers, in ldirectord's order.
import { canonicalAddress } from './resolve.js';
import type { ParseContext } from './context.js';
import { SERVICE_BY_PORT, type CheckKind, type Service, type VirtualService, virtualId } from './model.js';
import { parseReal } from './real.js';
import { resolveFallback, type FallbackText } from './values.js';

/** The port of `virtual=` (one class: `80x` is the port name `80x`, not 80). */
const VIRTUAL_PORT = '([0-9A-Za-z_-]+)';
const V4_VIRTUAL = new RegExp(`^(\\d+\\.\\d+\\.\\d+\\.\\d+):${VIRTUAL_PORT}`);
const NAMED_VIRTUAL = new RegExp(`^([0-9A-Za-z._+-]+):${VIRTUAL_PORT}`);
const V6_VIRTUAL = new RegExp(`^\\[([0-9A-Fa-f:]+)\\]:${VIRTUAL_PORT}`);

export interface OpenSection {
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

/** The virtual services of a file so far. */
export interface VirtualList {
  virtuals: VirtualService[];
  /** Each service's identity, at the line that defined it (duplicates are errors). */
  seen: Map<string, number>;
  /** Per-virtual checkinterval lines, warned about unless fork=yes. */
  checkintervalLines: Map<VirtualService, number>;
}

function newVirtual(line: number, family: 4 | 6) {
  return {
    line,
    family,
    realServers: [],
    checktype: { kind: 'negotiate' as CheckKind },
    service: 'none' as Service,
    request: '/',
    receive: '',
    httpmethod: 'GET' as const,
    login: '',
    passwd: '',
    database: '',
    secret: '',
    checkcommand: '/bin/true',
    scheduler: 'wrr',
    ops: false,
    alerts: {},
  };
}

/** `virtual=VALUE`: an address service (`IP:PORT`, `name:PORT`, `[v6]:PORT`) or a firewall mark. */
export function openSection(ctx: ParseContext, six: boolean, value: string, line: number): OpenSection {
  const family: 4 | 6 = six ? 6 : 4;
  const field = six ? 'virtual6' : 'virtual';
  const base = newVirtual(line, family);
  let m: RegExpMatchArray | null;
  let host: string;
  let portText: string;
  if ((!six && (m = value.match(V4_VIRTUAL))) || (m = value.match(NAMED_VIRTUAL))) {
    [host, portText] = [m[1], m[2]];
  } else if ((m = value.match(/^\d+/))) {
    const mark = Number(m[0]);
    // ipvsadm refuses other marks, so ldirectord never installs such a service; nor does aavip.
    const unusable = mark < 1 || mark > 0xffffffff;
    if (unusable) ctx.warn(line, `${field}=${m[0]}: firewall mark ${m[0]} is outside 1..4294967295, which IPVS refuses: this virtual service is ignored`);
    const next = value.charAt(m[0].length);
    if (next !== '' && !/\s/.test(next)) {
      ctx.warn(
        line,
        `${field}=${value.trim()} has no port: it is firewall mark ${mark}, as ldirectord reads it (an address service is written ${field}=${six ? '[ADDRESS]' : 'ADDRESS'}:PORT)`,
      );
    }
    return { v: { ...base, protocol: 'fwm', fwmark: mark }, markText: m[0], unusable, serviceSet: false, reals: [] };
  } else if ((m = value.match(V6_VIRTUAL))) {
    if (!six) ctx.fail(line, 'cannot specify an IPv6 address here. please use "virtual6" instead.', field);
    if (canonicalAddress(m[1], 6) === undefined) ctx.fail(line, 'invalid ipv6 address for virtual server', field);
    [host, portText] = [`[${m[1]}]`, m[2]];
  } else {
    return ctx.fail(line, 'invalid address for virtual server', field);
  }
  const protocol = portText === '53' || portText === 'domain' ? 'udp' : 'tcp';
  return { v: { ...base, protocol }, host, portText, serviceSet: false, reals: [] };
}

/** The section's names resolved, in ldirectord's order: fallback, virtual, real servers. */
function resolveSection(ctx: ParseContext, s: OpenSection): void {
  const { v } = s;
  const field = v.family === 6 ? 'virtual6' : 'virtual';
  if (s.fallback) {
    const protocol = v.protocol === 'fwm' ? 'tcp' : v.protocol;
    v.fallback = resolveFallback(ctx, s.fallback, v.family, [protocol], s.portText ?? '0');
  }
  if (v.protocol !== 'fwm') {
    const address = ctx.hostAddress(s.host!, v.family);
    const port = ctx.portNumber(s.portText!, v.protocol);
    if (address === undefined || port === undefined) ctx.fail(v.line, 'invalid address for virtual service', field);
    v.address = address;
    v.port = port;
  }
  for (const r of s.reals) v.realServers.push(...parseReal(ctx, r.value, r.line, r.field, v.family));
  if (!s.serviceSet) v.service = v.protocol === 'fwm' ? 'none' : (SERVICE_BY_PORT[v.port!] ?? 'none');
}

/** The section ends: resolved, checked against the services before it, and added (unless unusable). */
export function closeSection(ctx: ParseContext, list: VirtualList, s: OpenSection): void {
  resolveSection(ctx, s);
  const { v } = s;
  const id = s.markText !== undefined ? `fwm${v.family === 6 ? '6' : ''}:${s.markText}` : virtualId(v);
  const first = list.seen.get(id);
  if (first !== undefined) ctx.fail(v.line, `duplicate virtual server (${id} is already defined at line ${first})`, v.family === 6 ? 'virtual6' : 'virtual');
  list.seen.set(id, v.line);
  if (s.unusable) return;
  if (s.checkintervalLine !== undefined) list.checkintervalLines.set(v, s.checkintervalLine);
  list.virtuals.push(v);
}
