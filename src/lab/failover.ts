// The failover experiment: three real daemons, continuous client load, one node killed (daemon
// SIGKILLed and cable cut), then brought back (after a "reboot": its kernel state cleared) while
// long-lived connections are held open across the rejoin.
import { bucketsOf } from '../assignment/assign.js';
import { ClusterLab } from './cluster-lab.js';
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
  progress?: (msg: string) => void;
}

export interface FailoverResult {
  intervalMs: number;
  deadtimeMs: number;
  buckets: number;
  connectionsDuringFailover: number;
  deadBuckets: number;
  /** Dead buckets probed continuously (the outage figures are over these). */
  deadBucketsProbed: number;
  outageMsP50: number;
  outageMsP99: number;
  outageMsMax: number;
  survivorFailed: number;
  /** Survivors' largest over smallest bucket count while node 3 is away. */
  maxMinShareAfter: number;
  /** The same for connections answered after the failover. */
  maxMinConnectionShareAfter: number;
  longLivedHeld: number;
  rejoinResets: number;
  /** Share of new connections node 3 answers once the handover has settled. */
  rejoinedShare: number;
  rejoinMispredicted: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
};

export async function runFailover(o: FailoverOptions): Promise<FailoverResult> {
  const say = o.progress ?? (() => {});
  say('building the lab and starting three daemons');
  const cl = await ClusterLab.create({ prefix: o.prefix, intervalMs: o.intervalMs, deadtimeMs: o.deadtimeMs, copies: o.copies, buckets: o.buckets, drainTimeoutMs: 60_000 });
  try {
    for (const i of [1, 2, 3]) cl.startDaemon(i);
    await cl.waitForView([1, 2, 3], [1, 2, 3]);
    const before = cl.owners([1, 2, 3]);
    const dead = new Set(bucketsOf(before, 3));

    say('load running; killing node 3 (daemon SIGKILL + cable cut)');
    // Up to 16 of the dead node's buckets are probed in turn (each every ~35 ms), between random tuples.
    const probed = [...dead].filter((_, k) => k % Math.ceil(dead.size / 16) === 0).slice(0, 16);
    const loadDone = cl.load({ durationMs: 6_000, tuples: cl.tuples(3_000, probed) });
    await new Promise((r) => setTimeout(r, 2_000));
    const killAt = Date.now();
    await Promise.all([cl.stopDaemon(3, 'SIGKILL'), cl.lab.setLink(3, false)]);
    const attempts = await loadDone;

    const outages: number[] = [];
    for (const b of probed) {
      const first = attempts.find((a) => a.node && a.start >= killAt && cl.bucketOf(a.src, a.sport) === b);
      if (first) outages.push(first.end - killAt);
    }
    const survivorFailed = attempts.filter((a) => !a.node && !dead.has(cl.bucketOf(a.src, a.sport))).length;
    const st = (await cl.status(1))!;
    const counts = [st.vips[0].perNode.node1, st.vips[0].perNode.node2];
    const after = attempts.filter((a) => a.node && a.start >= killAt + 1_000 && !probed.includes(cl.bucketOf(a.src, a.sport)));
    const conn = ['node1', 'node2'].map((n) => after.filter((a) => a.node === n).length);

    say(`node 3 away; opening ${o.longLived} long-lived connections`);
    const holder = spawn('ip', ['netns', 'exec', cl.lab.clientNs, process.execPath, built('lab/holder.js'),
      JSON.stringify({ target: VIP_ADDRESS, port: SERVICE_PORT, sources: cl.lab.clientSources, count: o.longLived, timeoutMs: 3000 })], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
    const opened = JSON.parse((await lines.next()).value as string).opened as unknown[];
    try {
      say('node 3 returns (kernel state cleared as by a reboot, cable restored, daemon started)');
      await cl.lab.exec(cl.lab.nodeNs(3), [process.execPath, built('cli/main.js'), 'down', '--config', cl.configFile, '--node', nodeName(3)]);
      await cl.lab.setLink(3, true);
      cl.startDaemon(3);
      await cl.waitForView([1, 2, 3], [1, 2, 3]);
      await new Promise((r) => setTimeout(r, 1_000));
      holder.stdin!.write('probe\n');
      const probe = JSON.parse((await lines.next()).value as string) as { alive: boolean[]; closed: (string | null)[] };
      const rejoinResets = probe.alive.filter((x) => !x).length;
      holder.stdin!.write('close\n');
      say('long-lived connections closed; waiting for the handover to settle');
      await cl.waitForSettled([1, 2, 3], 30_000);
      const burst = await cl.burst(600);
      const full = cl.owners([1, 2, 3]);
      const ok = burst.filter((a) => a.node);
      return {
        intervalMs: o.intervalMs, deadtimeMs: o.deadtimeMs, buckets: o.buckets,
        connectionsDuringFailover: attempts.length, deadBuckets: dead.size, deadBucketsProbed: outages.length,
        outageMsP50: quantile(outages, 0.5), outageMsP99: quantile(outages, 0.99), outageMsMax: Math.max(...outages),
        survivorFailed, maxMinShareAfter: Math.max(...counts) / Math.min(...counts), maxMinConnectionShareAfter: Math.max(...conn) / Math.min(...conn),
        longLivedHeld: opened.length, rejoinResets,
        rejoinedShare: ok.filter((a) => a.node === 'node3').length / Math.max(1, ok.length),
        rejoinMispredicted: ok.filter((a) => a.node !== nodeName(full[cl.bucketOf(a.src, a.sport) - 1])).length + (burst.length - ok.length),
      };
    } finally {
      holder.kill();
    }
  } finally {
    await cl.destroy();
  }
}
