// Notify hooks, their pure parts: `notify:` in cluster.yaml, and what each event tells a command.
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/config/cluster.js';
import type { View } from '../../src/membership/membership.js';
import { ownershipEvent, realEvent, trackEvent, viewEvents } from '../../src/notify/events.js';
import { NOTIFY_EVENTS } from '../../src/notify/settings.js';

import { errorsOf, withSection } from './cluster-example.js';

const withNotify = (notify: string) => withSection('notify', notify);

describe('notify: in cluster.yaml', () => {
  it('reads hooks with their events and timeouts (all events and 5 s by default)', () => {
    const c = parseClusterConfig(
      withNotify('  - { command: "true --from-aavip", on: [view, ownership], timeout: 2s }\n  - { command: [/bin/echo, hello] }'),
      'c.yaml',
      { local: 'lb1' },
    );
    expect(c.notify).toEqual([
      { argv: [expect.stringMatching(/\/true$/), '--from-aavip'], on: ['view', 'ownership'], timeoutMs: 2000 },
      { argv: ['/bin/echo', 'hello'], on: [...NOTIFY_EVENTS], timeoutMs: 5000 },
    ]);
  });

  it('refuses a command that does not exist, an unknown event or field, naming line and field', () => {
    const text = withNotify(
      ['  - command: /usr/local/bin/no-such-hook', '  - { command: "true", on: [view, failover] }', '  - { command: "true", script: x, timeout: soon }'].join(
        '\n',
      ),
    );
    const line = (needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    const errs = errorsOf(text);
    expect(errs).toContain(`c.yaml:${line('no-such-hook')}: notify.0.command: command '/usr/local/bin/no-such-hook' is not an executable file`);
    expect(
      errs.some((e) =>
        e.startsWith(`c.yaml:${line('on: [view, failover]')}: notify.1.on: on must list events among view, quorum, ownership, track, real (not failover)`),
      ),
    ).toBe(true);
    expect(errs.some((e) => e.includes("notify.2.script: unknown field 'script'"))).toBe(true);
    expect(errs.some((e) => e.includes('notify.2.timeout:'))).toBe(true);
  });
});

describe('what a notify command is told', () => {
  const view = (epoch: number, live: number[], quorate: boolean): View =>
    ({ epoch, live, quorate, members: live.map((id) => ({ id, weight: 1 })) }) as unknown as View;
  const name = (id: number) => `lb${id}`;

  it('a view change names the live, left and joined nodes; quorum events only when quorum changes', () => {
    const [v] = viewEvents(view(4, [1, 2, 3], true), view(5, [1, 2], true), name);
    expect(v).toEqual({ event: 'view', env: { AAVIP_EPOCH: '5', AAVIP_LIVE: 'lb1,lb2', AAVIP_QUORATE: 'yes', AAVIP_LEFT: 'lb3', AAVIP_JOINED: '' } });
    expect(viewEvents(view(5, [1, 2], true), view(6, [1], false), name).map((e) => e.event)).toEqual(['view', 'quorum']);
    expect(viewEvents(view(6, [1], false), view(7, [1, 2], true), name)[1].env.AAVIP_QUORATE).toBe('yes');
  });

  it('ownership, track and real-server events carry their facts', () => {
    expect(ownershipEvent('198.18.0.100', { gained: [3, 9], lost: [], owned: 87 }).env).toEqual({
      AAVIP_VIP: '198.18.0.100',
      AAVIP_GAINED: '3,9',
      AAVIP_LOST: '',
      AAVIP_OWNED: '87',
    });
    expect(trackEvent({ down: ['haproxy'], out: true, drop: 0 }).env).toEqual({ AAVIP_TRACKS_DOWN: 'haproxy', AAVIP_OUT: 'yes', AAVIP_WEIGHT_DROP: '0' });
    expect(realEvent('198.18.0.100:80 tcp', '198.18.0.201:80', false, 'connect refused')).toEqual({
      event: 'real',
      env: { AAVIP_VIRTUAL: '198.18.0.100:80 tcp', AAVIP_REAL: '198.18.0.201:80', AAVIP_STATE: 'down', AAVIP_MESSAGE: 'connect refused' },
    });
  });
});
