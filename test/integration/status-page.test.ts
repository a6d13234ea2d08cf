// The status page in a real headless Chromium (Debian's, driven by playwright-core) against real
// daemons in the namespace lab. Chromium runs inside node1's namespace (a wrapper execs it under
// `ip netns exec`), where the listener is bound to the loopback. From the page's DOM: every node
// live and the bucket map bucket for bucket what the assignment gives three nodes; after node3
// is killed and cut off, node3 shown dead and every bucket on node1/node2 as the assignment gives
// two. The page is read-only (no form or button; POST answered 405) and fetches nothing but its
// own listener. Screenshots (before, after, phone width) are kept in test-artifacts/status-page/;
// AAVIP_UPDATE_SCREENSHOTS=1 also copies them to docs/ (the README's).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { nodeName } from '../../src/lab/vip-lab.js';

const PREFIX = 'pg';
const PORT = 9660;
const BUCKETS = 64;
const URL = `http://127.0.0.1:${PORT}/`;
const ARTEFACTS = resolve('test-artifacts/status-page');
const DOCS = resolve('docs');

interface Shown {
  nodes: Record<string, string>;
  buckets: { bucket: number; owner: string; state: string }[];
  /** bucket → the owner it moved from (the page marks buckets moved in the last seconds). */
  moved: Record<number, string>;
}

/** What the page shows now, read from its DOM hooks. */
const shown = (page: Page): Promise<Shown> =>
  page.evaluate(() => ({
    nodes: Object.fromEntries([...document.querySelectorAll<HTMLElement>('[data-node]')].map((e) => [e.dataset.node!, e.dataset.live!])),
    buckets: [...document.querySelectorAll<HTMLElement>('[data-bucket]')].map((e) => ({
      bucket: Number(e.dataset.bucket),
      owner: e.dataset.owner!,
      state: e.dataset.state!,
    })),
    moved: Object.fromEntries([...document.querySelectorAll<HTMLElement>('[data-moved-from]')].map((e) => [Number(e.dataset.bucket), e.dataset.movedFrom!])),
  }));

const expected = (cl: ClusterLab, live: number[]) => cl.owners(live).map((id, i) => ({ bucket: i + 1, owner: nodeName(id), state: 'owned' }));

/** Polls the page's DOM until `done` holds (bounded in count and time); the last reading either way. */
async function waitShown(
  page: Page,
  done: (s: Shown) => boolean,
  timeoutMs: number,
  each?: (s: Shown) => Promise<void>,
): Promise<{ s: Shown; ms: number; ok: boolean }> {
  const start = Date.now();
  let s = await shown(page);
  for (let k = 0; k < 400 && !done(s) && Date.now() - start < timeoutMs; k++) {
    await each?.(s);
    await new Promise((r) => setTimeout(r, 100));
    s = await shown(page);
  }
  return { s, ms: Date.now() - start, ok: done(s) };
}

const sameMap = (s: Shown, want: Shown['buckets']) => JSON.stringify(s.buckets) === JSON.stringify(want);

describe('the status page in headless Chromium', () => {
  let cl: ClusterLab;
  let browser: Browser | undefined;
  let page: Page;
  let dir: string;
  const requested: string[] = [];

  beforeAll(async () => {
    cl = await ClusterLab.running({ prefix: PREFIX, buckets: BUCKETS, intervalMs: 60, deadtimeMs: 300, metrics: { listen: `127.0.0.1:${PORT}` } });
    dir = mkdtempSync(join(tmpdir(), 'aavip-page-'));
    // Chromium in node1's namespace (playwright-core gives it a fresh profile of its own); the
    // wrapper notes its PID (the browser's, after the execs).
    const wrapper = join(dir, 'chromium-in-netns');
    writeFileSync(wrapper, `#!/bin/sh\necho $$ > ${dir}/pid\nexec ip netns exec ${cl.lab.nodeNs(1)} /usr/bin/chromium "$@"\n`);
    chmodSync(wrapper, 0o755);
    browser = await chromium.launch({
      executablePath: wrapper,
      timeout: 60_000,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 860 } });
    page.on('request', (r) => requested.push(r.url()));
    await page.goto(URL, { timeout: 20_000 });
    mkdirSync(ARTEFACTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    // Should close have left the browser behind, its PID (never a name) is killed.
    const pid = dir ? Number(readFileSyncSafe(join(dir, 'pid'))) : 0;
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const i of [1, 2, 3]) await cl?.stopDaemon(i, 'SIGKILL');
    await cl?.destroy();
  }, 60_000);

  it('shows three live nodes and the bucket map as the assignment gives it; read-only, self-contained', async () => {
    const want = expected(cl, [1, 2, 3]);
    const r = await waitShown(page, (s) => sameMap(s, want), 10_000);
    expect(r.s.nodes).toEqual({ node1: 'true', node2: 'true', node3: 'true' });
    expect(r.s.buckets).toEqual(want);
    expect(new Set(want.map((b) => b.owner)).size).toBe(3);
    await page.screenshot({ path: join(ARTEFACTS, 'before.png'), fullPage: true });
    // Nothing that could change anything, and nothing fetched from anywhere else.
    expect(await page.locator('form, button, input, select, textarea').count()).toBe(0);
    expect(requested.length).toBeGreaterThan(1);
    expect(requested.filter((u) => !u.startsWith(URL))).toEqual([]);
    const statuses = await page.evaluate(async () => ({
      post: (await fetch('/status.json', { method: 'POST' })).status,
      put: (await fetch('/', { method: 'PUT', body: 'x' })).status,
      missing: (await fetch('/nothing')).status,
      metrics: (await fetch('/metrics')).status,
    }));
    expect(statuses).toEqual({ post: 405, put: 405, missing: 404, metrics: 200 });
    // Readable on a phone: 375 px wide, nothing wider than the screen.
    const phone = await browser!.newPage({ viewport: { width: 375, height: 800 } });
    await phone.goto(URL, { timeout: 20_000 });
    await waitShown(phone, (s) => sameMap(s, want), 10_000);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await phone.screenshot({ path: join(ARTEFACTS, 'phone.png') });
    await phone.close();
  }, 60_000);

  it('shows a failover: node3 dead, its buckets on node1 and node2 as the assignment gives two', async () => {
    const want = expected(cl, [1, 2]);
    const killedAt = Date.now();
    await cl.stopDaemon(3, 'SIGKILL');
    await cl.lab.setLink(3, false);
    const dead = await waitShown(page, (s) => s.nodes.node3 === 'false', 15_000);
    expect(dead.ok, 'node3 shown dead').toBe(true);
    const r = await waitShown(page, (s) => s.nodes.node3 === 'false' && sameMap(s, want), 15_000);
    const seenMs = Date.now() - killedAt;
    expect(r.s.nodes).toEqual({ node1: 'true', node2: 'true', node3: 'false' });
    expect(r.s.buckets).toEqual(want);
    expect(r.s.buckets.some((b) => b.owner === 'node3')).toBe(false);
    // The buckets that moved are marked so, each from node3; the others stayed where they were.
    const wasNode3 = expected(cl, [1, 2, 3]).filter((b) => b.owner === 'node3');
    expect(r.s.moved).toEqual(Object.fromEntries(wasNode3.map((b) => [b.bucket, 'node3'])));
    // The takeover is in the page's list of changes, with its time.
    const change = page.locator('#changes tbody tr').first();
    await expect.poll(async () => (await change.textContent()) ?? '', { timeout: 5_000 }).toMatch(/\+\d+.*ms/);
    await page.screenshot({ path: join(ARTEFACTS, 'after.png'), fullPage: true });
    if (process.env.AAVIP_UPDATE_SCREENSHOTS === '1') {
      mkdirSync(DOCS, { recursive: true });
      for (const f of ['before', 'after', 'phone']) copyFileSync(join(ARTEFACTS, `${f}.png`), join(DOCS, `status-page-${f}.png`));
    }
    console.log(`status page: node3 shown dead ${dead.ms} ms after the kill, the bucket map settled ${seenMs} ms after it; screenshots in ${ARTEFACTS}`);
  }, 60_000);

  it('draws real servers, tracked services and a split-brain alarm as text (a hostile name stays text); keeps the last answer when the daemon is gone', async () => {
    const hostile = '<img src=x onerror="window.pwned=1">';
    const other = await browser!.newPage({ viewport: { width: 1100, height: 860 } });
    let cut = false;
    try {
      // node1's own answer (fetched in the browser, which runs in its namespace), with the parts
      // this lab does not run added to it.
      const data = JSON.parse(await page.evaluate(() => fetch('/status.json').then((r) => r.text())));
      data.status.lvs = [
        {
          virtualService: `tcp ${hostile}:80`,
          ipvsError: null,
          realServers: [
            { address: '198.18.1.1:80', state: 'up', weight: 3, failcount: 0, message: 'ok', checkedAt: null },
            { address: `${hostile}:80`, state: 'down', weight: null, failcount: 2, message: hostile, checkedAt: null },
          ],
        },
      ];
      data.status.tracks = [{ name: 'haproxy', kind: 'process', up: false, since: data.generatedAt, lastMessage: hostile, onFailure: 'out' }];
      data.status.splitBrain = { duplicates: [{ vip: data.buckets[0].vip, bucket: 7, nodes: ['node1', 'node2'] }], raisedTotal: 1 };
      // Handovers in flight: node1 taking bucket 1 and draining bucket 2, node2 announcing bucket 3 draining.
      data.buckets[0].local.splice(0, 2, 'incoming', 'draining');
      data.buckets[0].peerDraining = { node2: [3] };
      await other.route('**/status.json', (route) => (cut ? route.abort('connectionrefused') : route.fulfill({ json: data })));
      await other.goto(URL, { timeout: 20_000 });
      await other.locator('[data-real="198.18.1.1:80"]').waitFor({ timeout: 10_000 });
      expect(await other.locator('[data-real="198.18.1.1:80"]').getAttribute('data-weight')).toBe('3');
      expect(await other.locator('[data-real]').nth(1).getAttribute('data-real')).toBe(`${hostile}:80`);
      expect(await other.locator('[data-track="haproxy"]').getAttribute('data-up')).toBe('false');
      expect(await other.locator('[data-split-brain]').textContent()).toContain('bucket 7 on node1 and node2');
      expect(await other.locator('#reals').textContent()).toContain(hostile);
      expect(await other.locator('img').count()).toBe(0);
      const cells = await other.evaluate(() =>
        [1, 2, 3, 4].map((b) => {
          const e = document.querySelector<HTMLElement>(`[data-bucket="${b}"]`)!;
          return [e.dataset.state, e.dataset.drain ?? ''];
        }),
      );
      expect(cells).toEqual([
        ['incoming', ''],
        ['draining', 'node1'],
        ['draining', 'node2'],
        ['owned', ''],
      ]);
      expect(await other.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
      await other.screenshot({ path: join(ARTEFACTS, 'with-reals.png'), fullPage: true });
      // The daemon unreachable: the page says so and keeps what it last drew.
      cut = true;
      await other.locator('body[data-connection="lost"]').waitFor({ timeout: 10_000 });
      expect(await other.locator('[data-bucket]').count()).toBe(BUCKETS);
    } finally {
      await other.close();
    }
  }, 60_000);

  it('shows node3 back: live again and the bucket map as the assignment gives three', async () => {
    await cl.lab.setLink(3, true);
    cl.startDaemon(3);
    const want = expected(cl, [1, 2, 3]);
    const states = new Set<string>();
    // A handover in flight (the page polls each second: it may or may not catch one) is kept as a screenshot.
    const r = await waitShown(
      page,
      (s) => s.nodes.node3 === 'true' && sameMap(s, want),
      30_000,
      async (s) => {
        const now = new Set(s.buckets.map((b) => b.state).filter((x) => x !== 'owned'));
        if (now.size && ![...now].every((x) => states.has(x))) await page.screenshot({ path: join(ARTEFACTS, 'handover.png'), fullPage: true });
        for (const x of now) states.add(x);
      },
    );
    expect(r.s.nodes).toEqual({ node1: 'true', node2: 'true', node3: 'true' });
    expect(r.s.buckets).toEqual(want);
    console.log(
      `status page: node3 back and its buckets shown on it ${r.ms} ms after its restart; handover states seen on the way: ${[...states].join(', ') || 'none'}`,
    );
  }, 60_000);
});

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
