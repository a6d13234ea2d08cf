// Notify hooks with real processes: a command is told its event in the environment, a hook's
// events run one at a time and in order, a hook that hangs is killed (its whole process group) at
// its timeout without holding anything else, and one that falls far behind drops its oldest
// events. Then in the namespace lab: a hook that hangs on every event, on every node, does not
// slow a takeover (NEVER NONE beyond the bounded takeover), and the survivors' hooks hear of it.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { alive, waitFor } from './lab-helpers.js';
import { afterAll, describe, expect, it } from 'vitest';
import { runFailover } from '../../src/lab/failover.js';
import { NetnsLab } from '../../src/lab/netns.js';
import { ownershipEvent, viewEvents } from '../../src/notify/events.js';
import { NOTIFY_QUEUE, Notifier } from '../../src/notify/notifier.js';
import type { View } from '../../src/membership/membership.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-hooks-'));
const view = (epoch: number, live: number[]) => ({ epoch, live, quorate: true, members: [] }) as unknown as View;
const quiet = pino({ level: 'silent' });

describe('the notifier', () => {
  it('tells a command its event in the environment, and runs a hook’s events in order', async () => {
    const out = join(dir, 'order.log');
    const script = join(dir, 'record.sh');
    writeFileSync(script, `#!/bin/sh\nsleep 0.1\necho "$AAVIP_EVENT $AAVIP_EPOCH $AAVIP_LEFT $AAVIP_GAINED $AAVIP_NODE" >> ${out}\n`, { mode: 0o755 });
    const n = new Notifier([{ argv: [script], on: ['view', 'ownership'], timeoutMs: 2000 }], { log: quiet, base: { AAVIP_NODE: 'lb1' } });
    const t0 = performance.now();
    for (const e of viewEvents(view(1, [1, 2, 3]), view(2, [1, 2]), (id) => `lb${id}`)) n.emit(e);
    n.emit(ownershipEvent('198.18.0.100', { gained: [7, 8], lost: [], owned: 128 }));
    n.emit({ event: 'track', env: {} }); // not one of this hook's events
    expect(performance.now() - t0).toBeLessThan(50); // nothing waits for the commands
    expect(await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 2, 5000)).toBe(true);
    expect(readFileSync(out, 'utf8')).toBe('view 2 lb3  lb1\nownership   7,8 lb1\n');
    expect(n.counters).toMatchObject({ ran: 2, failed: 0, timedOut: 0 });
  });

  it('kills a hook that hangs at its timeout, its children too, and goes on with the next event', async () => {
    const pids = join(dir, 'hang.pids');
    const script = join(dir, 'hang.sh');
    // The shell forks its sleep (no exec): killing only the shell would leave the sleep behind.
    writeFileSync(script, `#!/bin/sh\nsleep 30 &\necho "$$ $!" >> ${pids}\nwait\n`, { mode: 0o755 });
    const n = new Notifier([{ argv: [script], on: ['view'], timeoutMs: 300 }], { log: quiet, base: {} });
    const t0 = performance.now();
    n.emit({ event: 'view', env: {} });
    n.emit({ event: 'view', env: {} });
    expect(await waitFor(() => n.counters.timedOut === 2, 5000)).toBe(true);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(580);
    const all = readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    expect(all).toHaveLength(4);
    expect(await waitFor(() => all.every((p) => !alive(p)), 2000), `pids ${all.join(' ')} gone`).toBe(true);
  });

  it('kills what still runs when the daemon stops, and starts nothing after', async () => {
    const pids = join(dir, 'stop.pids');
    const script = join(dir, 'stop.sh');
    writeFileSync(script, `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 30\n`, { mode: 0o755 });
    const n = new Notifier([{ argv: [script], on: ['view'], timeoutMs: 20_000 }], { log: quiet, base: {} });
    n.emit({ event: 'view', env: {} });
    n.emit({ event: 'view', env: {} });
    expect(await waitFor(() => existsSync(pids), 3000)).toBe(true);
    const [pid] = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    n.stop();
    expect(await waitFor(() => !alive(pid), 2000)).toBe(true);
    n.emit({ event: 'view', env: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(readFileSync(pids, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('drops the oldest waiting events of a hook that falls far behind, and says so', async () => {
    const lines: string[] = [];
    const n = new Notifier([{ argv: ['/bin/sleep', '30'], on: ['view'], timeoutMs: 200 }], {
      log: pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }),
      base: {},
    });
    for (let i = 0; i < NOTIFY_QUEUE + 6; i++) n.emit({ event: 'view', env: {} });
    // One runs, NOTIFY_QUEUE wait: five are dropped.
    expect(n.counters.dropped).toBe(5);
    expect(lines.filter((l) => l.includes('falls behind'))).toHaveLength(5);
    n.reconfigure([]);
    expect(await waitFor(() => n.counters.timedOut === 1, 3000)).toBe(true);
  });
});

describe('a hanging hook on every node during a failover', () => {
  afterAll(async () => {
    await NetnsLab.remove('nthook');
  });

  it('leaves the takeover within its bound, and the survivors’ hooks hear of the view and their new buckets', async () => {
    const events = join(dir, 'events');
    const pids = join(dir, 'lab-hang.pids');
    const record = join(dir, 'lab-record.sh');
    const hang = join(dir, 'lab-hang.sh');
    writeFileSync(record, `#!/bin/sh\nmkdir -p ${events}\nenv | grep '^AAVIP_' | sort > ${events}/$AAVIP_NODE-$AAVIP_EVENT-$$\n`, { mode: 0o755 });
    writeFileSync(hang, `#!/bin/sh\necho $$ >> ${pids}\nexec sleep 30\n`, { mode: 0o755 });
    const r = await runFailover({
      prefix: 'nthook',
      intervalMs: 60,
      deadtimeMs: 300,
      copies: 2,
      buckets: 256,
      longLived: 200,
      rounds: 1,
      notify: [
        { command: hang, timeout: '1s' },
        { command: record, on: ['view', 'ownership'] },
      ],
    });
    const bound = r.deadtimeMs + 3 * r.intervalMs + 100; // the bounded takeover (as the fault run holds it)
    expect(r.deadBucketsProbed).toBeGreaterThan(10);
    expect(r.outageMsMax, `takeover ${r.outageMsMax} ms against ${bound} ms`).toBeLessThanOrEqual(bound); // never none beyond the bound
    expect(r.survivorFailed).toBe(0);
    const files = readdirSync(events);
    const read = (f: string) =>
      Object.fromEntries(
        readFileSync(join(events, f), 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(/=(.*)/s).slice(0, 2)),
      );
    const left = files
      .filter((f) => f.startsWith('node1-view-'))
      .map(read)
      .find((e) => e.AAVIP_LEFT === 'node3');
    expect(left, files.join(' ')).toMatchObject({ AAVIP_EVENT: 'view', AAVIP_NODE: 'node1', AAVIP_CLUSTER: expect.any(String), AAVIP_QUORATE: 'yes' });
    const gained = files
      .filter((f) => f.startsWith('node2-ownership-'))
      .map(read)
      .filter((e) => e.AAVIP_GAINED);
    expect(gained.length).toBeGreaterThan(0);
    const hung = readFileSync(pids, 'utf8').trim().split('\n').map(Number);
    expect(hung.length).toBeGreaterThan(3);
    expect(await waitFor(() => hung.every((p) => !alive(p)), 5000), 'every hung hook killed').toBe(true);
  }, 240_000);
});
