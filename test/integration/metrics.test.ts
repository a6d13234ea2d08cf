// Prometheus metrics with real daemons in the namespace lab: every node serves /metrics on its own
// namespace's loopback; a scrape during a failover shows the takeover (the dead node out of the
// view, its buckets on the survivors, ownership changes and a takeover duration sample), the
// bucket filter's nft counters move with the traffic, and promtool (Prometheus' own parser and
// linter) takes the text without a complaint. A reload moves the listener.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { VIP_ADDRESS } from '../../src/lab/vip-lab.js';

const PREFIX = 'mtr';
const PORT = 9650;
const BUCKETS = 64;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a text exposition (the subset of the format prom-client writes: no timestamps). */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const m = l.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
      if (!m) throw new Error(`not a sample line: ${l}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

const pick = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
const sum = (s: Sample[], name: string, labels: Record<string, string> = {}) => pick(s, name, labels).reduce((n, x) => n + x.value, 0);

/** GET a URL from inside node i's namespace (Node's fetch, bounded). */
async function get(cl: ClusterLab, i: number, url: string): Promise<{ status: number; body: string }> {
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(3000) }).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => console.log(JSON.stringify({ status: 0, body: String(e.cause?.code ?? e.message) })))`;
  const r = await cl.lab.exec(cl.lab.nodeNs(i), [process.execPath, '-e', script], { timeoutMs: 10_000 });
  return JSON.parse(r.stdout) as { status: number; body: string };
}

const scrape = async (cl: ClusterLab, i: number, port = PORT) => {
  const r = await get(cl, i, `http://127.0.0.1:${port}/metrics`);
  if (r.status !== 200) throw new Error(`scrape of node${i} on ${port}: ${r.status} ${r.body}`);
  return r.body;
};

async function promtool(text: string): Promise<string> {
  const r = await run('promtool', ['check', 'metrics'], { input: text, allowFailure: true, timeoutMs: 20_000 });
  return r.status === 0 ? (r.stdout + r.stderr).trim() : `promtool exit ${r.status}: ${r.stdout}${r.stderr}`;
}

describe('Prometheus metrics in the namespace lab', () => {
  let cl: ClusterLab;

  beforeAll(async () => {
    cl = await ClusterLab.running({ prefix: PREFIX, buckets: BUCKETS, intervalMs: 60, deadtimeMs: 300, metrics: { listen: `127.0.0.1:${PORT}` } });
  }, 90_000);

  afterAll(async () => {
    for (const i of [1, 2, 3]) await cl?.stopDaemon(i, 'SIGKILL');
    await cl?.destroy();
  }, 60_000);

  it('serves the view, the buckets and the bucket filter counters, promtool-clean; 404 elsewhere, loopback only', async () => {
    const burst = await cl.burst(120);
    expect(burst.filter((a) => a.node).length).toBe(120);
    const text = await scrape(cl, 1);
    expect(await promtool(text)).toBe('');
    const s = samples(text);
    expect(pick(s, 'aavip_view_quorate')[0]?.value).toBe(1);
    expect(pick(s, 'aavip_joined')[0]?.value).toBe(1);
    for (const n of ['node1', 'node2', 'node3']) expect(pick(s, 'aavip_node_up', { node: n })[0]?.value, n).toBe(1);
    // Every bucket has one owner, spread over the three.
    expect(sum(s, 'aavip_buckets', { vip: VIP_ADDRESS })).toBe(BUCKETS);
    for (const n of ['node1', 'node2', 'node3']) expect(pick(s, 'aavip_buckets', { node: n })[0]?.value, n).toBeGreaterThan(10);
    expect(pick(s, 'aavip_local_buckets', { state: 'owned' })[0]?.value).toBe(pick(s, 'aavip_buckets', { node: 'node1' })[0]?.value);
    // The cluster MAC brings every packet to every node: each accepts its share and drops the rest.
    expect(pick(s, 'aavip_vip_packets_total', { vip: VIP_ADDRESS, verdict: 'accepted' })[0]?.value).toBeGreaterThan(0);
    expect(pick(s, 'aavip_vip_packets_total', { vip: VIP_ADDRESS, verdict: 'dropped' })[0]?.value).toBeGreaterThan(0);
    expect(pick(s, 'aavip_vip_bytes_total', { verdict: 'accepted' })[0]?.value).toBeGreaterThan(0);
    expect(pick(s, 'aavip_heartbeats_sent_total')[0]?.value).toBeGreaterThan(0);
    expect(pick(s, 'aavip_heartbeats_accepted_total')[0]?.value).toBeGreaterThan(0);
    expect(pick(s, 'aavip_heartbeats_refused_total', { reason: 'forged' })[0]?.value).toBe(0);
    expect(pick(s, 'aavip_duplicate_owner_buckets', { vip: VIP_ADDRESS })[0]?.value).toBe(0);
    expect(pick(s, 'aavip_apply_duration_seconds_count').reduce((n, x) => n + x.value, 0)).toBeGreaterThan(0);
    // The status page shares the listener (test/integration/status-page.test.ts tests it).
    expect((await get(cl, 1, `http://127.0.0.1:${PORT}/`)).body).toContain('<title>aavip status</title>');
    expect((await get(cl, 1, `http://127.0.0.1:${PORT}/metricsx`)).status).toBe(404);
    // Bound to the loopback only: the node's own address refuses the connection.
    expect(await get(cl, 1, `http://${cl.lab.nodeAddress(1)}:${PORT}/metrics`)).toMatchObject({ status: 0, body: 'ECONNREFUSED' });
  }, 60_000);

  it('shows a failover as it happens: the dead node out, its buckets taken over, a takeover duration per survivor', async () => {
    const before = await Promise.all([1, 2].map(async (i) => samples(await scrape(cl, i))));
    const killedAt = Date.now();
    await cl.stopDaemon(3, 'SIGKILL');
    await cl.lab.setLink(3, false);
    // Scrape both survivors until the takeover shows (bounded in count and time).
    let after: Sample[][] = [];
    let seenAfterMs = -1;
    for (let k = 0; k < 200 && Date.now() - killedAt < 15_000; k++) {
      const texts = await Promise.all([1, 2].map((i) => scrape(cl, i)));
      after = texts.map(samples);
      const done = after.every((s) => pick(s, 'aavip_node_up', { node: 'node3' })[0]?.value === 0 && sum(s, 'aavip_takeover_duration_seconds_count') >= 1);
      if (done) {
        seenAfterMs = Date.now() - killedAt;
        for (const t of texts) expect(await promtool(t)).toBe('');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seenAfterMs, 'the takeover showed in both survivors’ metrics').toBeGreaterThan(0);
    for (const [k, s] of after.entries()) {
      const node = `node${k + 1}`;
      expect(pick(s, 'aavip_buckets', { node: 'node3' })[0]?.value, node).toBe(0);
      expect(sum(s, 'aavip_buckets', { vip: VIP_ADDRESS }), node).toBe(BUCKETS);
      expect(sum(s, 'aavip_ownership_changes_total') - sum(before[k], 'aavip_ownership_changes_total'), node).toBeGreaterThanOrEqual(1);
      const gained = sum(s, 'aavip_buckets_gained_total') - sum(before[k], 'aavip_buckets_gained_total');
      const grew = pick(s, 'aavip_buckets', { node })[0].value - pick(before[k], 'aavip_buckets', { node })[0].value;
      expect(gained, node).toBe(grew);
      expect(grew, node).toBeGreaterThan(0);
      // One takeover sample, from the view change to the kernel update: well under the time the kill took to show.
      const count = sum(s, 'aavip_takeover_duration_seconds_count') - sum(before[k], 'aavip_takeover_duration_seconds_count');
      const seconds = sum(s, 'aavip_takeover_duration_seconds_sum') - sum(before[k], 'aavip_takeover_duration_seconds_sum');
      expect(count, node).toBe(1);
      expect(seconds, node).toBeGreaterThan(0);
      expect(seconds * 1000, node).toBeLessThan(seenAfterMs);
      expect(pick(s, 'aavip_view_epoch')[0].value, node).toBeGreaterThan(pick(before[k], 'aavip_view_epoch')[0].value);
    }
    console.log(
      `takeover seen in the metrics ${seenAfterMs} ms after the kill; takeover durations ${after.map((s) => `${(sum(s, 'aavip_takeover_duration_seconds_sum') * 1000).toFixed(1)} ms`).join(', ')}`,
    );
  }, 60_000);

  it('moves the listener on a reload', async () => {
    const config = cl.readConfig();
    config.metrics = { listen: `127.0.0.1:${PORT + 1}` };
    cl.writeConfig(config);
    const r = await cl.cli(1, ['reload']);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain(`metrics listener on 127.0.0.1:${PORT + 1}`);
    expect(samples(await scrape(cl, 1, PORT + 1)).length).toBeGreaterThan(10);
    expect(await get(cl, 1, `http://127.0.0.1:${PORT}/metrics`)).toMatchObject({ status: 0, body: 'ECONNREFUSED' });
  }, 30_000);
});
