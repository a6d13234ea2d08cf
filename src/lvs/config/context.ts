// What every part of the ldirectord.cf reader shares while one file is read: where errors point,
// the warnings so far, the names resolver, and the value extractors ldirectord applies to many
// directives (the first run of digits, yes/no, quoted strings, port and host names).
import { hostname as osHostname } from 'node:os';
import { InputError } from '../../errors.js';
import type { FileChecks } from './files.js';
import type { ConfigWarning } from './model.js';
import { literalResolver, type Resolver } from './resolve.js';

export interface ParseOptions {
  /** Host and port names (default: IP literals, localhost and common port names only). */
  resolver?: Resolver;
  /** logfile/monitorfile/maintenancedir checks (default: none). */
  files?: FileChecks;
  /** This host's name, for the default ftp/sip check login (default: os.hostname()). */
  hostname?: string;
}

/** Longest directive line (comment lines may be longer); keeps every search on a line bounded. */
export const MAX_LINE_LENGTH = 4096;
export const MAX_RANGE = 65_536;
export const MAX_REAL_SERVERS = 262_144;
/** The longest timer Node can arm, in whole seconds. */
export const MAX_SECONDS = 2_147_483;

/** `"..."` up to the last quote (greedy, as ldirectord), or undefined when the value is not quoted. */
export const quotedValue = (value: string): string | undefined => value.match(/^"(.*)"/s)?.[1];
/** Quoted or not: ldirectord strips a pair of quotes when there is one. */
export const optionallyQuoted = (value: string): string => quotedValue(value) ?? value;

export class ParseContext {
  readonly warnings: ConfigWarning[] = [];
  readonly resolver: Resolver;
  readonly files?: FileChecks;
  readonly localName: string;
  /** Real servers so far, against MAX_REAL_SERVERS. */
  realCount = 0;

  constructor(
    readonly file: string,
    options: ParseOptions,
  ) {
    this.resolver = options.resolver ?? literalResolver;
    this.files = options.files;
    this.localName = options.hostname ?? osHostname();
  }

  fail(line: number, message: string, field?: string): never {
    throw new InputError(message, { file: this.file, line, field });
  }

  warn(line: number, message: string): void {
    this.warnings.push({ line, message });
  }

  /** The first run of digits anywhere in the value, required non-zero. */
  positive(value: string, line: number, field: string, message: string): number {
    const m = value.match(/\d+/);
    const n = m ? Number(m[0]) : 0;
    if (n < 1) this.fail(line, message, field);
    return n;
  }

  /** A time in seconds, as `positive`; beyond what a timer can hold, the longest one, with a warning. */
  seconds(value: string, line: number, field: string, message: string): number {
    const n = this.positive(value, line, field, message);
    if (n <= MAX_SECONDS) return n;
    this.warn(line, `${field} ${n} is more than ${MAX_SECONDS} seconds: taken as ${MAX_SECONDS}`);
    return MAX_SECONDS;
  }

  yesno(field: string, value: string, line: number): boolean {
    if (value !== 'yes' && value !== 'no') this.fail(line, `${field} must be 'yes' or 'no'`, field);
    return value === 'yes';
  }

  portNumber(text: string, protocol: 'tcp' | 'udp' | ''): number | undefined {
    if (/^\d+$/.test(text)) return Number(text) < 65536 ? Number(text) : undefined;
    return this.resolver.service(text, protocol);
  }

  /** ld_gethostbyname: brackets stripped (its `/\[(.*)\]/`: first `[` to last `]`), then resolved in the family. */
  hostAddress(name: string, family: 4 | 6): string | undefined {
    const [open, close] = [name.indexOf('['), name.lastIndexOf(']')];
    return this.resolver.host(open >= 0 && close > open ? name.slice(open + 1, close) : name, family);
  }
}
