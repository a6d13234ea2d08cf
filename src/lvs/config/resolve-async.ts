// The system resolver without blocking: the same getent questions as systemResolver (so NSS,
// /etc/hosts, DNS and /etc/services answer as they do for ldirectord's C library calls), asked by
// child processes that run concurrently, at most `concurrency` at once, each killed after
// `timeoutMs` (its name is then unresolved). A daemon reloading a file with hundreds of names
// keeps its event loop, and so its heartbeats, turning meanwhile.
import { execFile } from 'node:child_process';
import {
  hostFromGetent, hostQuery, localHostAnswer, LOOKUP_TIMEOUT_MS, serviceFromGetent, serviceQuery,
} from './resolve.js';

export interface AsyncResolver {
  /** The first address of a host for the family (IPv6 without brackets), or undefined. */
  host(name: string, family: 4 | 6): Promise<string | undefined>;
  /** A port name's number for the protocol ('' = any protocol), or undefined. */
  service(name: string, protocol: 'tcp' | 'udp' | ''): Promise<number | undefined>;
}

export interface AsyncResolverOptions {
  /** getent lookups in flight at once (default 8). */
  concurrency?: number;
  /** Per lookup (default LOOKUP_TIMEOUT_MS, as the synchronous resolver). */
  timeoutMs?: number;
  /** The getent program (default `getent` on the PATH). */
  command?: string;
}

/** At most `limit` tasks at once, started in the order asked. */
export function limiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((go) => waiting.push(go));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** getent's output; '' when the key is unknown (exit 2); undefined when getent cannot run or timed out (as execFileSync's). */
function getent(command: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout) => {
      if (!err) return resolve(stdout);
      resolve((err as { code?: number | string }).code === 2 ? '' : undefined);
    });
  });
}

/** The C library's answers (getent, asynchronously), cached per resolver; IP literals never leave the process. */
export function systemResolverAsync(options: AsyncResolverOptions = {}): AsyncResolver {
  const { concurrency = 8, timeoutMs = LOOKUP_TIMEOUT_MS, command = 'getent' } = options;
  const limit = limiter(concurrency);
  const hosts = new Map<string, Promise<string | undefined>>();
  const services = new Map<string, Promise<number | undefined>>();
  return {
    host(name, family) {
      const local = localHostAnswer(name, family);
      if (local) return Promise.resolve(local.address);
      const key = `${family} ${name}`;
      if (!hosts.has(key)) hosts.set(key, limit(() => getent(command, hostQuery(name, family), timeoutMs)).then((out) => hostFromGetent(out ?? '', family)));
      return hosts.get(key)!;
    },
    service(name, protocol) {
      if (name.startsWith('-')) return Promise.resolve(undefined);
      const key = `${name}/${protocol}`;
      if (!services.has(key)) services.set(key, limit(() => getent(command, serviceQuery(name, protocol), timeoutMs)).then((out) => serviceFromGetent(out, name, protocol)));
      return services.get(key)!;
    },
  };
}
