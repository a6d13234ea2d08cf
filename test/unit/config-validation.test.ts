// cluster.yaml values that used to pass validation and then broke the daemon: non-finite or huge
// weights, durations Node's timers cannot hold, alias bombs, mistyped interfaces, key files that
// are not the daemon's own regular file.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClusterConfig, type LoadOptions } from '../../src/config/cluster.js';
import { InputError, InputErrors } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-confv-'));
const key = join(dir, 'authkey');
writeFileSync(key, 'k'.repeat(32));
chmodSync(key, 0o600);
const example = readFileSync(join(import.meta.dirname, '..', '..', 'conf', 'cluster.yaml'), 'utf8').replace('authkey: /etc/aavip/authkey', `authkey: ${key}`);
/** This "node" has eth0 and lo only, whatever the machine running the test has. */
const here: LoadOptions = { local: 'lb1', interfaceExists: (name) => name === 'eth0' || name === 'lo' };

const errorsOf = (text: string, opts: LoadOptions = here): string[] => {
  try {
    parseClusterConfig(text, 'c.yaml', opts);
  } catch (e) {
    if (e instanceof InputErrors) return e.errors.map((x) => x.describe());
    if (e instanceof InputError) return [e.describe()];
    throw e;
  }
  return [];
};
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('cluster.yaml validation', () => {
  it('loads the example as it is (the checks below are not refusing everything)', () => {
    expect(errorsOf(example)).toEqual([]);
  });

  it('refuses weights that are not finite, negative or beyond the bound, at their line', () => {
    for (const [w, shown] of [
      ['.nan', '.nan'],
      ['.inf', '.inf'],
      ['-.inf', '-.inf'],
      ['1e12', '1000000000000'],
      ['65536', '65536'],
      ['"3"', "'3'"],
    ]) {
      const bad = example.replace('{ id: 2, name: lb2', `{ id: 2, weight: ${w}, name: lb2`);
      expect(errorsOf(bad), w).toEqual([`c.yaml:${lineOf(bad, 'name: lb2')}: cluster.nodes.1.weight: weight must be a number ≥ 0 and ≤ 65535 (got ${shown})`]);
    }
    expect(errorsOf(example.replace('{ id: 2, name: lb2', '{ id: 2, weight: 0.5, name: lb2'))).toEqual([]);
  });

  it('refuses durations beyond what a Node timer can wait (2^31-1 ms), naming the field', () => {
    const bad = example
      .replace(/interval: \d+ms/, 'interval: 2147483648')
      .replace('deadtime: 300ms', 'deadtime: 40000m')
      .replace('restartGrace: 10s', 'restartGrace: 9999999s')
      .replace('drainTimeout: 60s', 'drainTimeout: 36000m');
    const errs = errorsOf(bad);
    const hb = lineOf(bad, 'heartbeat:');
    expect(errs).toContain(`c.yaml:${hb}: cluster.heartbeat.interval: interval must be at most 2147483647ms (24.8 days): Node's timers cannot wait longer`);
    expect(errs).toContain(`c.yaml:${hb}: cluster.heartbeat.deadtime: deadtime must be at most 2147483647ms (24.8 days): Node's timers cannot wait longer`);
    expect(errs).toContain(
      `c.yaml:${hb}: cluster.heartbeat.restartGrace: restartGrace must be at most 2147483647ms (24.8 days): Node's timers cannot wait longer`,
    );
    expect(errs).toContain(
      `c.yaml:${lineOf(bad, 'drainTimeout: 36000m')}: cluster.drainTimeout: drainTimeout must be at most 2147483647ms (24.8 days): Node's timers cannot wait longer`,
    );
    expect(errorsOf(example.replace('drainTimeout: 60s', 'drainTimeout: 2147483647'))).toEqual([]);
  });

  it('reports an alias bomb as an error at its line, not a bare ReferenceError', () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    const errs = errorsOf(example + bomb + '\n');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(new RegExp(`^c\\.yaml:${lineOf(example + bomb, 'e: [*d')}: e\\.0: `));
    expect(errs[0]).toMatch(/aliases expand to too much/);
  });

  it('refuses an interface this node does not have, with all the other mistakes at once', () => {
    const bad = example
      .replace('interface: eth0', 'interface: eth9')
      .replace('{ id: 3, name: lb3', '{ id: 3, weight: .nan, name: lb3')
      .replace('restartGrace: 10s', 'restartGrace: 40000m');
    const errs = errorsOf(bad);
    expect(errs).toContain(`c.yaml:${lineOf(bad, 'interface: eth9')}: vips.0.interface: no such interface 'eth9' on this node`);
    expect(errs.some((e) => e.startsWith(`c.yaml:${lineOf(bad, 'name: lb3')}: cluster.nodes.2.weight: `))).toBe(true);
    expect(errs.some((e) => e.startsWith(`c.yaml:${lineOf(bad, 'heartbeat:')}: cluster.heartbeat.restartGrace: `))).toBe(true);
  });

  it('looks the interface up in this network namespace by default (no root needed)', () => {
    expect(errorsOf(example.replace('interface: eth0', 'interface: lo'), { local: 'lb1' })).toEqual([]);
    expect(errorsOf(example.replace('interface: eth0', 'interface: nosuch9'), { local: 'lb1' })).toEqual([
      `c.yaml:${lineOf(example, 'interface: eth0')}: vips.0.interface: no such interface 'nosuch9' on this node`,
    ]);
  });

  it.runIf(process.getuid?.() === 0)('refuses a key file owned by another user than root or the daemon, even with mode 600', () => {
    const theirs = join(dir, 'theirs');
    writeFileSync(theirs, 'k'.repeat(32));
    chmodSync(theirs, 0o600);
    chownSync(theirs, 65534, 65534);
    expect(errorsOf(example.replace(key, theirs))).toEqual([
      `c.yaml:${lineOf(example, 'authkey:')}: cluster.authkey: ${theirs} is owned by uid 65534, not by root or this daemon's uid 0: chown it`,
    ]);
  });

  it('refuses a key that is not a regular file, without waiting on it (a FIFO used to hang the daemon)', () => {
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', ['-m', '600', fifo]).status).toBe(0);
    const file = join(dir, 'fifo.yaml');
    writeFileSync(file, example.replace(key, fifo));
    // In a child process, so that a regression hangs the child (killed after 20 s), not the test run.
    const script = `import(${JSON.stringify(join(process.cwd(), 'dist/src/config/cluster.js'))}).then((m) => {
      try { m.loadClusterConfig(${JSON.stringify(file)}, { local: 'lb1', interfaceExists: () => true }); console.log('accepted'); }
      catch (e) { console.log(e.describe ? e.describe() : e.message); }
    })`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, 'the load hung on the FIFO').toBeNull();
    expect(r.stdout.trim()).toBe(`${file}:${lineOf(example, 'authkey:')}: cluster.authkey: ${fifo} is not a regular file (a FIFO): the key must be a file`);
    expect(errorsOf(example.replace(key, dir))).toEqual([
      `c.yaml:${lineOf(example, 'authkey:')}: cluster.authkey: ${dir} is not a regular file (a directory): the key must be a file`,
    ]);
  });
});
