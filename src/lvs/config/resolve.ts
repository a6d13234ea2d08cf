// Names in ldirectord.cf: host names and port names, resolved while the file is read (as
// ldirectord does with getaddrinfo and getservbyname). The parser itself stays pure: it takes a
// Resolver. `literalResolver` knows IP literals, localhost and common port names; the system
// resolver asks the C library through getent, so /etc/hosts, DNS and /etc/services answer
// exactly as they would for ldirectord. The asynchronous resolver (resolve-async.ts) asks the
// same questions and reads the answers with the same functions.
import { execFileSync } from 'node:child_process';
import { isIPv4, isIPv6 } from 'node:net';

export interface Resolver {
  /** The first address of a host for the family (IPv6 without brackets), or undefined. */
  host(name: string, family: 4 | 6): string | undefined;
  /** A port name's number for the protocol ('' = any protocol), or undefined. */
  service(name: string, protocol: 'tcp' | 'udp' | ''): number | undefined;
}

/** The address in the form the kernel and ipvsadm print it, if `text` is an IP literal of the family. */
export function canonicalAddress(text: string, family: 4 | 6): string | undefined {
  if (family === 4) return isIPv4(text) ? text : undefined;
  if (!isIPv6(text)) return undefined;
  const host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  // inet_ntop writes v4-mapped addresses with a dotted quad.
  const mapped = host.match(/^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/);
  if (!mapped) return host;
  const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
  return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Port names of Debian's /etc/services for the services ldirectord checks, and a few more. */
const COMMON_PORTS: Readonly<Record<string, number>> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  http: 80,
  www: 80,
  pop3: 110,
  nntp: 119,
  imap2: 143,
  imap: 143,
  snmp: 161,
  ldap: 389,
  https: 443,
  submission: 587,
  ldaps: 636,
  imaps: 993,
  pop3s: 995,
  radius: 1812,
  squid: 3128,
  mysql: 3306,
  sip: 5060,
  postgresql: 5432,
  'http-alt': 8080,
  webcache: 8080,
};

/** Pure: IP literals, `localhost`, and COMMON_PORTS. */
export const literalResolver: Resolver = {
  host: (name, family) => canonicalAddress(name, family) ?? (name === 'localhost' ? (family === 4 ? '127.0.0.1' : '::1') : undefined),
  service: (name) => (Object.hasOwn(COMMON_PORTS, name) ? COMMON_PORTS[name] : undefined),
};

/** What the system resolver answers without asking the C library, or undefined when it must ask. */
export function localHostAnswer(name: string, family: 4 | 6): { address: string | undefined } | undefined {
  const literal = canonicalAddress(name, family);
  return literal !== undefined || name.startsWith('-') ? { address: literal } : undefined;
}

/** getent's arguments for a host or a port name (the C library's getaddrinfo and getservbyname, through NSS). */
export const hostDatabase = (family: 4 | 6) => (family === 4 ? 'ahostsv4' : 'ahostsv6');
export const hostQuery = (name: string, family: 4 | 6) => [hostDatabase(family), name];
export const serviceQuery = (name: string, protocol: 'tcp' | 'udp' | '') => ['services', protocol ? `${name}/${protocol}` : name];

/** The first address of `getent ahostsv4|ahostsv6` output ('' = unknown), in the kernel's form. */
export function hostFromGetent(out: string, family: 4 | 6): string | undefined {
  // ahostsv6 adds v4-mapped addresses; getaddrinfo(AF_INET6) without AI_V4MAPPED, as ldirectord calls it, does not.
  const first = out
    .split('\n')
    .map((l) => l.split(/\s+/)[0])
    .find((a) => a && !(family === 6 && a.startsWith('::ffff:')));
  return first === undefined ? undefined : canonicalAddress(first, family);
}

/** The port of `getent services` output; undefined output (getent cannot run) falls back to the common names. */
export function serviceFromGetent(out: string | undefined, name: string, protocol: 'tcp' | 'udp' | ''): number | undefined {
  if (out === undefined) return literalResolver.service(name, protocol);
  return Number(out.match(/^\S+\s+(\d+)\//)?.[1] ?? NaN) || undefined;
}

/** `getent services K1 K2 ...`: each key's port. getent prints one line per key it finds, in order, and nothing for the others. */
export function servicesFromGetentBatch(out: string, keys: readonly (readonly [string, 'tcp' | 'udp' | ''])[]): (number | undefined)[] {
  const lines = out
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/));
  let at = 0;
  return keys.map(([name, protocol]) => {
    const fields = lines[at];
    const entry = fields?.[1]?.match(/^(\d+)\/(\w+)$/);
    // A line is this key's if it names it (name or alias) for its protocol: a key getent did not find has no line.
    if (!fields || !entry || !(fields[0] === name || fields.slice(2).includes(name)) || (protocol !== '' && entry[2] !== protocol)) return undefined;
    at++;
    return Number(entry[1]) || undefined;
  });
}

/**
 * `getent ahostsv4|ahostsv6 N1 N2 ...`: each name's first address, when the output shows whose each
 * block is (each block opens with a line naming the canonical name, which need not be the name
 * asked): all names found, or none. Otherwise undefined (ask for each name alone).
 */
export function hostsFromGetentBatch(out: string, names: readonly string[], family: 4 | 6): (string | undefined)[] | undefined {
  const blocks: string[][] = [];
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue;
    if (line.trim().split(/\s+/).length >= 3 || blocks.length === 0) blocks.push([line]);
    else blocks[blocks.length - 1].push(line);
  }
  if (blocks.length === 0) return names.map(() => undefined);
  return blocks.length === names.length ? blocks.map((b) => hostFromGetent(b.join('\n'), family)) : undefined;
}

/** How long one name may take (getaddrinfo's own DNS retries stay below it). */
export const LOOKUP_TIMEOUT_MS = 10_000;

/** getent's output; '' when the key is unknown (exit 2); undefined when getent cannot run. */
function getentSync(args: string[]): string | undefined {
  try {
    return execFileSync('getent', args, { encoding: 'utf8', timeout: LOOKUP_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    return (e as { status?: number }).status === 2 ? '' : undefined;
  }
}

/**
 * The C library's answers (getent), cached; IP literals never leave the process. Synchronous: it
 * blocks the event loop for every name, so only for one-shot commands and tests; a daemon uses
 * systemResolverAsync (through loadLdirectordConfig).
 */
export function systemResolver(): Resolver {
  const hosts = new Map<string, string | undefined>();
  const services = new Map<string, number | undefined>();
  return {
    host(name, family) {
      const local = localHostAnswer(name, family);
      if (local) return local.address;
      const key = `${family} ${name}`;
      if (!hosts.has(key)) hosts.set(key, hostFromGetent(getentSync(hostQuery(name, family)) ?? '', family));
      return hosts.get(key);
    },
    service(name, protocol) {
      if (name.startsWith('-')) return undefined;
      const key = `${name}/${protocol}`;
      if (!services.has(key)) services.set(key, serviceFromGetent(getentSync(serviceQuery(name, protocol)), name, protocol));
      return services.get(key);
    },
  };
}
