// The real-server state machine (src/lvs/realserver.ts), through its pure functions: failurecount,
// quiescent yes/no, fallback exactly while no real is up, maintenance as its own input,
// readdquiescent, checktype on/off and combined, adoption at start, fallbackcommand verbs.
import { describe, expect, it } from 'vitest';
import { effective, type Checktype, type LdirectordConfig } from '../../src/lvs/config/model.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import {
  adopt,
  checkToRun,
  fallbackCommandDue,
  initialRealState,
  observe,
  realPolicy,
  tableWeight,
  virtualTable,
  type Observation,
  type RealPolicy,
  type RealState,
} from '../../src/lvs/realserver.js';

const NOW = new Date('2026-01-02T03:04:05Z');
const ok: Observation = { kind: 'checked', how: 'connect', result: { up: true, message: 'connected' } };
const fail = (message = 'refused'): Observation => ({ kind: 'checked', how: 'connect', result: { up: false, message } });
const policy = (p: Partial<RealPolicy> = {}): RealPolicy => ({ checktype: { kind: 'connect' }, failurecount: 1, quiescent: false, weight: 5, ...p });
const up = (p: Partial<RealState> = {}): RealState => ({ ...initialRealState(), up: true, message: 'connected', ...p });

/** Feeds observations in turn; returns every transition. */
function run(start: RealState, obs: Observation[], p: RealPolicy) {
  let st = start;
  return obs.map((o) => {
    const t = observe(st, o, p, NOW);
    st = t.state;
    return t;
  });
}

describe('observe', () => {
  it('brings a down real up on its first good check, with its weight, and stamps the check', () => {
    const t = observe(initialRealState(), ok, policy(), NOW);
    expect(t.state).toMatchObject({ up: true, failcount: 0, message: 'connected', checkedAt: '2026-01-02T03:04:05.000Z' });
    expect(t.effect).toEqual({ kind: 'set-weight', weight: 5 });
    expect(t.event).toEqual({ kind: 'restored' });
  });

  it('takes a real down only after failurecount failed checks in a row; a good check resets the count', () => {
    const ts = run(up(), [fail(), fail(), ok, fail(), fail(), fail()], policy({ failurecount: 3 }));
    expect(ts.map((t) => [t.state.up, t.state.failcount, t.effect.kind])).toEqual([
      [true, 1, 'none'],
      [true, 2, 'none'],
      [true, 0, 'none'],
      [true, 1, 'none'],
      [true, 2, 'none'],
      [false, 3, 'remove'],
    ]);
    expect(ts[0].event).toEqual({ kind: 'soft-failure', failcount: 1, failurecount: 3 });
    expect(ts[2].event).toEqual({ kind: 'soft-failure-reset' });
    expect(ts[5].event).toEqual({ kind: 'down', forced: false });
  });

  it('quiesces a failed real with quiescent=yes and removes it with quiescent=no', () => {
    expect(observe(up(), fail(), policy({ quiescent: true }), NOW).effect).toEqual({ kind: 'quiesce' });
    expect(observe(up(), fail(), policy({ quiescent: false }), NOW).effect).toEqual({ kind: 'remove' });
  });

  it('takes a real in maintenance down at once, whatever failurecount, and it is the input that says so, not a message', () => {
    const t = observe(up(), { kind: 'maintenance' }, policy({ failurecount: 5, quiescent: true }), NOW);
    expect(t.state).toMatchObject({ up: false, message: 'Server in maintenance' });
    expect(t.effect).toEqual({ kind: 'quiesce' });
    expect(t.event).toEqual({ kind: 'down', forced: true });
    // A check that happens to answer with the same words is an ordinary soft failure.
    const soft = observe(up(), fail('Server in maintenance'), policy({ failurecount: 5 }), NOW);
    expect(soft.state).toMatchObject({ up: true, failcount: 1 });
    expect(soft.effect).toEqual({ kind: 'none' });
  });

  it('leaves a down real down, without counting, on a failed check', () => {
    const t = observe(initialRealState(), fail(), policy({ failurecount: 2 }), NOW);
    expect(t.state).toMatchObject({ up: false, failcount: 0, message: 'refused' });
    expect(t.effect).toEqual({ kind: 'none' });
    expect(t.event).toBeUndefined();
  });

  it('never changes a checktype=off real', () => {
    const st = initialRealState();
    expect(observe(st, ok, policy({ checktype: { kind: 'off' } }), NOW)).toEqual({ state: st, effect: { kind: 'none' } });
  });

  it('counts connect rounds for a combined checktype: negotiate, N connects, negotiate again; a failed connect forces a negotiate', () => {
    const combined: Checktype = { kind: 'combined', connectRounds: 2 };
    const p = policy({ checktype: combined, failurecount: 3 });
    let st = initialRealState();
    const hows: string[] = [];
    for (const good of [true, true, true, true, false, true]) {
      const how = checkToRun(st, combined, 'tcp') as 'connect' | 'negotiate';
      hows.push(how);
      st = observe(st, { kind: 'checked', how, result: { up: good, message: '' } }, p, NOW).state;
    }
    expect(hows).toEqual(['negotiate', 'connect', 'connect', 'negotiate', 'connect', 'negotiate']);
  });
});

describe('checkToRun', () => {
  it('maps checktypes to probes: on needs none, off is never checked, connect on udp is a ping', () => {
    const st = initialRealState();
    expect(checkToRun(st, { kind: 'on' }, 'tcp')).toBe('on');
    expect(checkToRun(st, { kind: 'off' }, 'tcp')).toBe('off');
    expect(checkToRun(st, { kind: 'connect' }, 'udp')).toBe('ping');
    expect(checkToRun(st, { kind: 'connect' }, 'tcp')).toBe('connect');
    expect(checkToRun(st, { kind: 'external-perl' }, 'tcp')).toBe('external');
    expect(checkToRun(st, { kind: 'negotiate' }, 'fwm')).toBe('negotiate');
  });

  it('brings a checktype=on real up without a probe', () => {
    expect(
      observe(initialRealState(), { kind: 'checked', how: 'on', result: { up: true, message: 'checktype on' } }, policy({ checktype: { kind: 'on' } }), NOW)
        .state.up,
    ).toBe(true);
  });
});

describe('adopt', () => {
  it('takes a real present with weight > 0 as up; absent, weight 0 or checktype=off as down', () => {
    const st = initialRealState();
    expect(adopt(st, 3, { kind: 'connect' })).toMatchObject({ up: true, message: 'adopted from the IPVS table' });
    expect(adopt(st, 0, { kind: 'connect' }).up).toBe(false);
    expect(adopt(st, undefined, { kind: 'connect' }).up).toBe(false);
    expect(adopt(st, 3, { kind: 'off' }).up).toBe(false);
  });
});

describe('tableWeight', () => {
  it('gives up reals their weight; down reals 0 with quiescent while in the table, or always with readdquiescent', () => {
    const down = initialRealState();
    expect(tableWeight(up(), policy(), { inTable: false, readdquiescent: false })).toBe(5);
    expect(tableWeight(down, policy({ quiescent: true }), { inTable: true, readdquiescent: false })).toBe(0);
    expect(tableWeight(down, policy({ quiescent: true }), { inTable: false, readdquiescent: false })).toBeUndefined();
    expect(tableWeight(down, policy({ quiescent: true }), { inTable: false, readdquiescent: true })).toBe(0);
    expect(tableWeight(down, policy({ quiescent: false }), { inTable: true, readdquiescent: true })).toBeUndefined();
  });
});

describe('virtualTable', () => {
  const cf = (extra = '') =>
    parseLdirectordConfig(
      `quiescent=yes\n${extra}virtual=198.18.0.100:80\n\treal=198.18.1.1:8080 masq 5 l:2 u:9\n\treal=198.18.1.2:8080 masq 0\n\tfallback=198.18.1.9:80 masq\n`,
      'test.cf',
    );
  const table = (c: LdirectordConfig, upAddrs: string[], inTable: string[] = []) => {
    const v = c.virtualServices[0];
    return virtualTable(v, c, (r) => (upAddrs.includes(r.address) ? up() : initialRealState()), new Set(inTable)).realServers.map(
      (d) => `${d.address} w${d.weight} l${d.lower} u${d.upper}${d.fallback ? ' fallback' : ''}`,
    );
  };

  it('has the fallback in exactly while no real is up (an up real with weight 0 keeps it out)', () => {
    const c = cf();
    expect(table(c, ['198.18.1.1'], ['198.18.1.2:8080'])).toEqual(['198.18.1.1:8080 w5 l2 u9', '198.18.1.2:8080 w0 l0 u0']);
    expect(table(c, ['198.18.1.2'], ['198.18.1.1:8080'])).toEqual(['198.18.1.1:8080 w0 l0 u0', '198.18.1.2:8080 w0 l0 u0']);
    expect(table(c, [], ['198.18.1.1:8080', '198.18.1.2:8080'])).toEqual([
      '198.18.1.1:8080 w0 l0 u0',
      '198.18.1.2:8080 w0 l0 u0',
      '198.18.1.9:80 w1 l0 u0 fallback',
    ]);
  });

  it('re-adds absent down reals at weight 0 only with readdquiescent', () => {
    expect(table(cf(), [])).toEqual(['198.18.1.9:80 w1 l0 u0 fallback']);
    expect(table(cf('readdquiescent=yes\n'), [])).toEqual(['198.18.1.1:8080 w0 l0 u0', '198.18.1.2:8080 w0 l0 u0', '198.18.1.9:80 w1 l0 u0 fallback']);
  });

  it('reads failurecount and quiescent from the virtual, over the globals', () => {
    const c = parseLdirectordConfig('failurecount=4\nquiescent=no\nvirtual=198.18.0.100:80\n\treal=198.18.1.1:80 masq 2\n\tquiescent=yes\n', 'test.cf');
    const v = c.virtualServices[0];
    expect(realPolicy(v, effective(v, c.globals), v.realServers[0])).toEqual({ checktype: v.checktype, failurecount: 4, quiescent: true, weight: 2 });
  });
});

describe('fallbackCommandDue', () => {
  it('starts when no real is up, stops when one is again, once per change, never stop first', () => {
    expect(fallbackCommandDue(undefined, true)).toBeUndefined();
    expect(fallbackCommandDue(undefined, false)).toBe('start');
    expect(fallbackCommandDue('start', false)).toBeUndefined();
    expect(fallbackCommandDue('start', true)).toBe('stop');
    expect(fallbackCommandDue('stop', true)).toBeUndefined();
    expect(fallbackCommandDue('stop', false)).toBe('start');
  });
});
