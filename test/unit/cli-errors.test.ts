// What the `aavip` command prints when it fails: one line `aavip: ...` for what the user can act
// on (exit 2 for usage and configuration, 1 otherwise), a stack only for a bug.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, InputErrors, reportFailure } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-clierr-'));
const key = join(dir, 'authkey');
writeFileSync(key, 'k'.repeat(32));
chmodSync(key, 0o600);
const socket = join(dir, 'no-daemon.sock'); // nothing ever listens here
const config = join(dir, 'cluster.yaml');
writeFileSync(
  config,
  readFileSync('conf/cluster.yaml', 'utf8')
    .replace('authkey: /etc/aavip/authkey', `authkey: ${key}`)
    .replace('  name: web\n', `  name: web\n  controlSocket: ${socket}\n`)
    .replace('interface: eth0', 'interface: lo'),
);

const aavip = (...args: string[]) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8', timeout: 60_000 });
const STACK = /^\s+at /m;

describe('aavip failures', () => {
  it('says in one line that no daemon runs, for status, drain and reload', () => {
    for (const args of [['status'], ['drain', 'lb9'], ['undrain'], ['reload']]) {
      const r = aavip(...args, '--config', config, '--node', 'lb1');
      expect(r.stderr, args.join(' ')).not.toMatch(STACK);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^aavip: aavip is not running here .*${socket.replace(/[.]/g, '\\.')}`));
      expect(r.status, args.join(' ')).toBe(1);
    }
  });

  it('reports a usage mistake in one line with exit 2, and --help with 0', () => {
    const unknown = aavip('status', '--frobnicate');
    expect(unknown.stderr).toBe("aavip: unknown option '--frobnicate'\n");
    expect(unknown.status).toBe(2);
    const badValue = aavip('up', '--nice', 'x', '--config', config);
    expect(badValue.stderr).toMatch(/^aavip: option '--nice <n>' argument 'x' is invalid/);
    expect(badValue.stderr.trim().split('\n')).toHaveLength(1);
    expect(badValue.status).toBe(2);
    expect(aavip('nosuchcommand').status).toBe(2);
    expect(aavip('status', '--help').status).toBe(0);
  });

  it('reports a broken or missing configuration at its line, exit 2, without a stack', () => {
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, readFileSync(config, 'utf8').replace(/interval: \d+ms/, 'interval: soon'));
    const r = aavip('reload', '--config', broken, '--node', 'lb1');
    expect(r.stderr).toMatch(new RegExp(`^aavip: ${broken.replace(/[.]/g, '\\.')}:\\d+: cluster\\.heartbeat\\.interval: `));
    expect(r.stderr).not.toMatch(STACK);
    expect(r.status).toBe(2);
    const missing = aavip('status', '--config', join(dir, 'nonexistent.yaml'));
    expect(missing.stderr).not.toMatch(STACK);
    expect(missing.status).toBe(2);
  });
});

describe('reportFailure', () => {
  it("keeps the stack for the engine's own errors and things that are not errors: those are bugs", () => {
    const t = reportFailure(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(t).toMatchObject({ bug: true, exitCode: 1 });
    expect(t.text).toMatch(STACK);
    expect(reportFailure(new RangeError('Invalid array length')).bug).toBe(true);
    expect(reportFailure('a string').bug).toBe(true);
  });

  it('gives one line for input errors (2), refusals and system call failures (1)', () => {
    expect(reportFailure(new InputError('bad', { file: 'c.yaml', line: 3, field: 'x' }))).toEqual({ text: 'c.yaml:3: x: bad', exitCode: 2, bug: false });
    expect(reportFailure(new InputErrors([new InputError('a', { line: 1 }), new InputError('b', { line: 2 })]))).toMatchObject({ exitCode: 2, bug: false });
    expect(reportFailure(new Error('no node lb9'))).toEqual({ text: 'no node lb9', exitCode: 1, bug: false });
    const refused = Object.assign(new Error('connect ECONNREFUSED /run/x.sock'), { code: 'ECONNREFUSED', syscall: 'connect', address: '/run/x.sock' });
    expect(reportFailure(refused)).toEqual({ text: 'aavip is not running here (nothing listens on /run/x.sock)', exitCode: 1, bug: false });
    const denied = Object.assign(new Error('connect EACCES /run/x.sock'), { code: 'EACCES', syscall: 'connect' });
    expect(reportFailure(denied)).toEqual({ text: 'connect EACCES /run/x.sock', exitCode: 1, bug: false });
  });
});
