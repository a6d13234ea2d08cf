// The status page's parts without a browser: the ring of ownership changes and their timings,
// the bucket map built from the daemon's owners and handover states, the listener's routes
// (GET only) and the page itself (self-contained, text put in as text).
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../src/daemon/control-protocol.js';
import { createLogger } from '../../src/log.js';
import { RecentChanges } from '../../src/metrics/changes.js';
import { localStates, pageData, type PageSource } from '../../src/metrics/page-data.js';
import { STATUS_PAGE } from '../../src/metrics/page.js';
import { MetricsServer } from '../../src/metrics/server.js';

const applied = (at: number, owned: number[], ok = true) => ({ path: 'fast' as const, ok, ms: 1, at, ownership: { owned, incoming: [], draining: [] } });

describe('the last ownership changes', () => {
  it('times each change to the kernel update that first serves all it gained', () => {
    let now = 1000;
    const r = new RecentChanges(
      () => now,
      () => Date.UTC(2026, 0, 1),
    );
    r.changed('10.0.0.1', { gained: [1, 2], lost: [], owned: 2 });
    now = 1004;
    r.applied('10.0.0.1', applied(1003, [1]));
    r.applied('10.0.0.2', applied(1003.5, [1, 2]));
    r.applied('10.0.0.1', applied(1003.7, [1, 2], false));
    expect(r.list()[0]).toMatchObject({ gained: 2, takeoverMs: null, appliedMs: 3 });
    r.applied('10.0.0.1', applied(1012.25, [1, 2]));
    expect(r.list()).toEqual([{ at: '2026-01-01T00:00:00.000Z', vip: '10.0.0.1', gained: 2, lost: 0, owned: 2, takeoverMs: 12.3, appliedMs: 3 }]);
    // A loss has no takeover; an update from before the change does not count for it.
    r.changed('10.0.0.1', { gained: [], lost: [2], owned: 1 });
    r.applied('10.0.0.1', applied(900, [1]));
    expect(r.list()[0]).toMatchObject({ lost: 1, takeoverMs: null, appliedMs: null });
  });

  it('keeps the newest `size`, newest first', () => {
    const r = new RecentChanges(() => 0, Date.now, 3);
    for (let i = 1; i <= 5; i++) r.changed('v', { gained: [i], lost: [], owned: i });
    expect(r.list().map((c) => c.owned)).toEqual([5, 4, 3]);
  });
});

describe('the bucket map', () => {
  it('names every owner and marks this node’s handover states and the peers’ draining', () => {
    expect(localStates(5, { owned: [1, 4], incoming: [2], draining: [5, 9] })).toEqual(['owned', 'incoming', '', 'owned', 'draining']);
    const status = {
      local: { id: 1, name: 'a', weight: 1 },
      nodes: [
        { id: 1, name: 'a', live: true },
        { id: 2, name: 'b', live: true },
        { id: 3, name: 'c', live: false },
      ],
      vips: [{ vip: '10.0.0.1/24', local: { owned: [1], incoming: [2], draining: [] } }],
    } as unknown as DaemonStatus;
    const asked: number[] = [];
    const src: PageSource = {
      status: () => status,
      vips: [{ key: '10.0.0.1', keeper: { currentOwners: [1, 1, 2, 0] } }],
      name: (id) => ['', 'a', 'b', 'c'][id],
      membership: {
        recentHeartbeat: (id) => {
          asked.push(id);
          return { draining: { '10.0.0.1': [2] } };
        },
      },
      deps: { clock: { now: () => 0 } },
    };
    const d = pageData(src, [], () => 0);
    expect(d.buckets).toEqual([{ vip: '10.0.0.1/24', owners: ['a', 'a', 'b', ''], local: ['owned', 'incoming', '', ''], peerDraining: { b: [2] } }]);
    expect(asked).toEqual([2]);
    expect(d.generatedAt).toBe('1970-01-01T00:00:00.000Z');
  });
});

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

describe('the listener', () => {
  it('answers GET and HEAD on its routes, 404 elsewhere, 405 to anything that would write', async () => {
    const port = await freePort();
    const server = await MetricsServer.open(
      { host: '127.0.0.1', port },
      { '/': async () => ({ contentType: 'text/html', body: 'page' }), '/status.json': async () => ({ contentType: 'application/json', body: '{}' }) },
      createLogger('test', 'silent'),
    );
    try {
      const at = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);
      const page = await at('/?x=1');
      expect([page.status, page.headers.get('content-type'), page.headers.get('cache-control'), await page.text()]).toEqual([
        200,
        'text/html',
        'no-store',
        'page',
      ]);
      expect((await at('/status.json', { method: 'HEAD' })).status).toBe(200);
      expect((await at('/toString')).status).toBe(404);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = await at('/status.json', { method, body: method === 'DELETE' ? undefined : 'x' });
        expect([method, r.status, r.headers.get('allow')]).toEqual([method, 405, 'GET, HEAD']);
      }
    } finally {
      await server.close();
    }
  });
});

describe('the page', () => {
  it('is one document: no external asset, no form or button, text set as text', () => {
    expect(STATUS_PAGE).not.toMatch(/\s(src|href)=|<link|@import|url\(|https?:\/\//);
    expect(STATUS_PAGE).not.toMatch(/<(form|button|input|select|textarea)\b/);
    expect(STATUS_PAGE).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(STATUS_PAGE).toContain('fetch("status.json"');
    expect(STATUS_PAGE).toContain('name="viewport"');
  });
});
