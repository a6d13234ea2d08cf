// `aavip bench hash --flows-file` on flows the kernel really carried: a client namespace opens TCP
// (IPv4 and IPv6) and UDP flows to a server namespace while Debian's tcpdump captures them on the
// server's Ethernet link and on the client's `any` (Linux cooked v2); the server's `conntrack -L`
// is read too. Each gives the node shares `aavip hash owner --config` gives on the tuples the
// client used, and a real capture cut short is reported at the packet tcpdump itself stops at.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { benchFlowsFile, ownerConfig, ownerShares } from '../unit/bench-flows-cli.js';
import { waitFor } from './lab-helpers.js';

const PEERS = join(PACKAGE_ROOT, 'test', 'fixtures', 'flows-peers.mjs');
const tag = String(process.pid % 100_000);
const CLIENT = `ff-cli-${tag}`;
const SERVER = `ff-srv-${tag}`;
const SERVER_V4 = '198.18.7.100';
const SERVER_V6 = '2001:db8:7::100';
const CLIENTS_V4 = Array.from({ length: 12 }, (_, i) => `198.18.7.${i + 1}`);
const CLIENTS_V6 = Array.from({ length: 4 }, (_, i) => `2001:db8:7::${i + 1}`);
const PORT = 8080;

// 48 TCP flows over IPv4, 16 over IPv6, 8 UDP, sources taken in turn. Each has a source port of
// its own: a port the kernel picked could come round again for the same source, and one 5-tuple
// twice is one flow to conntrack and to a capture.
const plan = [
  ...Array.from({ length: 48 }, (_, i) => ({ proto: 'tcp', src: CLIENTS_V4[i % 12], dst: SERVER_V4, dport: PORT })),
  ...Array.from({ length: 16 }, (_, i) => ({ proto: 'tcp', src: CLIENTS_V6[i % 4], dst: SERVER_V6, dport: PORT })),
  ...Array.from({ length: 8 }, (_, i) => ({ proto: 'udp', src: CLIENTS_V4[i], dst: SERVER_V4, dport: PORT })),
].map((f, i) => ({ ...f, sport: 20_000 + i * 613 }));

const dir = mkdtempSync(join(tmpdir(), 'aavip-ff-'));
const started: ChildProcess[] = [];
const netns = (ns: string, argv: string[]) => run('ip', ['netns', 'exec', ns, ...argv], { timeoutMs: 30_000 });

/** A process in a namespace, remembered so afterAll can end it by its PID. */
function startIn(ns: string, argv: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  return { child, out: () => out, err: () => err };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, signal);
  if (!(await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 5000))]))) process.kill(child.pid, 'SIGKILL');
}

async function network(): Promise<void> {
  for (const ns of [CLIENT, SERVER]) await run('ip', ['netns', 'add', ns]);
  await run('ip', ['-n', CLIENT, 'link', 'add', 'ff-c0', 'type', 'veth', 'peer', 'name', 'ff-s0', 'netns', SERVER]);
  for (const [ns, dev, v4, v6] of [
    [CLIENT, 'ff-c0', CLIENTS_V4, CLIENTS_V6],
    [SERVER, 'ff-s0', [SERVER_V4], [SERVER_V6]],
  ] as const) {
    for (const a of v4) await run('ip', ['-n', ns, 'addr', 'add', `${a}/24`, 'dev', dev]);
    for (const a of v6) await run('ip', ['-n', ns, '-6', 'addr', 'add', `${a}/64`, 'dev', dev, 'nodad']);
    for (const d of ['lo', dev]) await run('ip', ['-n', ns, 'link', 'set', d, 'up']);
  }
  // A rule that uses conntrack, so the server's namespace tracks the flows `conntrack -L` lists.
  await run('ip', ['netns', 'exec', SERVER, 'nft', '-f', '-'], {
    input: 'table inet ff {\n chain in {\n  type filter hook input priority 0; policy accept;\n  ct state new counter\n }\n}\n',
  });
}

/** tcpdump writing `file` from `ns`, once it says it is listening. */
async function capture(ns: string, iface: string, file: string) {
  // Immediate mode gives the kernel ring one frame a snap length big: 256 bytes (the headers) keeps
  // thousands of frames in it where the default 262,144 keeps eight, and drops packets under load.
  const dump = startIn(ns, ['tcpdump', '-i', iface, '-n', '-s', '256', '-B', '4096', '--immediate-mode', '-U', '-Z', 'root', '-w', file]);
  if (!(await waitFor(() => /listening on/.test(dump.err()), 10_000))) throw new Error(`tcpdump did not start: ${dump.err()}`);
  return dump;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pings the server until every capture has written a packet (at most 10 s): all are live before the flows. */
async function capturing(files: string[]): Promise<void> {
  const live = () => files.every((f) => (statSync(f, { throwIfNoEntry: false })?.size ?? 0) > 24);
  for (let i = 0; i < 50 && !live(); i++) {
    await run('ip', ['netns', 'exec', CLIENT, 'ping', '-c', '1', '-W', '1', SERVER_V4], { allowFailure: true });
    await sleep(200);
  }
  if (!live()) throw new Error('a capture wrote no packet in 10 s');
}

/** Waits (at most 10 s) until tcpdump reads the last flow's answer in every capture: nothing before it is still on its way. */
async function written(files: string[], last: { sport: number }): Promise<void> {
  const has = async (f: string) =>
    (await run('tcpdump', ['-n', '-r', f, `udp and src port ${PORT} and dst port ${last.sport}`], { allowFailure: true })).stdout.trim() !== '';
  for (let i = 0; i < 50; i++) {
    if ((await Promise.all(files.map(has))).every(Boolean)) return;
    await sleep(200);
  }
  throw new Error("the captures did not get the last flow's answer in 10 s");
}

describe('bench hash --flows-file on real connections', () => {
  const ethernet = join(dir, 'server.pcap');
  const cooked = join(dir, 'client-any.pcap');
  const conntrack = join(dir, 'conntrack.txt');
  let used: { proto: string; src: string; sport: number; dst: string; dport: number }[] = [];
  let expected: number[] = [];
  /** tcpdump's closing words ("N packets dropped by kernel"): what a short capture would be down to. */
  let tcpdumpSaid = '';

  beforeAll(async () => {
    await network();
    const server = startIn(SERVER, [process.execPath, PEERS, 'serve', SERVER_V4, SERVER_V6, String(PORT)]);
    if (!(await waitFor(() => server.out().includes('ready'), 10_000))) throw new Error(`server did not start: ${server.err()}`);
    const dumps = [await capture(SERVER, 'ff-s0', ethernet), await capture(CLIENT, 'any', cooked)];
    await capturing([ethernet, cooked]);
    const client = await netns(CLIENT, [process.execPath, PEERS, 'connect', JSON.stringify(plan)]);
    used = JSON.parse(client.stdout);
    // --immediate-mode hands tcpdump each packet as it comes (not a ring block at a time, which
    // SIGINT would leave unread), -U writes it out at once; the plan ends with a UDP flow.
    await written([ethernet, cooked], used.at(-1)!);
    for (const d of dumps) await stop(d.child, 'SIGINT');
    tcpdumpSaid = dumps.map((d) => d.err().trim().split('\n').at(-1)).join('; ');
    // The warm-up pings are tracked too: list TCP and UDP, with the tool's closing line (as 2>&1 gives).
    const listed = await Promise.all(['tcp', 'udp'].map((p) => netns(SERVER, ['conntrack', '-L', '-p', p])));
    writeFileSync(conntrack, listed.map((l) => l.stdout + l.stderr).join(''));
    const csv = used.map((f) => `${f.src},${f.sport},${f.dst},${f.dport},${f.proto}`).join('\n') + '\n';
    expected = ownerShares(ownerConfig(`${SERVER_V4}/24`), csv);
  });

  afterAll(async () => {
    for (const child of started) await stop(child, 'SIGTERM');
    for (const ns of [CLIENT, SERVER]) await run('ip', ['netns', 'del', ns], { allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  });

  it('opened every planned flow on its own 5-tuple, spread over all three nodes', () => {
    expect(used).toEqual(plan);
    expect(new Set(used.map((f) => `${f.proto} ${f.src} ${f.sport}`)).size).toBe(plan.length);
    expect(expected.every((s) => s > 0)).toBe(true);
  });

  for (const [what, file, format] of [
    ['an Ethernet capture (tcpdump -i ff-s0)', () => ethernet, 'pcap'],
    ['a Linux cooked capture (tcpdump -i any)', () => cooked, 'pcap'],
    ['conntrack -L output', () => conntrack, 'conntrack'],
  ] as const) {
    it(`gives the shares of aavip hash owner on the same flows, from ${what}`, () => {
      const { status, stderr, report } = benchFlowsFile(file());
      expect(status, stderr).toBe(0);
      expect(report.source.format).toBe(format);
      expect(report.options.flows, `${stderr} (tcpdump: ${tcpdumpSaid})`).toBe(plan.length);
      expect(report.results[0].nodeShares).toEqual(expected);
    });
  }

  it('reads the link types it should: Ethernet on the link, Linux cooked v2 on any', () => {
    const linktype = (f: string) => readFileSync(f).readUInt32LE(20);
    expect([linktype(ethernet), linktype(cooked)]).toEqual([1, 276]);
  });

  it('names the packet of a truncated capture that tcpdump itself stops before', async () => {
    const whole = readFileSync(ethernet);
    const cut = join(dir, 'cut.pcap');
    // Two thirds in; a byte earlier if that is where a record ends (then the file is whole to tcpdump too).
    let read = { stdout: '', stderr: '' };
    for (const at of [Math.floor((whole.length * 2) / 3), Math.floor((whole.length * 2) / 3) - 1]) {
      writeFileSync(cut, whole.subarray(0, at));
      read = await run('tcpdump', ['-n', '-r', cut], { allowFailure: true });
      if (/truncated dump file/.test(read.stderr)) break;
    }
    expect(read.stderr).toMatch(/truncated dump file/);
    const readable = read.stdout.trim().split('\n').length;
    const r = benchFlowsFile(cut);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^aavip: ${cut.replace(/[.]/g, '\\.')}: packet ${readable + 1}: the record`));
    expect(r.stderr).toMatch(/the file was truncated/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
