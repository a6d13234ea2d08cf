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
//
// The reader itself is in reader.ts and the files it names; this file is the public entry: the
// parser (pure), and the loaders that read a file and resolve its names as ldirectord would.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { InputError } from '../../errors.js';
import type { ParseOptions } from './context.js';
import { systemFileChecks } from './files.js';
import type { LdirectordConfig } from './model.js';
import { parseLdirectordConfig } from './reader.js';
import { localHostAnswer, systemResolver, type Resolver } from './resolve.js';
import { systemResolverAsync, type AsyncResolver } from './resolve-async.js';

export { MAX_LINE_LENGTH, MAX_RANGE, MAX_REAL_SERVERS, MAX_SECONDS, type ParseOptions } from './context.js';
export { defaultGlobals } from './global-directives.js';
export { parseLdirectordConfig } from './reader.js';

export interface LoadOptions extends ParseOptions {
  /** Names resolved without blocking (default: systemResolverAsync()); ignored when `resolver` is given. */
  asyncResolver?: AsyncResolver;
}

/** Names a parse asked for that the cache could not answer yet. */
interface Missing {
  hosts: Map<string, [string, 4 | 6]>;
  services: Map<string, [string, 'tcp' | 'udp' | '']>;
}

/**
 * A Resolver over the answers known so far. An unknown name is noted and answered with a
 * placeholder, a distinct one per name (240.0.0.0/4, 100::/64, ports counting up), so that the
 * parse goes on and meets the file's other names instead of stopping at the first unknown one.
 */
function cachedResolver(hosts: Map<string, string | undefined>, services: Map<string, number | undefined>, missing: Missing): Resolver {
  let placeholders = 0;
  return {
    host(name, family) {
      const local = localHostAnswer(name, family);
      if (local) return local.address;
      const key = `${family} ${name}`;
      if (hosts.has(key)) return hosts.get(key);
      missing.hosts.set(key, [name, family]);
      const n = ++placeholders;
      return family === 4
        ? `${240 + ((n >>> 24) & 15)}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`
        : `100::${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
    },
    service(name, protocol) {
      const key = `${name}/${protocol}`;
      if (services.has(key)) return services.get(key);
      missing.services.set(key, [name, protocol]);
      return 1 + (++placeholders % 65535);
    },
  };
}

/**
 * parseLdirectordConfig with names resolved asynchronously: parse with the answers known so far,
 * noting the names still unknown; resolve all of those at once (concurrently, as the resolver
 * bounds it); parse again, until a parse meets no unknown name. That last parse saw only real
 * answers, so its result or error is exactly what the synchronous parse would give. It ends: each
 * round adds at least one name to the answers, and a file holds finitely many; most files take two
 * rounds (a placeholder can stop a parse early, e.g. a range `a->NAME` too wide, costing a round).
 */
export async function parseLdirectordConfigAsync(text: string, file: string, resolver: AsyncResolver, options: ParseOptions = {}): Promise<LdirectordConfig> {
  const hosts = new Map<string, string | undefined>();
  const services = new Map<string, number | undefined>();
  for (;;) {
    const missing: Missing = { hosts: new Map(), services: new Map() };
    const cached = cachedResolver(hosts, services, missing);
    let result: LdirectordConfig | undefined;
    let error: unknown;
    try {
      result = parseLdirectordConfig(text, file, { ...options, resolver: cached });
    } catch (e) {
      error = e;
    }
    if (missing.hosts.size === 0 && missing.services.size === 0) {
      if (result === undefined) throw error;
      return result;
    }
    await Promise.all([
      ...[...missing.hosts].map(async ([key, [name, family]]) => {
        hosts.set(key, await resolver.host(name, family));
      }),
      ...[...missing.services].map(async ([key, [name, protocol]]) => {
        services.set(key, await resolver.service(name, protocol));
      }),
    ]);
  }
}

const unreadable = (file: string, e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return new InputError(code === 'ENOENT' ? `Config file ${file} not found` : `can not open file ${file} (${code})`, { file });
};

/**
 * Reads a configuration as ldirectord would on this host: host and port names resolved by the C
 * library without blocking the event loop (see parseLdirectordConfigAsync),
 * logfile/monitorfile/maintenancedir checked (nothing is created).
 */
export async function loadLdirectordConfig(file: string, options: LoadOptions = {}): Promise<LdirectordConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw unreadable(file, e);
  }
  const { asyncResolver, ...parseOptions } = options;
  const withFiles = { files: systemFileChecks, ...parseOptions };
  if (parseOptions.resolver) return parseLdirectordConfig(text, file, withFiles);
  return parseLdirectordConfigAsync(text, file, asyncResolver ?? systemResolverAsync(), withFiles);
}

/**
 * loadLdirectordConfig, blocking: each name is a synchronous getent (up to 10 s). Only for one-shot
 * commands with nothing else to do meanwhile (`aavip ldirectord check`, the validation before
 * start/stop/status) and for a daemon's start-up before it has peers to answer.
 */
export function loadLdirectordConfigSync(file: string, options: ParseOptions = {}): LdirectordConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw unreadable(file, e);
  }
  return parseLdirectordConfig(text, file, { resolver: systemResolver(), files: systemFileChecks, ...options });
}
