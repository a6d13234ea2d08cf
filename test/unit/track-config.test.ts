// Tracked services, their pure parts: `track:` in cluster.yaml, rise and fall, the node's verdict
// and what it does to the views every node computes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from '../../src/config/cluster.js';
import { Membership } from '../../src/membership/membership.js';
import { bucketBitmap, decodeHeartbeat, encodeHeartbeat, type Heartbeat } from '../../src/membership/wire.js';
import { tracksOf } from '../../src/track/settings.js';
import { initialTrackState, observe, trackedWeight, verdictOf, type TrackState } from '../../src/track/state.js';

import { errorsOf, example, withSection } from './cluster-example.js';

const withTrack = (track: string) => withSection('track', track);
const parse = (text: string, local = 'lb1') => parseClusterConfig(text, 'c.yaml', { local });

describe('track: in cluster.yaml', () => {
  it('reads every probe kind with its defaults and a weight drop', () => {
    const c = parse(
      withTrack(
        [
          '  - { name: haproxy, tcp: "127.0.0.1:80", interval: 200ms, fall: 3, rise: 3 }',
          '  - { name: web, http: { url: "http://127.0.0.1:8080/health", body: "^ok", status: 200 }, weight: -2 }',
          '  - { name: script, command: "true --quiet", timeout: 500ms }',
          '  - { name: proc, process: haproxy }',
          '  - { name: pid, process: { pidfile: /run/haproxy.pid } }',
          '  - { name: unit, systemd: haproxy.service }',
        ].join('\n'),
      ),
    );
    expect(c.track.map((t) => t.probe.kind)).toEqual(['tcp', 'http', 'command', 'process', 'process', 'systemd']);
    expect(c.track[0]).toEqual({
      name: 'haproxy',
      probe: { kind: 'tcp', host: '127.0.0.1', port: 80 },
      intervalMs: 200,
      timeoutMs: 1000,
      rise: 3,
      fall: 3,
      weightDrop: undefined,
    });
    expect(c.track[1].weightDrop).toBe(2);
    expect(c.track[1].probe).toEqual({ kind: 'http', url: 'http://127.0.0.1:8080/health', body: '^ok', status: 200 });
    // The command is resolved on PATH when the file is read, and run without a shell.
    expect(c.track[2].probe).toMatchObject({ kind: 'command', argv: [expect.stringMatching(/\/true$/), '--quiet'] });
    expect(c.track[2].timeoutMs).toBe(500);
    expect(c.track[4].probe).toEqual({ kind: 'process', pidfile: '/run/haproxy.pid' });
    expect(tracksOf(c)).toBe(c.track);
  });

  it('reads the commented example in conf/cluster.yaml once uncommented (its script swapped for one that exists)', () => {
    const text = example
      .replace(/^# track:\n((?:# {3}- .*\n)+)/m, (_, items: string) => `track:\n${items.replace(/^# /gm, '')}`)
      .replace('/usr/local/bin/check-backend', '/bin/true');
    expect(text).toMatch(/^track:$/m);
    expect(parse(text).track.map((t) => `${t.name}:${t.probe.kind}`)).toEqual(['haproxy:tcp', 'health:http', 'script:command', 'proc:process', 'unit:systemd']);
  });

  it("lets a node's own list replace the cluster's there only", () => {
    const text = withTrack('  - { name: haproxy, tcp: "127.0.0.1:80" }').replace(
      '{ id: 2, name: lb2, address: 198.18.0.12 }',
      '{ id: 2, name: lb2, address: 198.18.0.12, track: [{ name: nginx, tcp: "127.0.0.1:81" }] }',
    );
    expect(tracksOf(parse(text, 'lb1')).map((t) => t.name)).toEqual(['haproxy']);
    expect(tracksOf(parse(text, 'lb2')).map((t) => t.name)).toEqual(['nginx']);
  });

  it('refuses a command that does not exist when the file is read, naming its line and field', () => {
    const text = withTrack('  - name: script\n    command: /usr/local/bin/no-such-check --fast');
    const line = text.split('\n').findIndex((l) => l.includes('no-such-check')) + 1;
    expect(errorsOf(text)).toEqual([`c.yaml:${line}: track.0.command: command '/usr/local/bin/no-such-check' is not an executable file`]);
    expect(errorsOf(withTrack('  - { name: s, command: no-such-check-anywhere }'))[0]).toMatch(/track\.0\.command: .* is not an executable file on PATH/);
  });

  it('names every other mistake with its field, and takes nothing half', () => {
    const text = withTrack(
      [
        '  - { name: a, tcp: "127.0.0.1" }',
        '  - { name: a, tcp: "127.0.0.1:80", http: "http://x/" }',
        '  - { name: b, http: "ftp://x/" }',
        '  - { name: c, process: /usr/sbin/haproxy }',
        '  - { name: d, tcp: "127.0.0.1:80", rise: 0, fall: 1.5, weight: 3, interval: 1ms, retries: 2 }',
        '  - { name: e, http: { url: "http://x/", body: "(" } }',
        '  - { tcp: "127.0.0.1:80" }',
        '  - { name: f, http: { url: "http://x/", status: 42 } }',
        '  - { name: g, http: { url: "http://x/", expect: 200 } }',
      ].join('\n'),
    );
    const errs = errorsOf(text);
    const has = (s: string) =>
      expect(
        errs.some((e) => e.includes(s)),
        `${s} in\n${errs.join('\n')}`,
      ).toBe(true);
    has('track.0.tcp: tcp must be HOST:PORT');
    has("track.1.name: track 'a' is named twice");
    has('track.1: a track needs exactly one of tcp, http, command, process, systemd (found tcp, http)');
    has('track.2.http: http must be a URL');
    has('track.3.process: process must be a process name');
    has('track.4.rise: rise must be a whole number from 1 to 1000');
    has('track.4.fall: fall must be a whole number from 1 to 1000');
    has('track.4.weight: weight must be a negative whole number');
    has('track.4.interval:');
    has("track.4.retries: unknown field 'retries'");
    has('track.5.http: http.body is not a valid regular expression');
    has('track.6.name: a name of letters');
    has('track.7.http: http.status must be an HTTP status code');
    has('track.8.http: http has url, body and status only (not expect)');
    expect(errs.every((e) => /^c\.yaml:\d+: /.test(e))).toBe(true);
  });
});

describe('rise and fall', () => {
  const spec = { rise: 3, fall: 2 };
  const run = (results: boolean[]) => {
    let s: TrackState = initialTrackState(0);
    const changes: boolean[] = [];
    results.forEach((up, i) => {
      const r = observe(spec, s, up, up ? 'ok' : 'refused', i);
      s = r.state;
      if (r.changed) changes.push(up);
    });
    return { s, changes };
  };
  it('decides at the first result, then needs fall failures or rise successes in a row', () => {
    expect(run([true]).changes).toEqual([true]);
    expect(run([true, false]).s.up).toBe(true);
    expect(run([true, false, false]).changes).toEqual([true, false]);
    expect(run([true, false, false, true, true]).s.up).toBe(false);
    expect(run([true, false, false, true, true, true]).changes).toEqual([true, false, true]);
  });
  it('does not move on a service that alternates', () => {
    const flapping = Array.from({ length: 100 }, (_, i) => i % 2 === 0);
    expect(run(flapping).changes).toEqual([true]);
    expect(run(flapping).s.lastMessage).toBe('refused');
  });
  it('records since when the state holds', () => {
    expect(run([true, false, false, false]).s.since).toBe(2);
  });
});

describe("a node's verdict and weight", () => {
  const base = { probe: { kind: 'tcp' as const, host: '127.0.0.1', port: 80 }, intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1 };
  const specs = [
    { ...base, name: 'a', weightDrop: 2 },
    { ...base, name: 'b', weightDrop: 1 },
    { ...base, name: 'c' },
  ];
  const states = (down: string[]) => new Map(specs.map((s) => [s.name, { ...initialTrackState(0), up: !down.includes(s.name) }]));
  it('sums the drops of the failing weighted tracks; a track without a weight puts the node out', () => {
    expect(verdictOf(specs, states([]))).toEqual({ down: [], out: false, drop: 0 });
    expect(verdictOf(specs, states(['a', 'b']))).toEqual({ down: ['a', 'b'], out: false, drop: 3 });
    expect(trackedWeight(4, verdictOf(specs, states(['a', 'b'])))).toBe(1);
    expect(trackedWeight(2, verdictOf(specs, states(['a', 'b'])))).toBe(0);
    expect(trackedWeight(4, verdictOf(specs, states(['c'])))).toBe(0);
    expect(trackedWeight(4, undefined)).toBe(4);
  });
  it('counts a track not checked yet as up (a starting node is not out before its first check)', () => {
    expect(verdictOf(specs, new Map())).toEqual({ down: [], out: false, drop: 0 });
  });
});

describe('tracks in the views', () => {
  const nodes = [1, 2, 3].map((id) => ({ id, weight: 2 }));
  const hb = (from: number, seq: number, extra: Partial<Heartbeat> = {}): Heartbeat => ({
    cluster: 'web',
    from,
    incarnation: 1000,
    seq,
    live: [1, 2, 3],
    epoch: 1,
    view: '',
    quorate: true,
    weights: [],
    heard: [],
    draining: {},
    holding: { '198.18.0.100': bucketBitmap([], 256) },
    ...extra,
  });
  it("gives a peer's buckets away while its heartbeat says a track is down, and back when it is up", () => {
    const m = new Membership({ cluster: 'web', local: 1, nodes, deadtimeMs: 500, quorum: 'majority' });
    m.receive(hb(2, 1), 0);
    m.receive(hb(3, 1), 0);
    expect(m.tick(0)!.members.map((x) => x.weight)).toEqual([2, 2, 2]);
    m.receive(hb(2, 2, { track: { down: ['haproxy'], out: true, drop: 0 } }), 10);
    const out = m.tick(10)!;
    expect(out.live).toEqual([1, 2, 3]); // still alive: it only serves nothing
    expect(out.members.map((x) => x.weight)).toEqual([2, 0, 2]);
    m.receive(hb(2, 3, { track: { down: ['web'], out: false, drop: 1 } }), 20);
    expect(m.tick(20)!.members.map((x) => x.weight)).toEqual([2, 1, 2]);
    m.receive(hb(2, 4), 30);
    expect(m.tick(30)!.members.map((x) => x.weight)).toEqual([2, 2, 2]);
  });
  it("takes the local node's own verdict into its views", () => {
    const m = new Membership({ cluster: 'web', local: 1, nodes, deadtimeMs: 500, quorum: 'majority' });
    m.receive(hb(2, 1), 0);
    m.receive(hb(3, 1), 0);
    m.tick(0);
    m.localTrack = { down: ['haproxy'], out: true, drop: 0 };
    expect(m.tick(1)!.members.map((x) => x.weight)).toEqual([0, 2, 2]);
  });
  it('refuses a heartbeat whose track verdict is malformed', () => {
    const k = randomBytes(32);
    const enc = (track: unknown) => decodeHeartbeat(encodeHeartbeat({ ...hb(2, 1), track } as Heartbeat, k), k, 'web');
    expect(enc({ down: ['a'], out: true, drop: 0 })).toMatchObject({ ok: true });
    for (const bad of [
      { down: 'a', out: true, drop: 0 },
      { down: [], out: 'no', drop: 0 },
      { down: [], out: false, drop: -1 },
      { down: [1], out: false, drop: 0 },
      'down',
    ]) {
      expect(enc(bad)).toEqual({ ok: false, reason: 'malformed' });
    }
  });
});
