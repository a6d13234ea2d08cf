// Values of ldirectord.cf directives that globals and sections share, extracted as ldirectord
// extracts them: comments, check requests, e-mail alert settings, fallback servers.
import type { ParseContext } from './context.js';
import { EMAIL_PHASES, FORWARDINGS, type EmailPhase, type Fallback, type Forwarding } from './model.js';
import { lastWords, splitCommaList } from './scan.js';

// Grammar pieces, as ldirectord matches them. Perl's `.` matches any character but a newline, so
// every pattern with `.` has the `s` flag (lines hold no newline; a CR inside a line is kept).
/** The characters of a port name. */
export const PORT_CHARS = 'A-Za-z0-9_-';
/** A port as written after `:` (digits or a service name). */
export const PORT = `(\\d+|[${PORT_CHARS}]+)`;
const URL_REQUEST = /^\/?([A-Za-z][A-Za-z0-9+.-]*:\/\/.*)$/s;

/** Cuts a `#` comment, keeping a `#` inside a balanced pair of double quotes. */
export function stripComment(line: string): string {
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
export function normaliseRequest(request: string): string {
  const url = request.match(URL_REQUEST);
  if (url) return url[1];
  return request.startsWith('/') ? request : `/${request}`;
}

export function emailAlert(ctx: ParseContext, value: string, line: number, field: string): string {
  const addr = value.match(/^"([^"]*)"$/)?.[1] ?? value;
  if (addr === '') ctx.fail(line, 'no email address specified', field);
  return addr;
}

export function emailAlertFreq(ctx: ParseContext, value: string, line: number, field: string): number {
  const m = value.match(/^\d+/); // ldirectord: `emailalertfreq\s*=\s*(\d*)`
  if (!m) return ctx.fail(line, 'invalid email alert frequency', field);
  return Number(m[0]);
}

export function emailAlertStatus(ctx: ParseContext, value: string, line: number, field: string): EmailPhase[] {
  const items = splitCommaList(value);
  const none = items.includes('none');
  const phases = new Set<EmailPhase>();
  for (const item of items) {
    if (item === 'none') continue;
    if (item === 'all') EMAIL_PHASES.forEach((p) => phases.add(p));
    else if ((EMAIL_PHASES as readonly string[]).includes(item)) phases.add(item as EmailPhase);
    else ctx.fail(line, `invalid email alert status at: "${item}"`, field);
    if (none) ctx.fail(line, `invalid email alert status: "${item}" specified with "none"`, field);
  }
  return EMAIL_PHASES.filter((p) => phases.has(p));
}

export function smtpServer(ctx: ParseContext, value: string, line: number, field: string): string {
  const m = value.match(/^[0-9A-Za-z._+-]+/);
  if (!m) return ctx.fail(line, 'invalid SMTP server address', field);
  return m[0];
}

/** A fallback as written, resolved later (a section's once its protocol is known). */
export interface FallbackText {
  line: number;
  field: string;
  server: string;
  portText?: string;
  forwarding: Forwarding;
}

const PORT_AT_END = new RegExp(`(:${PORT})?$`);

/** `host[:port] [gate|masq|ipip]` taken apart (read time: a bad method is reported at once). */
export function splitFallback(ctx: ParseContext, text: string, line: number, field: string): FallbackText {
  const split = lastWords(text);
  const [hostPort, method] = split ? [split.first, split.second] : [text, undefined];
  const p = hostPort.match(PORT_AT_END)!;
  if (method !== undefined && !(FORWARDINGS as readonly string[]).includes(method)) ctx.fail(line, 'forward method must be gate, masq or ipip', field);
  return { line, field, server: hostPort.slice(0, p.index), portText: p[2], forwarding: (method ?? 'gate') as Forwarding };
}

/** Resolves a fallback; without a port it takes `defaultPortText` (the virtual's port as written); "0" is 0. */
export function resolveFallback(ctx: ParseContext, f: FallbackText, family: 4 | 6, protocols: ('tcp' | 'udp')[], defaultPortText?: string): Fallback {
  const address = ctx.hostAddress(f.server, family);
  if (address === undefined) return ctx.fail(f.line, `invalid IPv${family} address or could not resolve for fallback server: ${f.server}`, f.field);
  const text = f.portText ?? defaultPortText;
  let port: number | undefined;
  if (text !== undefined && text !== '0') {
    const numbers = protocols.map((protocol) => ctx.portNumber(text, protocol));
    if (numbers.some((n) => n === undefined)) ctx.fail(f.line, 'invalid port for fallback server', f.field);
    port = numbers[0];
  } else if (text === '0') port = 0;
  return { line: f.line, address, port, forwarding: f.forwarding };
}
