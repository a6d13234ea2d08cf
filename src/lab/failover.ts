// The failover experiment: three real daemons, continuous client load, one node killed (daemon
// SIGKILLed and cable cut), then brought back (after a "reboot": its kernel state cleared) while
// long-lived connections are held open across the rejoin. Each round kills another node, so the
// outage figures gather samples from every node's buckets.
import { bucketsOf } from '../assignment/assign.js';
import { ClusterLab } from './cluster-lab.js';
import type { TimedAttempt } from './load.js';
import { nodeName, VIP_ADDRESS, SERVICE_PORT } from './vip-lab.js';
import { built } from '../paths.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface FailoverOptions {
  prefix: string;
  intervalMs: number;
  deadtimeMs: number;
  copies: number;
  buckets: number;
  longLived: number;
  /** Kill-and-return rounds (round r kills node 3, 1, 2, 3, ...). */
  rounds?: number;
  /** `notify:` hooks on every node (a hook that hangs must not slow a takeover). */
  notify?: unknown[];
  progress?: (msg: string) => void;
}

export interface RoundResult {
  killed: string;
  deadBuckets: number;
  /** Time from the kill to the first successful new connection, per probed dead bucket (ms). */
  outagesMs: number[];
  /** Connections in the survivors' own buckets that no node took or that broke (see `unserved`). */
  survivorFailed: number;
  /** Survivors' largest over smallest bucket count while the node is away. */
  maxMinShareAfter: number;
  /** The same for a burst of new connections while the node is away. */
  maxMinConnectionShareAfter: number;
  longLivedHeld: number;
  /** Long-lived connections in buckets that went back to the returning node (they must survive the handover). */
  longLivedInReturningBuckets: number;
  rejoinResets: number;
}

/** Over all rounds: counts summed, the fewest long-lived connections held, the worst max/min shares. */
export interface FailoverResult
  extends Pick<
    RoundResult,
    'survivorFailed' | 'maxMinShareAfter' | 'maxMinConnectionShareAfter' | 'longLivedHeld' | 'longLivedInReturningBuckets' | 'rejoinResets'
  > {
  intervalMs: number;
  deadtimeMs: number;
  buckets: number;
  rounds: number;
  connectionsDuringFailover: number;
  /** Dead buckets probed continuously, over all rounds (the outage figures are over these). */
  deadBucketsProbed: number;
  outageMsP50: number;
  outageMsP99: number;
  outageMsMax: number;
  /** Share of new connections the last returning node answers once the handover has settled. */
  rejoinedShare: number;
  rejoinMispredicted: number;
  perRound: RoundResult[];
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
};
/** No node's kernel took the connection, or it was broken; a handshake answered slowly (a loaded machine) is served. */
const unserved = (a: TimedAttempt) => !a.node && !(a.error === 'timeout' && a.connected);
const maxMin = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function round(cl: ClusterLab, victim: number, o: FailoverOptions, say: (m: string) => void): Promise<RoundResult & { attempts: number }> {
  const all = cl.lab.nodeIds;
  const survivors = all.filter((i) => i !== victim);
  const before = cl.owners(all);
  const dead = new Set(bucketsOf(before, victim));

  say(`load running; killing ${nodeName(victim)} (daemon SIGKILL + cable cut)`);
  // Up to 16 of the dead node's buckets are probed in turn (each every ~35 ms), between random tuples.
  const probed = [...dead].filter((_, k) => k % Math.ceil(dead.size / 16) === 0).slice(0, 16);
  const loadDone = cl.load({ durationMs: 6_000, tuples: cl.tuples(3_000, probed, victim) });
  await sleep(2_000);
  // The outage counts from the moment the kill starts; the victim may still answer until its cable
  // is cut a few milliseconds later, so only a survivor's answer ends it.
  const killAt = Date.now();
  await Promise.all([cl.stopDaemon(victim, 'SIGKILL'), cl.lab.setLink(victim, false)]);
  const attempts = await loadDone;

  const outagesMs: number[] = [];
  for (const b of probed) {
    const first = attempts.find((a) => a.node && a.node !== nodeName(victim) && a.start >= killAt && cl.bucketOf(a.src, a.sport) === b);
    outagesMs.push(first ? first.end - killAt : Infinity);
  }
  const survivorFailed = attempts.filter((a) => unserved(a) && !dead.has(cl.bucketOf(a.src, a.sport))).length;
  const st = (await cl.status(survivors[0]))!;
  const away = await cl.burst(1_200);
  const answered = survivors.map((i) => away.filter((a) => a.node === nodeName(i)).length);

  say(`${nodeName(victim)} away; opening ${o.longLived} long-lived connections`);
  const holder = spawn(
    'ip',
    [
      'netns',
      'exec',
      cl.lab.clientNs,
      process.execPath,
      built('lab/holder.js'),
      JSON.stringify({ target: VIP_ADDRESS, port: SERVICE_PORT, sources: cl.lab.clientSources, count: o.longLived, timeoutMs: 3000 }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  try {
    const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
    const opened = JSON.parse((await lines.next()).value as string).opened as { src: string; sport: number }[];
    say(`${nodeName(victim)} returns (kernel state cleared as by a reboot, cable restored, daemon started)`);
    await cl.cli(victim, ['down']);
    await cl.lab.setLink(victim, true);
    cl.startDaemon(victim);
    await cl.waitForView(all, all);
    await sleep(1_000);
    holder.stdin!.write('probe\n');
    const probe = JSON.parse((await lines.next()).value as string) as { alive: boolean[]; closed: (string | null)[] };
    holder.stdin!.write('close\n');
    say('long-lived connections closed; waiting for the handover to settle');
    await cl.waitForSettled(all, 30_000);
    return {
      killed: nodeName(victim),
      deadBuckets: dead.size,
      outagesMs,
      survivorFailed,
      attempts: attempts.length,
      maxMinShareAfter: maxMin(survivors.map((i) => st.vips[0].perNode[nodeName(i)])),
      maxMinConnectionShareAfter: maxMin(answered),
      longLivedHeld: opened.length,
      longLivedInReturningBuckets: opened.filter((c) => dead.has(cl.bucketOf(c.src, c.sport))).length,
      rejoinResets: probe.alive.filter((x) => !x).length,
    };
  } finally {
    holder.kill();
  }
}

export async function runFailover(o: FailoverOptions): Promise<FailoverResult> {
  const say = o.progress ?? (() => {});
  const rounds = o.rounds ?? 1;
  say('building the lab and starting three daemons');
  const cl = await ClusterLab.create({
    prefix: o.prefix,
    intervalMs: o.intervalMs,
    deadtimeMs: o.deadtimeMs,
    copies: o.copies,
    buckets: o.buckets,
    drainTimeoutMs: 60_000,
    ...(o.notify ? { notify: o.notify } : {}),
  });
  try {
    for (const i of cl.lab.nodeIds) cl.startDaemon(i);
    await cl.waitForView(cl.lab.nodeIds, cl.lab.nodeIds);
    const perRound: (RoundResult & { attempts: number })[] = [];
    let victim = 3;
    for (let r = 0; r < rounds; r++) {
      say(`round ${r + 1} of ${rounds}`);
      perRound.push(await round(cl, victim, o, say));
      victim = (victim % 3) + 1;
    }
    const last = perRound[perRound.length - 1];
    const burst = await cl.burst(600);
    const full = cl.owners(cl.lab.nodeIds);
    const ok = burst.filter((a) => a.node);
    const outages = perRound.flatMap((r) => r.outagesMs);
    return {
      intervalMs: o.intervalMs,
      deadtimeMs: o.deadtimeMs,
      buckets: o.buckets,
      rounds,
      connectionsDuringFailover: perRound.reduce((s, r) => s + r.attempts, 0),
      deadBucketsProbed: outages.length,
      outageMsP50: quantile(outages, 0.5),
      outageMsP99: quantile(outages, 0.99),
      outageMsMax: Math.max(...outages),
      survivorFailed: perRound.reduce((s, r) => s + r.survivorFailed, 0),
      maxMinShareAfter: Math.max(...perRound.map((r) => r.maxMinShareAfter)),
      maxMinConnectionShareAfter: Math.max(...perRound.map((r) => r.maxMinConnectionShareAfter)),
      longLivedHeld: Math.min(...perRound.map((r) => r.longLivedHeld)),
      longLivedInReturningBuckets: perRound.reduce((s, r) => s + r.longLivedInReturningBuckets, 0),
      rejoinResets: perRound.reduce((s, r) => s + r.rejoinResets, 0),
      rejoinedShare: ok.filter((a) => a.node === last.killed).length / Math.max(1, ok.length),
      rejoinMispredicted: ok.filter((a) => a.node !== nodeName(full[cl.bucketOf(a.src, a.sport) - 1])).length + (burst.length - ok.length),
      perRound: perRound.map(({ attempts: _, ...r }) => r),
    };
  } finally {
    await cl.destroy();
  }
}
