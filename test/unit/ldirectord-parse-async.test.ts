// Names in ldirectord.cf resolved without blocking: loadLdirectordConfig asks getent in child
// processes (concurrent, bounded, each with a timeout) while the event loop goes on, and gives the
// same model, or the same error, as the blocking loader and the pure parser.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InputError } from '../../src/errors.js';
import { loadLdirectordConfig, loadLdirectordConfigSync, parseLdirectordConfig, parseLdirectordConfigAsync } from '../../src/lvs/config/parse.js';
import { literalResolver, systemResolver, type Resolver } from '../../src/lvs/config/resolve.js';
import { systemResolverAsync, type AsyncResolver } from '../../src/lvs/config/resolve-async.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-ld-async-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Turns of the event loop while `work` runs (a setImmediate chain: one count per turn). */
async function turnsDuring<T>(work: () => T | Promise<T>): Promise<{ value: T; turns: number }> {
  let turns = 0;
  let on = true;
  const spin = () => {
    if (on) {
      turns++;
      setImmediate(spin);
    }
  };
  setImmediate(spin);
  try {
    return { value: await work(), turns };
  } finally {
    on = false;
  }
}

/** Port names of this host's /etc/services (tcp), as many as asked for. */
function portNames(count: number): string[] {
  const names = new Set<string>();
  for (const line of readFileSync('/etc/services', 'utf8').split('\n')) {
    const m = line.match(/^([A-Za-z0-9_-]+)\s+\d+\/tcp/);
    if (m && !/^\d+$/.test(m[1])) names.add(m[1]);
  }
  return [...names].slice(0, count);
}

const services = existsSync('/etc/services') ? portNames(200) : [];

describe.skipIf(services.length < 100)('loadLdirectordConfig: names through the C library, asynchronously', () => {
  const cf = join(dir, 'names.cf');
  writeFileSync(cf, `virtual=198.18.0.1:80\n${services.map((s, k) => `\treal=198.18.${1 + (k >> 8)}.${k & 255}:${s} masq`).join('\n')}\n\tchecktype=on\n`);

  it(`keeps the event loop turning while ${services.length} port names are resolved, and reads what the blocking loader reads`, async () => {
    const asynchronous = await turnsDuring(() => loadLdirectordConfig(cf));
    const blocking = await turnsDuring(() => loadLdirectordConfigSync(cf));
    // The blocking loader holds the loop for every getent (what froze heartbeats); the async one lets it run.
    expect(blocking.turns).toBe(0);
    expect(asynchronous.turns).toBeGreaterThan(0);
    expect(asynchronous.value).toEqual(blocking.value);
    expect(asynchronous.value.virtualServices[0].realServers).toHaveLength(services.length);
  });

  it('asks getent for the names of a round together, and runs at most `concurrency` getent processes at once', async () => {
    // Each lookup logs its start, waits (bounded) until three have started, logs its end, then asks getent.
    const log = join(dir, 'concurrency.log');
    const getent = join(dir, 'getent-barrier');
    writeFileSync(
      getent,
      `#!/bin/sh\necho start >> ${log}\ni=0\nwhile [ "$(grep -c start ${log})" -lt 3 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done\necho end >> ${log}\nexec getent "$@"\n`,
    );
    chmodSync(getent, 0o755);
    const file = join(dir, 'twelve.cf');
    writeFileSync(
      file,
      `virtual=198.18.0.1:80\n${services
        .slice(0, 12)
        .map((s, k) => `\treal=198.18.2.${k + 1}:${s} masq`)
        .join('\n')}\n`,
    );
    const mostAtOnce = async (options: { concurrency: number; batch?: number }) => {
      writeFileSync(log, '');
      const c = await loadLdirectordConfig(file, { asyncResolver: systemResolverAsync({ ...options, command: getent }) });
      expect(c).toEqual(loadLdirectordConfigSync(file));
      const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      let [inFlight, most] = [0, 0];
      for (const l of lines) {
        inFlight += l === 'start' ? 1 : -1;
        most = Math.max(most, inFlight);
      }
      return { processes: lines.length / 2, most };
    };
    expect(await mostAtOnce({ concurrency: 3 })).toEqual({ processes: 1, most: 1 }); // one batch
    expect(await mostAtOnce({ concurrency: 3, batch: 1 })).toEqual({ processes: 12, most: 3 });
  });

  it("attributes a batch's answers to its names, unknown names among them included", async () => {
    const mixed = ['localhost', 'no-such-host.invalid', hostname()];
    const asked = systemResolverAsync();
    const one = systemResolver();
    expect(await Promise.all(mixed.map((n) => asked.host(n, 4)))).toEqual(mixed.map((n) => one.host(n, 4)));
    const ports: [string, 'tcp' | 'udp' | ''][] = [
      ['www', ''],
      ['no-such-service', 'tcp'],
      ['domain', 'udp'],
      ['http', 'tcp'],
      ['ssh', 'udp'],
      ['https', ''],
    ];
    expect(await Promise.all(ports.map(([n, p]) => asked.service(n, p)))).toEqual(ports.map(([n, p]) => one.service(n, p)));
    expect(await Promise.all(ports.map(([n, p]) => asked.service(n, p)))).toEqual([80, undefined, 53, 80, undefined, 443]);
  });

  it('gives up on a lookup that does not answer within its timeout: the name is unresolved, the process killed', async () => {
    const pids = join(dir, 'hung.pids');
    const hung = join(dir, 'getent-hung');
    writeFileSync(hung, `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 60\n`);
    chmodSync(hung, 0o755);
    const load = (text: string) => {
      const file = join(dir, 'hung.cf');
      writeFileSync(file, text);
      return loadLdirectordConfig(file, { asyncResolver: systemResolverAsync({ timeoutMs: 300, command: hung }) });
    };
    await expect(load('virtual=198.18.0.1:80\n\treal=198.18.0.2:no-such-port-name masq\n')).rejects.toMatchObject({
      message: 'invalid port (no-such-port-name) for real server (could not resolve port)',
      where: { line: 2, field: 'real' },
    });
    await expect(load('virtual=198.18.0.1:80\n\treal=web-nowhere:80 masq\n')).rejects.toMatchObject({
      message: 'invalid address (web-nowhere) for real server (could not resolve host)',
      where: { line: 2, field: 'real' },
    });
    const started = readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(started).toHaveLength(2);
    for (const pid of started) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});

describe('parseLdirectordConfigAsync: the pure parse, names asked in rounds', () => {
  const names: Record<string, string> = { web1: '198.18.5.1', web9: '198.18.5.9', vip: '198.18.5.100', fb: '198.18.5.200', web6: '2001:db8::6' };
  const ports: Record<string, number> = { alt: 8080, admin: 9090 };
  const sync: Resolver = {
    host: (n, f) => (Object.hasOwn(names, n) && (f === 6) === names[n].includes(':') ? names[n] : literalResolver.host(n, f)),
    service: (n) => (Object.hasOwn(ports, n) ? ports[n] : undefined),
  };
  const asked: string[] = [];
  const fake: AsyncResolver = {
    host: async (n, f) => {
      asked.push(`${f} ${n}`);
      await new Promise((r) => setTimeout(r, 1));
      return sync.host(n, f);
    },
    service: async (n, p) => {
      asked.push(`${n}/${p}`);
      await new Promise((r) => setTimeout(r, 1));
      return sync.service(n, p);
    },
  };
  const files = [
    'virtual=vip:alt\n\treal=web1:alt masq\n\treal=web1->web9:80 gate 2\n\tfallback=fb:admin masq\nvirtual6=[2001:db8::1]:80\n\treal6=web6:alt masq\n',
    // A range whose end is a name: its placeholder makes the range too wide, so a second round is needed.
    'virtual=198.18.5.100:80\n\treal=198.18.0.1->web9:80 gate\n',
    'virtual=vip:80\n\treal=nowhere:80 gate\n',
    'virtual=vip:80\n\treal=web1:nosuch gate\nvirtual=vip:alt\n\treal=web1:alt gate\nvirtual=vip:alt\n',
    'fallback=fb:admin\nvirtual=vip:alt\n\treal=web1->web9 gate\n',
  ];
  const outcome = (f: () => unknown) => {
    try {
      return { ok: f() };
    } catch (e) {
      return { error: (e as InputError).describe() };
    }
  };
  it.each(files.map((f, k) => [k, f]))('file %i: the same model or error as the synchronous parse, each name asked once', async (_k, text) => {
    asked.length = 0;
    const want = outcome(() => parseLdirectordConfig(text, 't.cf', { resolver: sync, hostname: 'director' }));
    let got: unknown;
    try {
      got = { ok: await parseLdirectordConfigAsync(text, 't.cf', fake, { hostname: 'director' }) };
    } catch (e) {
      got = { error: (e as InputError).describe() };
    }
    expect(got).toEqual(want);
    expect(new Set(asked).size).toBe(asked.length);
  });
});
