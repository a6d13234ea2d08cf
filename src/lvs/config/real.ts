// `real=` / `real6=` lines: one server or an IPv4 range `a->b` of them, then the flags
// (`gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`), taken apart as ldirectord does.
import { MAX_RANGE, MAX_REAL_SERVERS, type ParseContext } from './context.js';
import { FORWARDINGS, type Forwarding, type RealServer } from './model.js';
import { afterBlanks, quotedPair } from './scan.js';
import { matchRealLine } from './real-address.js';
import { normaliseRequest } from './values.js';

const ipv4ToNumber = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const numberToIpv4 = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

/** The addresses `first->last` stands for (IPv4 only, at most MAX_RANGE of them). */
export function addressRange(ctx: ParseContext, first: string, last: string, family: 4 | 6, line: number, field: string): string[] {
  if (family === 6) ctx.fail(line, 'Address range for IPv6 is not supported yet', field);
  const [a, b] = [ipv4ToNumber(first), ipv4ToNumber(last)];
  if (a > b) ctx.fail(line, `Invalid Range: ${first}-${last}: First value must be greater than or equal to the second value`, field);
  if (b - a >= MAX_RANGE) ctx.fail(line, `Invalid Range: ${first}-${last}: more than ${MAX_RANGE} addresses`, field);
  return Array.from({ length: b - a + 1 }, (_, k) => numberToIpv4(a + k));
}

/** What the flags after a real server's address set (the model's fields, one definition). */
export type RealFlags = Pick<RealServer, 'forwarding' | 'weight' | 'request' | 'receive' | 'lower' | 'upper'>;

const WEIGHT = /(\d+)/y;
const LOWER = /l:(\d+)/y;
const UPPER = /u:(\d+)/y;

/**
 * The flags as ldirectord takes them apart: each later part is searched for in what follows the
 * previous one (`/\s+(\d+)(.*)/` and so on, through the linear searches of scan.ts), and only text
 * left over after the last part found is an error.
 */
export function realFlags(ctx: ParseContext, flags: string, line: number, field: string): RealFlags {
  const method = flags.match(/(\w+)(.*)/s);
  if (!method || !(FORWARDINGS as readonly string[]).includes(method[1])) return ctx.fail(line, 'forward method must be gate, masq or ipip', field);
  const r: RealFlags = { forwarding: method[1] as Forwarding, weight: 1, request: undefined, receive: undefined, lower: 0, upper: 0 };
  let rest = method[2];
  const w = afterBlanks(rest, WEIGHT);
  if (w) {
    r.weight = Number(w.match[1]);
    rest = w.rest;
  }
  const rr = quotedPair(rest);
  if (rr) {
    rest = rr.rest;
    const [l, u] = [rr.first.match(/^l:(\d+)$/), rr.second.match(/^u:(\d+)$/)];
    if (l && u) {
      [r.lower, r.upper] = [Number(l[1]), Number(u[1])];
      ctx.warn(
        line,
        `thresholds in quotes ("${rr.first}" "${rr.second}") taken as ${rr.first} ${rr.second}; ldirectord would have read them as check request "/${rr.first}" and receive "${rr.second}"`,
      );
    } else {
      r.request = normaliseRequest(rr.first);
      r.receive = rr.second;
    }
  }
  const lm = afterBlanks(rest, LOWER);
  if (lm) {
    r.lower = Number(lm.match[1]);
    rest = lm.rest;
  }
  const um = afterBlanks(rest, UPPER);
  if (um) {
    r.upper = Number(um.match[1]);
    rest = um.rest;
  }
  if (/\S/.test(rest)) {
    const hint = /"[lu]:\d+"/.test(rest) ? ' (connection thresholds are written without quotes: l:N u:N)' : '';
    ctx.fail(line, `Invalid real server line, around "${rest}"${hint}`, field);
  }
  if (r.weight > 65535) ctx.warn(line, `weight ${r.weight} is above 65535, which ipvsadm refuses`);
  return r;
}

/** `real=`: one line, one server or an IPv4 range of them. */
export function parseReal(ctx: ParseContext, value: string, line: number, field: string, family: 4 | 6): RealServer[] {
  // `ADDR[->ADDR2][:PORT] FLAGS`, searched anywhere in the value (ldirectord does not anchor it).
  const m = matchRealLine(value);
  if (!m) return ctx.fail(line, 'invalid address for real server (wrong format)', field);
  const { ip1, ip2, portText = '0', flags: flagText } = m;
  const first = ctx.hostAddress(ip1, family);
  if (first === undefined) return ctx.fail(line, `invalid address (${ip1}) for real server (could not resolve host)`, field);
  const port = ctx.portNumber(portText, '');
  if (port === undefined) return ctx.fail(line, `invalid port (${portText}) for real server (could not resolve port)`, field);
  let addresses = [first];
  if (ip2 !== undefined) {
    const last = ctx.hostAddress(ip2, family);
    if (last === undefined) return ctx.fail(line, `invalid address (${ip2}) for real server (could not resolve end host)`, field);
    addresses = addressRange(ctx, first, last, family, line, field);
  }
  const flags = realFlags(ctx, flagText, line, field);
  ctx.realCount += addresses.length;
  if (ctx.realCount > MAX_REAL_SERVERS) ctx.fail(line, `more than ${MAX_REAL_SERVERS} real servers`, field);
  const { forwarding, weight, request, receive, lower, upper } = flags;
  return addresses.map((address) => ({ line, address, port, forwarding, weight, request, receive, lower, upper }));
}
