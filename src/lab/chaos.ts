// The fault run, in the manner of Pacemaker's CTS: three real daemons in the namespace lab,
// long-lived connections through the VIP, and a random fault every few seconds — SIGKILL,
// SIGTERM restart, SIGSTOP past the deadtime, a link flap, a one-sided heartbeat cut, a weight
// reloaded on one node only, a broken reload, `aavip down` beside the daemon, a wall-clock step.
// Every 100 ms each node's bucket map is read from its kernel: how long any bucket had two nodes
// taking its new connections (never two owners), and how long any went without one beyond the
// takeover bound (never none).
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ClusterLab } from './cluster-lab.js';
import { LongLived } from './long-lived.js';
import { bucketSnapshots, overlapsPerBucket, takersPerBucket } from './kernel-buckets.js';
import { nodeName, SERVICE_PORT, VIP_ADDRESS } from './vip-lab.js';

export const FAULTS = [
  'sigkill',
  'sigterm-restart',
  'sigstop',
  'link-flap',
  'one-sided-cut',
  'weight-reload-one-node',
  'broken-reload',
  'down-beside-daemon',
  'clock-step',
] as const;
export type Fault = (typeof FAULTS)[number];

export interface ChaosOptions {
  prefix: string;
  minutes: number;
  seed?: number;
  intervalMs?: number;
  deadtimeMs?: number;
  longLived?: number;
  progress?: (msg: string) => void;
}

export interface ChaosResult {
  minutes: number;
  intervalMs: number;
  deadtimeMs: number;
  takeoverBoundMs: number;
  samples: number;
  faults: Record<Fault, number>;
  /** Time during which some bucket had two nodes taking new connections (sampled every 100 ms). */
  twoOwnersMs: number;
  /** The widest gap between the first and last node's listing within one snapshot (the sampler's resolution). */
  snapshotSpreadMsMax: number;
  /** Time some bucket had no node taking new connections beyond the takeover bound, summed over spells. */
  unservedBeyondBoundMs: number;
  longestUnservedMs: number;
  longLivedOpened: number;
  /** Long-lived connections lost although the node they went through had no disruptive fault. */
  unexpectedResets: number;
  /** ...and those lost through a node that was killed, frozen or cut off (expected). */
  expectedLosses: number;
  downRefused: number;
  /** What went wrong, grouped: each spell of two owners or of unserved buckets beyond the bound, each reset. */
  incidents: Incident[];
}

export interface Incident {
  kind: 'two-owners' | 'unserved' | 'reset';
  afterFault: string;
  node: string;
  atMs: number;
  buckets: number;
  ms: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Faults after which a node's own connections may be gone: it lost its buckets or its process. */
const DISRUPTIVE = new Set<Fault>(['sigkill', 'sigstop', 'link-flap', 'one-sided-cut']);

const emptyResult = (o: ChaosOptions, intervalMs: number, deadtimeMs: number, bound: number): ChaosResult => ({
  minutes: o.minutes,
  intervalMs,
  deadtimeMs,
  takeoverBoundMs: bound,
  samples: 0,
  faults: Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>,
  twoOwnersMs: 0,
  snapshotSpreadMsMax: 0,
  unservedBeyondBoundMs: 0,
  longestUnservedMs: 0,
  longLivedOpened: 0,
  unexpectedResets: 0,
  expectedLosses: 0,
  downRefused: 0,
  incidents: [],
});

/** One fault run: the lab, what is measured, and the three loops that run side by side. */
class ChaosRun {
  readonly result: ChaosResult;
  private readonly files = new Map<number, string>();
  private readonly stampFile: string;
  private readonly t0 = Date.now();
  /** Node name → when its last disruptive fault ended. */
  private readonly disrupted = new Map<string, number>();
  private lastFault = { kind: 'none', node: '' };
  private sampling = true;
  private x: number;

  constructor(
    private readonly cl: ClusterLab,
    private readonly o: ChaosOptions,
    private readonly deadtimeMs: number,
    intervalMs: number,
    private readonly bound: number,
  ) {
    this.result = emptyResult(o, intervalMs, deadtimeMs, bound);
    this.stampFile = join(cl.dir, 'faketime');
    writeFileSync(this.stampFile, '+0\n');
    this.x = o.seed ?? 1;
  }

  private rand(n: number): number {
    this.x = (Math.imul(this.x, 1103515245) + 12345) >>> 0;
    return this.x % n;
  }
  private get over(): boolean {
    return Date.now() - this.t0 >= this.o.minutes * 60_000;
  }
  /** Records an incident, merged with the last one of its kind that started at the same moment. */
  private note(kind: Incident['kind'], at: number, ms: number, buckets = 1): void {
    const atMs = at - this.t0;
    const same = this.result.incidents.find((x) => x.kind === kind && Math.abs(x.atMs - atMs) < 150);
    if (same) {
      same.buckets += buckets;
      same.ms = Math.max(same.ms, ms);
      return;
    }
    if (this.result.incidents.length < 200) this.result.incidents.push({ kind, afterFault: this.lastFault.kind, node: this.lastFault.node, atMs, buckets, ms });
  }

  /** Node 3 runs with a wall clock that can be stepped (libfaketime; the monotonic clock untouched). */
  start(i: number): void {
    const env =
      i === 3
        ? {
            LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
            FAKETIME_TIMESTAMP_FILE: this.stampFile,
            FAKETIME_NO_CACHE: '1',
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          }
        : {};
    this.cl.startDaemon(i, ['--config', this.files.get(i)!], env);
  }

  async run(): Promise<ChaosResult> {
    for (const i of this.cl.lab.nodeIds) {
      this.files.set(i, join(this.cl.dir, `node${i}.yaml`));
      copyFileSync(this.cl.configFile, this.files.get(i)!);
      this.start(i);
    }
    await this.cl.waitForView(this.cl.lab.nodeIds, this.cl.lab.nodeIds);
    await this.cl.waitForSettled(this.cl.lab.nodeIds);
    const watch = bucketSnapshots(this.cl.lab, VIP_ADDRESS);
    const sampler = this.sample(watch);
    await Promise.all([this.faults(), this.holders()]);
    this.sampling = false;
    await sampler;
    await watch.stop();
    return this.result;
  }

  /** Every 100 ms: who takes each bucket's new connections, by the kernels. */
  private async sample(watch: ReturnType<typeof bucketSnapshots>): Promise<void> {
    const spells = new Map<number, number>();
    let prev = Date.now();
    while (this.sampling) {
      const snapshot = await watch.snapshot();
      const now = Date.now();
      const ats = [...snapshot.values()].map((l) => l.at);
      this.result.snapshotSpreadMsMax = Math.max(this.result.snapshotSpreadMsMax, Math.max(...ats) - Math.min(...ats));
      const takers = takersPerBucket(new Map([...snapshot].map(([i, l]) => [i, l.map])), 256);
      const overlaps = overlapsPerBucket(snapshot, 256);
      this.result.samples++;
      if (overlaps.some((n) => n > 0)) {
        this.result.twoOwnersMs += now - prev;
        this.note('two-owners', prev, now - prev, overlaps.filter((n) => n > 0).length);
      }
      takers.forEach((t, k) => {
        const since = spells.get(k);
        if (t.length === 0 && since === undefined) spells.set(k, prev);
        else if (t.length > 0 && since !== undefined) {
          spells.delete(k);
          const ms = now - since;
          this.result.longestUnservedMs = Math.max(this.result.longestUnservedMs, ms);
          if (ms > this.bound) {
            this.result.unservedBeyondBoundMs += ms - this.bound;
            this.note('unserved', since, ms);
          }
        }
      });
      prev = now;
      await sleep(Math.max(0, 100 - (Date.now() - now)));
    }
  }

  /** Long-lived connections, renewed every 30 s; each loss judged by the node it went through. */
  private async holders(): Promise<void> {
    while (!this.over) {
      const openedAt = Date.now();
      const holder = await LongLived.open(this.cl.lab, {
        target: VIP_ADDRESS,
        port: SERVICE_PORT,
        sources: this.cl.lab.clientSources,
        count: this.o.longLived ?? 150,
        timeoutMs: 2000,
      });
      try {
        const opened = holder.opened;
        this.result.longLivedOpened += opened.length;
        const lost = new Set<number>();
        for (let round = 0; round < 10 && !this.over; round++) {
          await sleep(3000);
          (await holder.probe()).forEach((alive, k) => {
            if (alive || lost.has(k)) return;
            lost.add(k);
            if ((this.disrupted.get(opened[k].node) ?? 0) >= openedAt) this.result.expectedLosses++;
            else {
              this.result.unexpectedResets++;
              this.note('reset', Date.now(), 0);
            }
          });
        }
      } finally {
        await holder.close();
      }
    }
  }

  /** A random fault every few seconds, each undone before the next; the cluster must come back whole. */
  private async faults(): Promise<void> {
    while (!this.over) {
      const kind = FAULTS[this.rand(FAULTS.length)];
      const i = kind === 'clock-step' ? 3 : 1 + this.rand(3);
      this.lastFault = { kind, node: nodeName(i) };
      this.o.progress?.(`${Math.round((Date.now() - this.t0) / 1000)} s: ${kind} on ${nodeName(i)}`);
      if (DISRUPTIVE.has(kind)) this.disrupted.set(nodeName(i), Date.now());
      await this.inject(kind, i);
      if (DISRUPTIVE.has(kind)) this.disrupted.set(nodeName(i), Date.now());
      this.result.faults[kind]++;
      await this.cl
        .waitForView(this.cl.lab.nodeIds, this.cl.lab.nodeIds, 15_000)
        .catch(() => this.o.progress?.('the cluster did not come back together within 15 s'));
      await sleep(2000 + this.rand(2000));
    }
  }

  private async reload(i: number, text: string, holdMs: number): Promise<void> {
    const pid = this.cl.daemons.get(i)?.pid;
    writeFileSync(this.files.get(i)!, text);
    if (pid) process.kill(pid, 'SIGHUP');
    await sleep(holdMs);
    copyFileSync(this.cl.configFile, this.files.get(i)!);
    if (pid) process.kill(pid, 'SIGHUP');
  }

  private async inject(kind: Fault, i: number): Promise<void> {
    const cl = this.cl;
    const pid = cl.daemons.get(i)?.pid;
    switch (kind) {
      case 'sigkill':
        await cl.stopDaemon(i, 'SIGKILL');
        await sleep(1500);
        this.start(i);
        break;
      case 'sigterm-restart':
        await cl.stopDaemon(i, 'SIGTERM');
        this.start(i);
        break;
      case 'sigstop':
        if (pid) {
          process.kill(pid, 'SIGSTOP');
          await sleep(2 * this.deadtimeMs);
          process.kill(pid, 'SIGCONT');
        }
        break;
      case 'link-flap':
        await cl.lab.setLink(i, false);
        await sleep(1000);
        await cl.lab.setLink(i, true);
        break;
      case 'one-sided-cut':
        await cl.lab.exec(cl.lab.nodeNs(i), ['nft', '-f', '-'], {
          input: 'table inet chaoscut {\n chain out {\n type filter hook output priority 0;\n udp dport 5405 drop\n }\n}\n',
        });
        await sleep(1500);
        await cl.lab.exec(cl.lab.nodeNs(i), ['nft', 'delete', 'table', 'inet', 'chaoscut']);
        break;
      case 'weight-reload-one-node': {
        const c = parse(readFileSync(this.files.get(i)!, 'utf8')) as { cluster: { nodes: { name: string; weight?: number }[] } };
        c.cluster.nodes = c.cluster.nodes.map((n) => (n.name === nodeName(i) ? { ...n, weight: 3 } : n));
        await this.reload(i, stringify(c), 2000);
        break;
      }
      case 'broken-reload':
        await this.reload(i, 'cluster: [this is not\n', 500);
        break;
      case 'down-beside-daemon':
        if ((await cl.cli(i, ['down'])).status !== 0) this.result.downRefused++;
        break;
      case 'clock-step':
        writeFileSync(this.stampFile, '-60s\n');
        await sleep(2000);
        writeFileSync(this.stampFile, '+0\n');
        break;
    }
  }
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const deadtimeMs = o.deadtimeMs ?? 300;
  const intervalMs = o.intervalMs ?? Math.round(deadtimeMs / 5);
  const bound = deadtimeMs + 3 * intervalMs + 100; // the takeover, plus one sample of slack
  o.progress?.('building the lab and starting three daemons');
  const cl = await ClusterLab.create({ prefix: o.prefix, intervalMs, deadtimeMs, buckets: 256, drainTimeoutMs: 120_000 });
  try {
    return await new ChaosRun(cl, o, deadtimeMs, intervalMs, bound).run();
  } finally {
    await cl.destroy();
  }
}
