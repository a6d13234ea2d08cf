// The metrics' pure parts: `metrics:` in cluster.yaml (mistakes at their file:line: field), the
// takeover measured from the view change to the kernel update that carries every gained bucket,
// the scrape-time readers' parsing (nft counters, node_exporter's IPVS labels), the gauges rebuilt
// from a status, the checks timed, and the listener (GET /metrics only, closed on stop).
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/config/cluster.js';
import { renderedRuleCounts } from '../../src/dataplane/nft-state.js';
import { renderVipTables } from '../../src/dataplane/nft.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { fill, fromStatus } from '../../src/metrics/collect.js';
import { allEvents, MetricsEvents } from '../../src/metrics/events.js';
import { MetricsExporter } from '../../src/metrics/exporter.js';
import { backendLabels, parseNftCounters } from '../../src/metrics/kernel.js';
import { timedChecks } from '../../src/metrics/lvs.js';
import { defineMetrics } from '../../src/metrics/registry.js';
import { parseListen } from '../../src/metrics/settings.js';
import { errorsOf, example, withSection } from './cluster-example.js';

const quiet = pino({ level: 'silent' });
const COUNTER_NAMES = 'accepted replayed forged truncated malformed unknownSender wrongCluster unconfirmed futureStamps sendErrors'.split(' ');
const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => !l.trimStart().startsWith('#') && l.includes(needle)) + 1;
const value = async (r: Registry, name: string, labels: Record<string, string> = {}) => {
  const m = (await r.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values as { value: number; labels: Record<string, string | number> }[] | undefined)?.find((v) =>
    Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x),
  )?.value;
};

describe('metrics: in cluster.yaml', () => {
  it('is off unless set, and takes an IPv4 address or a bracketed IPv6 one with a port', () => {
    expect(parseClusterConfig(example, 'c.yaml', { local: 'lb1' }).metrics).toBeUndefined();
    const on = withSection('metrics', '  listen: 127.0.0.1:9650');
    expect(parseClusterConfig(on, 'c.yaml', { local: 'lb1' }).metrics).toEqual({ host: '127.0.0.1', port: 9650 });
    expect(parseListen('[::1]:9650')).toEqual({ host: '::1', port: 9650 });
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
  });

  it('refuses a broken section at its file:line: field, with the rest of the file', () => {
    const cases: [string, string, string][] = [
      ['  listen: localhost:9650', 'metrics.listen', "'localhost' is not an IPv4 address or a bracketed IPv6 one"],
      ['  listen: 127.0.0.1:70000', 'metrics.listen', 'port 70000 is not in 1..65535'],
      ['  listen: 127.0.0.1', 'metrics.listen', 'listen must be ADDRESS:PORT'],
      ['  listen: ::1:9650', 'metrics.listen', "listen must be ADDRESS:PORT (e.g. 127.0.0.1:9650 or [::1]:9650), not '::1:9650'"],
      ['  listen: 9650', 'metrics.listen', 'listen must be ADDRESS:PORT'],
      ['  port: 9650', 'metrics.port', "unknown field 'port' (known: listen)"],
    ];
    for (const [body, field, message] of cases) {
      const text = withSection('metrics', body);
      const errs = errorsOf(text);
      const line = lineOf(text, body.trim());
      expect(
        errs.some((e) => e.startsWith(`c.yaml:${line}: ${field}: ${message}`)),
        `${body}: ${errs.join(' | ')}`,
      ).toBe(true);
    }
    const list = withSection('metrics', '  - listen: 127.0.0.1:9650');
    expect(errorsOf(list)).toContain(`c.yaml:${lineOf(list, '- listen')}: metrics: metrics must be a mapping: { listen: ADDRESS:PORT }`);
    expect(errorsOf(example.replace(/^vips:/m, 'metric:\n  listen: 127.0.0.1:1\nvips:'))[0]).toMatch(/: metric: unknown field 'metric' \(known: .*metrics\)/);
  });
});

describe('the takeover and apply durations', () => {
  const own = (owned: number[], incoming: number[] = []) => ({ owned, incoming, draining: [] });

  it('measures from the view change that gained buckets to the first update that carries all of them', async () => {
    const registry = new Registry();
    const m = defineMetrics([registry]);
    let now = 1000;
    const e = new MetricsEvents(m, () => now);
    e.ownership('v', { gained: [4, 5], lost: [1], owned: 3 });
    now = 1010;
    e.applied('v', { path: 'fast', ok: true, ms: 3, at: now, ownership: own([2, 4]) }); // an update begun before the view
    expect(await value(registry, 'aavip_takeover_duration_seconds', { vip: 'v' })).toBeUndefined();
    now = 1040;
    e.ownership('v', { gained: [6], lost: [], owned: 4 }); // a second view before it is applied: still from the first
    e.applied('v', { path: 'fast', ok: true, ms: 2, at: 1050, ownership: own([2, 4, 5], [6]) });
    const json = (await registry.getMetricsAsJSON()).find((x) => x.name === 'aavip_takeover_duration_seconds')!;
    const sum = (json.values as { metricName?: string; value: number }[]).find((v) => v.metricName === 'aavip_takeover_duration_seconds_sum')!.value;
    expect(sum).toBeCloseTo(0.05, 6);
    // Applied: nothing pending any more; later updates time the apply only.
    e.applied('v', { path: 'renew', ok: true, ms: 1, at: 1100, ownership: own([2, 4, 5, 6]) });
    expect(await value(registry, 'aavip_ownership_changes_total', { vip: 'v' })).toBe(2);
    expect(await value(registry, 'aavip_buckets_gained_total', { vip: 'v' })).toBe(3);
    expect(await value(registry, 'aavip_buckets_lost_total', { vip: 'v' })).toBe(1);
    e.applied('v', { path: 'full', ok: false, ms: 1, at: 1200, ownership: own([]) });
    expect(await value(registry, 'aavip_apply_failures_total', { vip: 'v' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toMatch(/aavip_takeover_duration_seconds_count\{vip="v"\} 1\n/);
    expect(text).toMatch(/aavip_apply_duration_seconds_count\{vip="v",path="fast"\} 2\n/);
  });

  it('a loss alone starts no takeover, and every listener hears each event', async () => {
    const registry = new Registry();
    const m = defineMetrics([registry]);
    const seen: string[] = [];
    const other = { view: () => seen.push('view'), ownership: () => seen.push('ownership'), applied: () => seen.push('applied') };
    const both = allEvents([new MetricsEvents(m, () => 0), other]);
    both.ownership('v', { gained: [], lost: [3], owned: 1 });
    both.applied?.('v', { path: 'fast', ok: true, ms: 1, at: 5, ownership: own([1]) });
    both.track?.({} as never);
    expect(seen).toEqual(['ownership', 'applied']);
    expect(await registry.metrics()).not.toMatch(/aavip_takeover_duration_seconds_count\{vip="v"\}/);
  });
});

describe('what a scrape reads', () => {
  it('takes the bucket filter counters of every aavip table from one nft listing', () => {
    const json = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { counter: { family: 'ip', name: 'accepted', table: 'aavip_198_18_0_100', packets: 85, bytes: 4556 } },
        { counter: { family: 'ip', name: 'dropped', table: 'aavip_198_18_0_100', packets: 165, bytes: 8844 } },
        { counter: { family: 'inet', name: 'other', table: 'filter', packets: 1, bytes: 1 } },
      ],
    });
    expect([...parseNftCounters(json)]).toEqual([
      ['ip aavip_198_18_0_100', { accepted: { packets: 85, bytes: 4556 }, dropped: { packets: 165, bytes: 8844 } }],
    ]);
  });

  it('declares the counters in the table without changing what the reconcile counts as rules', () => {
    const v = parseVipSpec({ address: '198.18.0.100/24', interface: 'eth0', seed: '0x1234', buckets: 4 } as never);
    const text = renderVipTables(v, { owned: [1], incoming: [2], draining: [3] });
    expect(text).toContain('  counter accepted {\n  }\n  counter dropped {\n  }');
    expect(text).toMatch(/counter name "dropped" drop\n {2}\}\n {2}chain own/);
    // The declarations are not rules: a table read back counts the same as one without them.
    expect(renderedRuleCounts(text)).toEqual(renderedRuleCounts(text.replace(/ {2}counter \w+ \{\n {2}\}\n/g, '')));
    expect(text.match(/counter name "accepted"/g)).toHaveLength(2);
    expect(text.match(/counter name "dropped"/g)).toHaveLength(4);
  });

  it('labels a real server as node_exporter does', () => {
    expect(backendLabels({ protocol: 'tcp', address: '198.18.0.100:80' }, '198.18.1.2:8080')).toEqual({
      local_address: '198.18.0.100',
      local_port: '80',
      remote_address: '198.18.1.2',
      remote_port: '8080',
      proto: 'TCP',
      local_mark: '',
    });
    expect(backendLabels({ protocol: 'fwm', address: 7 }, '[2001:db8::2]:0')).toMatchObject({
      local_address: '',
      local_port: '0',
      remote_address: '2001:db8::2',
      local_mark: '7',
      proto: 'FWM',
    });
  });

  it('rebuilds a gauge from what is there now and sets a counter to what the daemon counted', async () => {
    const registry = new Registry();
    const m = defineMetrics([registry]);
    fill(m.buckets, [
      [{ vip: 'a', node: 'n1' }, 3],
      [{ vip: 'b', node: 'n1' }, 4],
    ]);
    fill(m.buckets, [[{ vip: 'a', node: 'n1' }, 5]]);
    fill(m.heartbeatsAccepted, [[{}, 41]]);
    fill(m.heartbeatsAccepted, [[{}, 42]]);
    expect(await value(registry, 'aavip_buckets', { vip: 'a' })).toBe(5);
    expect(await value(registry, 'aavip_buckets', { vip: 'b' })).toBeUndefined();
    expect(await value(registry, 'aavip_heartbeats_accepted_total')).toBe(42);
  });

  it('gives each VIP its event-fed series at 0 on the first scrape, and never resets them after', async () => {
    const registry = new Registry();
    const m = defineMetrics([registry]);
    const status = {
      nodes: [{ id: 1, name: 'n1', address: '198.18.0.1', live: true, weight: 1, tracksDown: [] }],
      view: { epoch: 3, live: [1], quorate: true, since: '' },
      joined: true,
      vips: [{ vip: '198.18.0.100/24', perNode: { n1: 4 }, local: { owned: [0, 1, 2, 3], incoming: [], draining: [] }, kernelApplied: true, excluded: [] }],
      // Every counter the membership keeps at 0, but three.
      counters: { ...Object.fromEntries(COUNTER_NAMES.map((k) => [k, 0])), accepted: 9, replayed: 1, forged: 2 },
    } as never;
    fromStatus(m, status, ['198.18.0.100']);
    expect(await registry.metrics()).toMatch(/aavip_takeover_duration_seconds_count\{vip="198\.18\.0\.100"\} 0\n/);
    expect(await value(registry, 'aavip_ownership_changes_total', { vip: '198.18.0.100' })).toBe(0);
    const e = new MetricsEvents(m, () => 0);
    e.ownership('198.18.0.100', { gained: [3], lost: [], owned: 4 });
    e.applied('198.18.0.100', { path: 'fast', ok: true, ms: 1, at: 20, ownership: { owned: [0, 1, 2, 3], incoming: [], draining: [] } });
    const split = { duplicates: [{ vip: '198.18.0.100', bucket: 2, nodes: ['n1', 'n2'] }], raisedTotal: 1 };
    fromStatus(m, { ...(status as object), splitBrain: split } as never, ['198.18.0.100']);
    const text = await registry.metrics();
    expect(text).toMatch(/aavip_takeover_duration_seconds_count\{vip="198\.18\.0\.100"\} 1\n/);
    expect(text).toMatch(/aavip_ownership_changes_total\{vip="198\.18\.0\.100"\} 1\n/);
    expect(text).toMatch(/aavip_duplicate_owner_buckets\{vip="198\.18\.0\.100"\} 1\n/);
    expect(text).toMatch(/aavip_heartbeats_refused_total\{reason="forged"\} 2\n/);
    expect(text).toMatch(/aavip_local_buckets\{vip="198\.18\.0\.100",state="owned"\} 4\n/);
  });

  it('times every check and counts the failed ones, by the real checked', async () => {
    const registry = new Registry();
    const m = defineMetrics([registry]);
    const target = { host: '198.18.1.2', realPort: 80, virtualHost: '198.18.0.100', virtualPort: 80, protocol: 'tcp' } as never;
    let up = true;
    const run = timedChecks(async () => ({ up, message: up ? 'ok' : 'refused' }), m);
    await run('connect', target);
    up = false;
    expect(await run('connect', target)).toEqual({ up: false, message: 'refused' });
    const labels = { remote_address: '198.18.1.2', local_port: '80', proto: 'TCP' };
    expect(await value(registry, 'aavip_real_server_check_failures_total', labels)).toBe(1);
    expect(await registry.metrics()).toMatch(/aavip_real_server_check_duration_seconds_count\{local_address="198\.18\.0\.100",.*remote_port="80".*\} 2\n/);
  });
});

describe('the listener', () => {
  it('answers GET /metrics and the status page, 404 for any other path, 405 for other methods, and is gone once stopped', async () => {
    const x = new MetricsExporter(() => 0, quiet);
    await x.start({ host: '127.0.0.1', port: 0 } as never); // port 0: any free one (not a config value: the parser refuses it)
    const port = (x as unknown as { server: { server: { address(): { port: number } } } }).server.server.address().port;
    const r = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await r.text()).toContain('# TYPE aavip_heartbeats_sent_total counter');
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<title>aavip status</title>');
    // No daemon behind it (source unset): the page's data is an error, not an empty status.
    expect((await fetch(`http://127.0.0.1:${port}/status.json`)).status).toBe(500);
    expect((await fetch(`http://127.0.0.1:${port}/metricsx`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
    await x.stop();
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow();
  });

  it('moves on a reconfigure, and a listener that cannot be had fails it, keeping the old one', async () => {
    const x = new MetricsExporter(() => 0, quiet);
    const y = new MetricsExporter(() => 0, quiet);
    try {
      await y.start({ host: '127.0.0.1', port: 0 } as never);
      const taken = (y as unknown as { server: { server: { address(): { port: number } } } }).server.server.address().port;
      await x.start({ host: '127.0.0.1', port: 0 } as never);
      const own = (x as unknown as { server: { server: { address(): { port: number } } } }).server.server.address().port;
      await expect(x.reconfigure({ host: '127.0.0.1', port: taken })).rejects.toThrow(`metrics listener on 127.0.0.1:${taken}: the address is in use`);
      expect((await fetch(`http://127.0.0.1:${own}/metrics`)).status).toBe(200);
      expect(await x.reconfigure(undefined)).toEqual(['metrics listener closed']);
      await expect(fetch(`http://127.0.0.1:${own}/metrics`)).rejects.toThrow();
    } finally {
      await x.stop();
      await y.stop();
    }
  });
});
