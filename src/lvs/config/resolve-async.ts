// The system resolver without blocking: the same getent questions as systemResolver (so NSS,
// /etc/hosts, DNS and /etc/services answer as they do for ldirectord's C library calls), asked by
// child processes while the event loop goes on. The names asked for in one turn of the loop go to
// getent together (up to `batch` per process: a spawn costs milliseconds, and on a busy machine
// much more, all of it on the event loop), at most `concurrency` processes at once, each killed
// after `timeoutMs`. A batch that fails (killed, or getent missing) or whose output cannot be
// attributed is asked again one name per process, so each name ends with its own timeout.
import { execFile } from 'node:child_process';
import {
  hostDatabase,
  hostFromGetent,
  hostQuery,
  hostsFromGetentBatch,
  localHostAnswer,
  LOOKUP_TIMEOUT_MS,
  serviceFromGetent,
  serviceQuery,
  servicesFromGetentBatch,
} from './resolve.js';

export interface AsyncResolver {
  /** The first address of a host for the family (IPv6 without brackets), or undefined. */
  host(name: string, family: 4 | 6): Promise<string | undefined>;
  /** A port name's number for the protocol ('' = any protocol), or undefined. */
  service(name: string, protocol: 'tcp' | 'udp' | ''): Promise<number | undefined>;
}

export interface AsyncResolverOptions {
  /** getent processes at once (default 4). */
  concurrency?: number;
  /** Names per getent process (default 32). */
  batch?: number;
  /** Per getent process (default LOOKUP_TIMEOUT_MS, as the synchronous resolver's per name). */
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

/** Keys asked for in one turn of the event loop, answered by `run` in groups of at most `max`. */
function batcher<K, V>(max: number, run: (keys: K[]) => Promise<V[]>): (key: K) => Promise<V> {
  let pending: { key: K; answer: (v: V) => void }[] = [];
  const flush = () => {
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += max) {
      const group = all.slice(i, i + max);
      void run(group.map((p) => p.key)).then((values) => group.forEach((p, k) => p.answer(values[k])));
    }
  };
  return (key) =>
    new Promise<V>((answer) => {
      if (pending.length === 0) setImmediate(flush);
      pending.push({ key, answer });
    });
}

/** getent's output; '' when some key is unknown (exit 2); undefined when getent cannot run or timed out (as execFileSync's). */
function getent(command: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout) => {
      if (!err) return resolve(stdout);
      resolve((err as { code?: number | string }).code === 2 ? stdout : undefined);
    });
  });
}

/** The C library's answers (getent, asynchronously), cached per resolver; IP literals never leave the process. */
export function systemResolverAsync(options: AsyncResolverOptions = {}): AsyncResolver {
  const { concurrency = 4, batch = 32, timeoutMs = LOOKUP_TIMEOUT_MS, command = 'getent' } = options;
  const limit = limiter(concurrency);
  const ask = (args: string[]) => limit(() => getent(command, args, timeoutMs));
  const oneHost = async (name: string, family: 4 | 6) => hostFromGetent((await ask(hostQuery(name, family))) ?? '', family);
  const hostBatch = (family: 4 | 6) =>
    batcher<string, string | undefined>(batch, async (names) => {
      if (names.length === 1) return [await oneHost(names[0], family)];
      const out = await ask([hostDatabase(family), ...names]);
      return (out !== undefined ? hostsFromGetentBatch(out, names, family) : undefined) ?? Promise.all(names.map((n) => oneHost(n, family)));
    });
  const oneService = async (name: string, protocol: 'tcp' | 'udp' | '') => serviceFromGetent(await ask(serviceQuery(name, protocol)), name, protocol);
  const serviceBatch = batcher<[string, 'tcp' | 'udp' | ''], number | undefined>(batch, async (keys) => {
    if (keys.length === 1) return [await oneService(...keys[0])];
    const out = await ask(['services', ...keys.map(([n, p]) => serviceQuery(n, p)[1])]);
    return out !== undefined ? servicesFromGetentBatch(out, keys) : Promise.all(keys.map((k) => oneService(...k)));
  });
  const batches = { 4: hostBatch(4), 6: hostBatch(6) };
  const hosts = new Map<string, Promise<string | undefined>>();
  const services = new Map<string, Promise<number | undefined>>();
  return {
    host(name, family) {
      const local = localHostAnswer(name, family);
      if (local) return Promise.resolve(local.address);
      const key = `${family} ${name}`;
      if (!hosts.has(key)) hosts.set(key, batches[family](name));
      return hosts.get(key)!;
    },
    service(name, protocol) {
      if (name.startsWith('-')) return Promise.resolve(undefined);
      const key = `${name}/${protocol}`;
      if (!services.has(key)) services.set(key, serviceBatch([name, protocol]));
      return services.get(key)!;
    },
  };
}
