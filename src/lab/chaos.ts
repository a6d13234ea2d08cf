// The fault run, in the manner of Pacemaker's CTS: three real daemons in the namespace lab,
// long-lived connections through the VIP, and a random fault every few seconds — SIGKILL,
// SIGTERM restart, SIGSTOP past the deadtime, a link flap, a one-sided heartbeat cut, a weight
// reloaded on one node only, a broken reload, `aavip down` beside the daemon, a wall-clock step.
// Every 100 ms each node's bucket map is read from its kernel: how long any bucket had two nodes
// taking its new connections (never two owners), and how long any went without one beyond the
// takeover bound (never none).
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parse, stringify } from 'yaml';
import { built } from '../paths.js';
import { ClusterLab } from './cluster-lab.js';
import { takersPerBucket, watchBucketMaps } from './kernel-buckets.js';
import { nodeName, SERVICE_PORT, VIP_ADDRESS } from './vip-lab.js';

export const FAULTS = ['sigkill', 'sigterm-restart', 'sigstop', 'link-flap', 'one-sided-cut', 'weight-reload-one-node', 'broken-reload', 'down-beside-daemon', 'clock-step'] as const;
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
  /** Time some bucket had no node taking new connections beyond the takeover bound, summed over spells. */
  unservedBeyondBoundMs: number;
  longestUnservedMs: number;
  longLivedOpened: number;
  /** Long-lived connections lost although the node they went through had no disruptive fault. */
  unexpectedResets: number;
  /** ...and those lost through a node that was killed, frozen or cut off (expected). */
  expectedLosses: number;
  downRefused: number;
  worst: { kind: string; node: string; atMs: number; detail: string }[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Faults after which a node's own connections may be gone: it lost its buckets or its process. */
const DISRUPTIVE = new Set<Fault>(['sigkill', 'sigstop', 'link-flap', 'one-sided-cut']);

interface Spell { since: number }

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const say = o.progress ?? (() => {});
  const deadtimeMs = o.deadtimeMs ?? 300;
  const intervalMs = o.intervalMs ?? Math.round(deadtimeMs / 5);
  const bound = deadtimeMs + 3 * intervalMs + 100; // the takeover, plus one sample of slack
  let x = o.seed ?? 1;
  const rand = (n: number) => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return x % n; };
  say('building the lab and starting three daemons');
  const cl = await ClusterLab.create({ prefix: o.prefix, intervalMs, deadtimeMs, buckets: 256, drainTimeoutMs: 120_000 });
  const files = new Map<number, string>();
  const stampFile = join(cl.dir, 'faketime');
  writeFileSync(stampFile, '+0\n');
  const start = (i: number) => {
    // Node 3 runs with a wall clock that can be stepped (libfaketime; the monotonic clock untouched).
    const env = i === 3 ? { LD_PRELOAD: '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', FAKETIME_TIMESTAMP_FILE: stampFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' } : {};
    return cl.startDaemon(i, ['--config', files.get(i)!], env);
  };
  const result: ChaosResult = {
    minutes: o.minutes, intervalMs, deadtimeMs, takeoverBoundMs: bound, samples: 0,
    faults: Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>,
    twoOwnersMs: 0, unservedBeyondBoundMs: 0, longestUnservedMs: 0, longLivedOpened: 0, unexpectedResets: 0, expectedLosses: 0, downRefused: 0, worst: [],
  };
  const t0 = Date.now();
  const disrupted = new Map<string, number>(); // node name → last disruptive fault time
  let lastFault = { kind: 'none', node: '', at: 0 };
  try {
    for (const i of cl.lab.nodeIds) { files.set(i, join(cl.dir, `node${i}.yaml`)); copyFileSync(cl.configFile, files.get(i)!); start(i); }
    await cl.waitForView(cl.lab.nodeIds, cl.lab.nodeIds);
    await cl.waitForSettled(cl.lab.nodeIds);

    // The sampler: every 100 ms, who takes each bucket's new connections.
    let sampling = true;
    const spells = new Map<number, Spell>();
    const watch = watchBucketMaps(cl.lab, VIP_ADDRESS, 100);
    await sleep(500);
    const sampler = (async () => {
      let prev = Date.now();
      while (sampling) {
        const maps = watch.latest();
        const now = Date.now();
        const takers = takersPerBucket(maps, 256);
        result.samples++;
        if (takers.some((t) => t.length > 1)) {
          result.twoOwnersMs += now - prev;
          if (result.worst.length < 20) result.worst.push({ kind: 'two-owners', node: lastFault.node, atMs: now - t0, detail: `after ${lastFault.kind}: buckets ${takers.map((t, b) => (t.length > 1 ? b + 1 : 0)).filter(Boolean).slice(0, 8).join(',')}` });
        }
        takers.forEach((t, k) => {
          const s = spells.get(k);
          if (t.length === 0 && !s) spells.set(k, { since: prev });
          else if (t.length > 0 && s) {
            spells.delete(k);
            const ms = now - s.since;
            result.longestUnservedMs = Math.max(result.longestUnservedMs, ms);
            if (ms > bound) {
              result.unservedBeyondBoundMs += ms - bound;
              if (result.worst.length < 20) result.worst.push({ kind: 'unserved', node: lastFault.node, atMs: s.since - t0, detail: `bucket ${k + 1} for ${ms} ms after ${lastFault.kind}` });
            }
          }
        });
        prev = now;
        await sleep(Math.max(0, 100 - (Date.now() - now)));
      }
    })();

    // Long-lived connections, renewed every 30 s; losses judged by the node each went through.
    const holders = (async () => {
      while (Date.now() - t0 < o.minutes * 60_000) {
        const openedAt = Date.now();
        const holder = spawn('ip', ['netns', 'exec', cl.lab.clientNs, process.execPath, built('lab/holder.js'),
          JSON.stringify({ target: VIP_ADDRESS, port: SERVICE_PORT, sources: cl.lab.clientSources, count: o.longLived ?? 150, timeoutMs: 2000 })], { stdio: ['pipe', 'pipe', 'inherit'] });
        const lines = createInterface({ input: holder.stdout! })[Symbol.asyncIterator]();
        try {
          const opened = JSON.parse((await lines.next()).value as string).opened as { node: string }[];
          result.longLivedOpened += opened.length;
          const lost = new Set<number>();
          for (let round = 0; round < 10 && Date.now() - t0 < o.minutes * 60_000; round++) {
            await sleep(3000);
            holder.stdin!.write('probe\n');
            const probe = JSON.parse((await lines.next()).value as string) as { alive: boolean[] };
            probe.alive.forEach((alive, k) => {
              if (alive || lost.has(k)) return;
              lost.add(k);
              if ((disrupted.get(opened[k].node) ?? 0) >= openedAt) result.expectedLosses++;
              else {
                result.unexpectedResets++;
                if (result.worst.length < 20) result.worst.push({ kind: 'reset', node: opened[k].node, atMs: Date.now() - t0, detail: `a connection through ${opened[k].node} lost after ${lastFault.kind} on ${lastFault.node}` });
              }
            });
          }
          holder.stdin!.write('close\n');
        } finally { holder.kill(); }
      }
    })();

    const faults = (async () => {
      while (Date.now() - t0 < o.minutes * 60_000) {
        const kind = FAULTS[rand(FAULTS.length)];
        const i = kind === 'clock-step' ? 3 : 1 + rand(3);
        lastFault = { kind, node: nodeName(i), at: Date.now() };
        say(`${Math.round((Date.now() - t0) / 1000)} s: ${kind} on ${nodeName(i)}`);
        if (DISRUPTIVE.has(kind)) disrupted.set(nodeName(i), Date.now());
        await inject(kind, i);
        if (DISRUPTIVE.has(kind)) disrupted.set(nodeName(i), Date.now());
        result.faults[kind]++;
        await cl.waitForView(cl.lab.nodeIds, cl.lab.nodeIds, 15_000).catch(() => say('the cluster did not come back together within 15 s'));
        await sleep(2000 + rand(2000));
      }
    })();

    async function inject(kind: Fault, i: number): Promise<void> {
      const pid = cl.daemons.get(i)?.pid;
      const config = () => parse(readFileSync(files.get(i)!, 'utf8')) as Record<string, any>;
      switch (kind) {
        case 'sigkill': await cl.stopDaemon(i, 'SIGKILL'); await sleep(1500); start(i); break;
        case 'sigterm-restart': await cl.stopDaemon(i, 'SIGTERM'); start(i); break;
        case 'sigstop': if (pid) { process.kill(pid, 'SIGSTOP'); await sleep(2 * deadtimeMs); process.kill(pid, 'SIGCONT'); } break;
        case 'link-flap': await cl.lab.setLink(i, false); await sleep(1000); await cl.lab.setLink(i, true); break;
        case 'one-sided-cut':
          await cl.lab.exec(cl.lab.nodeNs(i), ['nft', '-f', '-'], { input: 'table inet chaoscut {\n chain out {\n type filter hook output priority 0;\n udp dport 5405 drop\n }\n}\n' });
          await sleep(1500);
          await cl.lab.exec(cl.lab.nodeNs(i), ['nft', 'delete', 'table', 'inet', 'chaoscut']);
          break;
        case 'weight-reload-one-node': {
          const c = config();
          c.cluster.nodes = c.cluster.nodes.map((n: { name: string; weight?: number }) => (n.name === nodeName(i) ? { ...n, weight: 3 } : n));
          writeFileSync(files.get(i)!, stringify(c));
          if (pid) process.kill(pid, 'SIGHUP');
          await sleep(2000);
          copyFileSync(cl.configFile, files.get(i)!);
          if (pid) process.kill(pid, 'SIGHUP');
          break;
        }
        case 'broken-reload':
          writeFileSync(files.get(i)!, 'cluster: [this is not\n');
          if (pid) process.kill(pid, 'SIGHUP');
          await sleep(500);
          copyFileSync(cl.configFile, files.get(i)!);
          break;
        case 'down-beside-daemon': {
          const r = await cl.cli(i, ['down']);
          if (r.status !== 0) result.downRefused++;
          break;
        }
        case 'clock-step':
          writeFileSync(stampFile, '-60s\n');
          await sleep(2000);
          writeFileSync(stampFile, '+0\n');
          break;
      }
    }

    await faults;
    await holders;
    sampling = false;
    await sampler;
    await watch.stop();
    return result;
  } finally {
    await cl.destroy();
  }
}
