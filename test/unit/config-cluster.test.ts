import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { controlSocketOf, parseClusterConfig, parseDuration } from '../../src/config/cluster.js';
import { errorsOf, example as shipped, exampleKey as key } from './cluster-example.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-conf-'));
// The example with its heartbeat interval pinned at 100ms: these tests are about the loader, not the
// example's tuning (which changes).
const example = shipped.replace(/interval: \d+ms/, 'interval: 100ms');

describe('cluster.yaml', () => {
  it('loads the shipped example', () => {
    const c = parseClusterConfig(example, 'c.yaml', { localAddresses: ['198.18.0.12'] });
    expect(c.local).toBe(2);
    expect(c.nodes.map((n) => n.name)).toEqual(['lb1', 'lb2', 'lb3']);
    expect(c.heartbeat).toEqual({ port: 5405, intervalMs: 100, deadtimeMs: 300, copies: 2, restartGraceMs: 10000 });
    expect(c.vips[0].mac).toBe('01:00:5e:12:00:64');
    expect(c.vips[0].buckets).toBe(256);
    expect(c.quorum).toBe('majority');
  });

  it('names the line and field of each mistake, and reports them all', () => {
    const bad = example
      .replace('interval: 100ms', 'interval: fast')
      .replace('address: 198.18.0.100/24', 'address: 198.18.0.100')
      .replace('{ id: 3, name: lb3, address: 198.18.0.13 }', '{ id: 3, name: lb3, address: nowhere }');
    const errs = errorsOf(bad);
    const lineOf = (needle: string) => bad.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(errs).toContain(`c.yaml:${lineOf('interval: fast')}: cluster.heartbeat.interval: interval must be a duration of at least 10ms (e.g. 100ms)`);
    expect(errs.some((e) => e.startsWith(`c.yaml:${lineOf('address: 198.18.0.100')}: vips.0.address:`) && e.includes('no prefix length'))).toBe(true);
    expect(errs.some((e) => e.startsWith(`c.yaml:${lineOf('nowhere')}: cluster.nodes.2.address`))).toBe(true);
  });

  it('refuses a key file others can read', () => {
    const open = join(dir, 'openkey');
    writeFileSync(open, 'k'.repeat(32));
    chmodSync(open, 0o644);
    expect(errorsOf(example.replace(key, open))[0]).toMatch(/authkey: .* readable by group or others/);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(errorsOf('cluster:\n  name: [x\n')[0]).toMatch(/^c\.yaml:\d+: /);
  });

  it('names misspelt fields instead of ignoring them', () => {
    const bad = example.replace('deadtime: 300ms', 'deadTime: 300ms').replace('    buckets: 256', '    bucket: 256');
    const errs = errorsOf(bad);
    const lineOf = (needle: string) => bad.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(errs).toContain(
      `c.yaml:${lineOf('deadTime')}: cluster.heartbeat.deadTime: unknown field 'deadTime' (known: port, interval, deadtime, copies, restartGrace)`,
    );
    expect(errs.some((e) => e.startsWith(`c.yaml:${lineOf('bucket: 256')}: vips.0.bucket: unknown field`))).toBe(true);
  });

  it('checks timings, weights, ids and the local node against each other', () => {
    const errs = errorsOf(
      example
        .replace('deadtime: 300ms', 'deadtime: 150ms')
        .replace('{ id: 2, name: lb2', '{ id: 1, weight: -1, name: lb2')
        .replace('quorum: majority', 'quorum: most'),
    );
    expect(errs.some((e) => e.includes('cluster.heartbeat.deadtime: deadtime must be a duration of at least twice the interval'))).toBe(true);
    expect(errs.some((e) => e.includes('cluster.nodes.1.weight: weight must be a number ≥ 0'))).toBe(true);
    expect(errs.some((e) => e.includes("cluster.quorum: quorum must be 'majority' or 'ignore'"))).toBe(true);
    expect(errorsOf(example.replace('{ id: 2, name: lb2', '{ id: 1, name: lb2'))[0]).toMatch(/cluster\.nodes\.1\.id: id 1 is used twice/);
    expect(() => parseClusterConfig(example, 'c.yaml', { local: 'lb9' })).toThrow(/'lb9' is not a configured node/);
    expect(() => parseClusterConfig(example, 'c.yaml', { localAddresses: ['10.0.0.1'] })).toThrow(/no configured node has an address of this host/);
  });

  it("finds the running daemon's control socket even after the file was broken", () => {
    const file = join(dir, 'cluster.yaml');
    writeFileSync(file, example);
    expect(controlSocketOf(file, { local: 'lb2' })).toBe('/run/aavip/web-lb2.sock');
    writeFileSync(file, example.replace('interval: 100ms', 'interval: soon').replace('cluster:', 'cluster:\n  controlSocket: /run/x.sock'));
    expect(controlSocketOf(file, { local: 'lb2' })).toBe('/run/x.sock');
    writeFileSync(file, 'cluster: [');
    expect(() => controlSocketOf(file, { local: 'lb2' })).toThrow();
    expect(errorsOf(example.replace('cluster:', 'cluster:\n  controlSocket: relative.sock'))[0]).toMatch(
      /cluster\.controlSocket: controlSocket must be an absolute path/,
    );
  });

  it('finds the one running daemon here when local: auto matches no address (its interface is down), else names --node', () => {
    const file = join(dir, 'auto.yaml');
    writeFileSync(file, example.replace(/^(\s*)local: .*$/m, '$1local: auto'));
    const run = mkdtempSync(join(tmpdir(), 'aavip-run-'));
    const saved = process.env.AAVIP_RUN_DIR;
    process.env.AAVIP_RUN_DIR = run;
    try {
      const none = { localAddresses: ['192.0.2.99'] };
      expect(() => controlSocketOf(file, none)).toThrow(/interface that is down.*pass --node NAME or set local to one of lb1, lb2, lb3/);
      writeFileSync(join(run, 'web-lb2.sock'), '');
      expect(controlSocketOf(file, none)).toBe(join(run, 'web-lb2.sock'));
      // Two daemons of the cluster on one host (a lab): which one is meant cannot be guessed.
      writeFileSync(join(run, 'web-lb1.sock'), '');
      expect(() => controlSocketOf(file, none)).toThrow(/--node/);
    } finally {
      if (saved === undefined) delete process.env.AAVIP_RUN_DIR;
      else process.env.AAVIP_RUN_DIR = saved;
    }
  });

  it('parses durations', () => {
    expect(parseDuration('100ms')).toBe(100);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1m')).toBe(60000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
