// The tracking lab (`aavip lab track`): three nodes, each running Debian's HAProxy bound to the
// service port and forwarding to two app servers, each daemon tracking its HAProxy (`track:` a TCP
// connect). Under client load HAProxy is killed (SIGKILL) on one node: the others must answer
// its buckets within fall × interval and a little, the rest of the clients must not notice, and
// once HAProxy is back the node takes its share back without resetting the connections that
// run through the others. Every node's bucket map is sampled throughout: no bucket may be taken
// by two nodes at once. A second track on node 2 flaps (faster than its fall count can see, then
// for good) to show that rise and fall hold the buckets still.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { bucketsOf } from '../assignment/assign.js';
import { InputError } from '../errors.js';
import { built } from '../paths.js';
import { findExecutable } from '../config/command-line.js';
import type { TrackStatus } from '../track/tracker.js';
import { REAL_PORT, RealServers } from './appliance-servers.js';
import { sleep, waitForSteadyView } from './appliance-steps.js';
import { ClusterLab } from './cluster-lab.js';
import { bucketSnapshots, overlapsPerBucket, readBucketMaps, takersPerBucket } from './kernel-buckets.js';
import { LongLived } from './long-lived.js';
import { nodeName, SERVICE_PORT, VIP_ADDRESS } from './vip-lab.js';

export interface TrackLabOptions {
  prefix: string;
  rounds: number;
  /** The HAProxy track's interval (its timeout is the same), fall and rise. */
  intervalMs: number;
  fall: number;
  rise: number;
  longLived: number;
  /** Run the flap phase (node 2's second track). */
  flap: boolean;
  progress?: (m: string) => void;
}

export const TRACK_LAB_DEFAULTS: Omit<TrackLabOptions, 'prefix'> = { rounds: 3, intervalMs: 100, fall: 2, rise: 2, longLived: 200, flap: true };

export interface TrackRound {
  victim: string;
  /** From the SIGKILL to the first new connection in its buckets answered by another node (ms). */
  servedAgainMs: number | null;
  victimAttempts: number;
  /** Connections in the other nodes' buckets during the round, and those that failed. */
  othersAttempts: number;
  othersFailed: number;
  /** Buckets that two nodes took new connections in at one snapshot (never two owners). */
  overlaps: number;
  snapshots: number;
  /** After HAProxy's return: its buckets, what the model gives it, and the long-lived connections through the others. */
  bucketsBack: number;
  bucketsExpected: number;
  longLived: number;
  resets: number;
  /** While HAProxy was down: the victim's own status of its track, and what each peer's status says of it. */
  statusWhileDown: { own?: TrackStatus; peersSay: (string[] | null)[] };
}

export interface FlapFigures {
  /** View epochs on every node before and after 20 s of flapping faster than fall can see. */
  epochsBefore: number[];
  epochsAfter: number[];
  /** Node 2's buckets before, after the flapping, and once its service stayed down and came back. */
  bucketsBefore: number;
  bucketsAfterFlap: number;
  bucketsWhileDown: number;
  /** View changes on node 1 from the steady failure (one: the buckets move once). */
  viewChangesOnDown: number;
  bucketsAfterUp: number;
}

export interface TrackLabResult {
  options: Omit<TrackLabOptions, 'progress'>;
  /** fall × interval + 200 ms: what servedAgainMs is held to (bench/track.ts). */
  targetMs: number;
  rounds: TrackRound[];
  flap?: FlapFigures;
  seconds: number;
}

const FLAP_PORT = 9090;

function haproxyConfig(reals: string[]): string {
  return [
    'global',
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 1s',
    '  timeout client 300s',
    '  timeout server 300s',
    'frontend vip',
    `  bind 0.0.0.0:${SERVICE_PORT}`,
    '  default_backend app',
    'backend app',
    ...reals.map((r, k) => `  server app${k + 1} ${r}:${REAL_PORT}`),
    '',
  ].join('\n');
}

class Proxies {
  readonly running = new Map<number, ChildProcess>();
  constructor(
    private readonly cl: ClusterLab,
    private readonly file: string,
  ) {}

  async start(i: number): Promise<void> {
    this.running.set(i, this.cl.lab.spawn(this.cl.lab.nodeNs(i), ['haproxy', '-db', '-f', this.file]));
    for (let k = 0; k < 100; k++) {
      const r = await this.cl.lab.execNode(i, ['ss', '-Hltn', `sport = :${SERVICE_PORT}`], { allowFailure: true });
      if (r.stdout.trim()) return;
      await sleep(100);
    }
    throw new Error(`HAProxy on ${nodeName(i)} did not listen within 10 s`);
  }

  /** kill -9, by PID. */
  async kill(i: number): Promise<void> {
    const p = this.running.get(i);
    if (p) await this.cl.lab.kill(p, 'SIGKILL');
    this.running.delete(i);
  }
}

export async function runTrackLab(o: TrackLabOptions): Promise<TrackLabResult> {
  if (!findExecutable('haproxy')) throw new InputError('the track lab runs HAProxy on every node: it is not installed (apt-get install haproxy)');
  const t0 = Date.now();
  const say = o.progress ?? (() => {});
  const track = { name: 'haproxy', tcp: `127.0.0.1:${SERVICE_PORT}`, interval: `${o.intervalMs}ms`, timeout: `${o.intervalMs}ms`, fall: o.fall, rise: o.rise };
  const flappy = { name: 'flappy', tcp: `127.0.0.1:${FLAP_PORT}`, interval: '200ms', timeout: '200ms', fall: 3, rise: 3 };
  say('building: switch, client, 3 nodes with HAProxy, 2 app servers');
  const cl = await ClusterLab.create({
    prefix: o.prefix,
    deadtimeMs: 300,
    intervalMs: 60,
    responders: false,
    track: [track],
    ...(o.flap ? { nodeTrack: { 2: [track, flappy] } } : {}),
  });
  let rs: RealServers | undefined;
  let flapper: ChildProcess | undefined;
  try {
    rs = await RealServers.create(cl.lab, 2, VIP_ADDRESS, true);
    const file = join(cl.dir, 'haproxy.cfg');
    writeFileSync(file, haproxyConfig(rs.ids.map((i) => rs!.address(i))));
    const proxies = new Proxies(cl, file);
    for (const i of cl.lab.nodeIds) await proxies.start(i);
    if (o.flap) {
      flapper = cl.lab.spawn(cl.lab.nodeNs(2), [process.execPath, built('lab/flapper.js'), String(FLAP_PORT)], process.env, ['pipe', 'pipe', 'ignore']);
      await once(flapper.stdout!, 'data');
    }
    for (const i of cl.lab.nodeIds) cl.startDaemon(i);
    await waitForSteadyView(cl, 60_000);
    say('all nodes joined, every HAProxy up');
    const rounds: TrackRound[] = [];
    for (let r = 0; r < o.rounds; r++) rounds.push(await killRound(cl, proxies, o, (r % 3) + 1, 1000 + r * 10, say));
    const flap = o.flap ? await flapPhase(cl, flapper!, say) : undefined;
    const { progress: _, ...options } = o;
    return { options, targetMs: o.fall * o.intervalMs + 200, rounds, flap, seconds: (Date.now() - t0) / 1000 };
  } finally {
    if (flapper) await cl.lab.kill(flapper, 'SIGKILL');
    await rs?.destroy();
    await cl.destroy();
  }
}

/** Which node forwarded an answer (`appN@ADDRESS`), by its address. */
function nodeOfGreeting(cl: ClusterLab, greeting: string | undefined): number | undefined {
  const addr = greeting?.split('@')[1];
  return cl.lab.nodeIds.find((i) => cl.lab.nodeAddress(i) === addr);
}

async function killRound(cl: ClusterLab, proxies: Proxies, o: TrackLabOptions, victim: number, seed: number, say: (m: string) => void): Promise<TrackRound> {
  const all = cl.lab.nodeIds;
  const owners = cl.owners(all);
  const ownerOf = (t: { src: string; sport: number }) => owners[cl.bucketOf(t.src, t.sport) - 1];
  const pool = cl.tuples(4000, [], seed);
  const held = await LongLived.open(cl.lab, {
    target: VIP_ADDRESS,
    port: SERVICE_PORT,
    sources: [],
    count: o.longLived,
    timeoutMs: 5000,
    tuples: pool.filter((t) => ownerOf(t) !== victim).slice(0, o.longLived),
  });
  const start = await held.probe(5000);
  const durationMs = 4000;
  const load = cl.load({ everyMs: 5, concurrency: 64, timeoutMs: 1000, durationMs, tuples: pool.slice(o.longLived + 200) });
  const snaps = bucketSnapshots(cl.lab, VIP_ADDRESS);
  let overlaps = 0;
  let snapshots = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      overlaps += overlapsPerBucket(await snaps.snapshot(), cl.config.vips[0].buckets).filter((n) => n > 0).length;
      snapshots++;
      await sleep(20);
    }
  })();
  await sleep(1000);
  const killedAt = Date.now();
  say(`round: kill -9 HAProxy on ${nodeName(victim)}`);
  await proxies.kill(victim);
  const attempts = await load;
  const st = await statusOf(cl);
  const statusWhileDown = {
    own: st[victim - 1]?.tracks?.find((t) => t.name === 'haproxy'),
    peersSay: st.filter((_, k) => k + 1 !== victim).map((x) => x?.nodes.find((n) => n.id === victim)?.tracksDown ?? null),
  };
  const mine = attempts.filter((a) => ownerOf(a) === victim);
  const others = attempts.filter((a) => ownerOf(a) !== victim);
  const lastFailure = Math.max(killedAt, ...mine.filter((a) => a.start >= killedAt && !a.node).map((a) => a.start));
  const answeredAgain = mine.find((a) => a.start > lastFailure && a.node && nodeOfGreeting(cl, a.node) !== victim);
  say(`HAProxy back on ${nodeName(victim)}`);
  await proxies.start(victim);
  await waitForSteadyView(cl, 30_000);
  sampling = false;
  await sampler;
  await snaps.stop();
  const maps = await readBucketMaps(cl.lab, VIP_ADDRESS);
  const takers = takersPerBucket(maps, cl.config.vips[0].buckets);
  const back = takers.filter((t) => t.length === 1 && t[0] === victim).length;
  const after = await held.probe(5000);
  await held.close();
  const resets = start.filter((s, k) => s && !after[k]).length;
  const round: TrackRound = {
    victim: nodeName(victim),
    servedAgainMs: answeredAgain ? answeredAgain.end - killedAt : null,
    victimAttempts: mine.length,
    othersAttempts: others.length,
    othersFailed: others.filter((a) => !a.node).length,
    overlaps,
    snapshots,
    bucketsBack: back,
    bucketsExpected: bucketsOf(owners, victim).length,
    longLived: start.filter(Boolean).length,
    resets,
    statusWhileDown,
  };
  say(
    `${nodeName(victim)}'s buckets answered by the others after ${round.servedAgainMs} ms; ${round.othersFailed} of ${round.othersAttempts} others failed; ${resets} resets`,
  );
  return round;
}

async function statusOf(cl: ClusterLab) {
  return Promise.all(cl.lab.nodeIds.map((i) => cl.status(i)));
}

async function flapPhase(cl: ClusterLab, flapper: ChildProcess, say: (m: string) => void): Promise<FlapFigures> {
  const lines = createInterface({ input: flapper.stdout! })[Symbol.asyncIterator]();
  const tell = async (cmd: string) => {
    flapper.stdin!.write(`${cmd}\n`);
    await lines.next();
  };
  const buckets = async () => (await cl.status(2))?.vips[0].perNode[nodeName(2)] ?? 0;
  const epochs = async () => (await statusOf(cl)).map((s) => s?.view.epoch ?? -1);
  const epochsBefore = await epochs();
  const bucketsBefore = await buckets();
  say("node2's second service flaps every 0.5 s (down 250 ms, up 250 ms) for 20 s; fall 3 at 200 ms");
  await tell('flap 250');
  await sleep(20_000);
  await tell('up');
  await sleep(1000);
  const epochsAfter = await epochs();
  const bucketsAfterFlap = await buckets();
  say("node2's second service down for good");
  const e1 = (await cl.status(1))?.view.epoch ?? 0;
  await tell('down');
  for (let k = 0; k < 100 && (await buckets()) > 0; k++) await sleep(100);
  await cl.waitForSettled(cl.lab.nodeIds, 40_000);
  await sleep(1000);
  const bucketsWhileDown = await buckets();
  const viewChangesOnDown = ((await cl.status(1))?.view.epoch ?? 0) - e1;
  await tell('up');
  await waitForSteadyView(cl, 30_000);
  return { epochsBefore, epochsAfter, bucketsBefore, bucketsAfterFlap, bucketsWhileDown, viewChangesOnDown, bucketsAfterUp: await buckets() };
}
