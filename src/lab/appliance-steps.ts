// The appliance lab's steps, shared by its phases: waiting for the cluster to settle and for the
// checks to bring the real servers in, bursts of client connections, and reading what every
// node's IPVS holds.
import { once } from 'node:events';
import { built } from '../paths.js';
import { type ApplianceReport, type IpvsConn, judgeAppliance, parseIpvsConnSync, type RealServerInfo } from './appliance-report.js';
import { REAL_PORT } from './appliance-servers.js';
import type { Attempt } from './client.js';
import { explainFailures, recordTried } from './appliance-diagnose.js';
import type { RealServers } from './appliance-servers.js';
import type { ClusterLab } from './cluster-lab.js';
import { nodeName, VIP_ADDRESS } from './vip-lab.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Every node has joined, sees all three live and its kernel carries its buckets, at three polls a second apart: under emulation
 * the daemons start slowly and the first views come and go. Polled gently (each status costs the
 * daemons CPU the emulated machine lacks).
 */
export async function waitForSteadyView(cl: ClusterLab, timeoutMs: number): Promise<void> {
  const nodes = cl.lab.nodeIds;
  const deadline = Date.now() + timeoutMs;
  let steady = 0;
  while (steady < 3) {
    if (Date.now() > deadline) throw new Error(`nodes ${nodes.join(',')} did not keep agreeing on live=${nodes.join(',')} within ${timeoutMs} ms`);
    await sleep(1000);
    const st = await Promise.all(nodes.map((i) => cl.status(i)));
    const settled = st.every(
      (s) => s?.joined && s.view.live.join() === nodes.join() && s.vips.every((v) => !v.local.incoming.length && !v.local.draining.length && v.kernelApplied),
    );
    steady = settled ? steady + 1 : 0;
  }
}

/** Every node's IPVS has every real server at a weight above 0 (the checks have run once); a node's own address shows as Local. */
export async function waitForReals(cl: ClusterLab, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tables = await Promise.all(cl.lab.nodeIds.map((i) => cl.lab.execNode(i, ['ipvsadm', '-Ln'], { allowFailure: true })));
    const up = tables.map((t) => (t.stdout.match(/->\s+\S+:\d+\s+(?:Route|Local)\s+[1-9]/g) ?? []).length);
    if (up.every((n) => n === count)) return;
    if (Date.now() > deadline) throw new Error(`real servers not all up in every node's IPVS within ${timeoutMs} ms (up per node: ${up.join(', ')})`);
    await sleep(500);
  }
}

/** Adds what each node's IPVS table holds now (entries expire, so it is read during the run too). */
export async function sampleTables(cl: ClusterLab, into: Map<number, Map<string, IpvsConn>>): Promise<void> {
  await Promise.all(
    cl.lab.nodeIds.map(async (i) => {
      const r = await cl.lab.execNode(i, ['cat', '/proc/net/ip_vs_conn_sync']);
      for (const c of parseIpvsConnSync(r.stdout)) if (c.virtual === `${VIP_ADDRESS}:${REAL_PORT}`) into.get(i)!.set(`${c.client} ${c.origin}`, c);
    }),
  );
}

/** Runs `work`, calling `sample` every 2 s until it ends. */
export async function withSampling<T>(sample: () => Promise<void>, work: () => Promise<T>): Promise<T> {
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await sleep(2000);
      if (!done) await sample();
    }
  })();
  try {
    return await work();
  } finally {
    done = true;
    await sampler;
  }
}

/** Connections from random client sources (ephemeral ports), a few at a time; patient, since emulation is slow. */
export async function burst(cl: ClusterLab, count: number, say: (m: string) => void): Promise<Attempt[]> {
  const opts = { target: VIP_ADDRESS, port: REAL_PORT, sources: shuffled(cl.lab.clientSources), count, concurrency: 16, timeoutMs: 10_000, progress: true };
  const client = cl.lab.spawn(cl.lab.clientNs, [process.execPath, built('lab/client.js'), '-'], process.env, ['pipe', 'pipe', 'pipe']);
  let out = '';
  client.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  // The client reports `progress DONE TOTAL` a hundred times; a tenth of them is enough here.
  client.stderr!.on('data', (d: Buffer) => {
    for (const m of d.toString().matchAll(/progress (\d+) (\d+)/g))
      if (Number(m[1]) % Math.max(1, Math.floor(count / 10)) === 0) say(`${m[1]} of ${m[2]} connections`);
  });
  client.stdin!.end(JSON.stringify(opts));
  const [code] = await once(client, 'close');
  if (code !== 0) throw new Error(`the lab's client exited ${code}`);
  return JSON.parse(out) as Attempt[];
}

export const shuffled = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};

/** The virtual service's connection counter on node i (what its IPVS scheduled): on the VIP, or on its mark. */
export async function scheduledOn(cl: ClusterLab, i: number, mark?: number): Promise<number> {
  const r = await cl.lab.execNode(i, ['ipvsadm', '-Ln', '--stats', '--exact']);
  const service = mark !== undefined ? `FWM\\s+${mark}` : `TCP\\s+${VIP_ADDRESS.replace(/\./g, '\\.')}:${REAL_PORT}`;
  const m = r.stdout.match(new RegExp(`${service}\\s+(\\d+)`));
  return m ? Number(m[1]) : 0;
}

/**
 * IPVS counters as they stand once the kernel has caught up: it sums its per-CPU counters into
 * what `ipvsadm --stats` shows only on its estimator's 2 s tick, so a read just after a burst
 * misses its last connections. Read until two reads a tick apart agree (five at most).
 */
async function settledCounters(read: () => Promise<[number, number][]>): Promise<[number, number][]> {
  let last = await read();
  for (let k = 0; k < 5; k++) {
    await sleep(2500);
    const now = await read();
    if (JSON.stringify(now) === JSON.stringify(last)) return now;
    last = now;
  }
  return last;
}

/**
 * A burst of `count` connections, every node's IPVS table read during and after it, judged
 * (appliance-report.ts); the IPVS counters are taken as they grew during the burst.
 */
export async function judgedBurst(
  cl: ClusterLab,
  count: number,
  reals: RealServerInfo[],
  say: (m: string) => void,
  o: { mark?: number; phase: string; rs?: RealServers },
): Promise<ApplianceReport> {
  const { mark } = o;
  const nodes = cl.lab.nodeIds;
  const counters = () => settledCounters(() => Promise.all(nodes.map(async (i) => [i, await scheduledOn(cl, i, mark)] as [number, number])));
  const before = new Map(await counters());
  const tables = new Map<number, Map<string, IpvsConn>>(nodes.map((i) => [i, new Map()]));
  const attempts = await withSampling(
    () => sampleTables(cl, tables),
    () => burst(cl, count, say),
  );
  await sampleTables(cl, tables);
  const failed = attempts.filter((a) => !a.node);
  const explained = failed.length ? await explainFailures(cl, failed, o.rs) : undefined;
  recordTried(cl, o.phase, attempts);
  const owners = cl.owners(nodes);
  const report = judgeAppliance({
    attempts,
    tables: new Map([...tables].map(([i, m]) => [i, [...m.values()]])),
    owners,
    // Buckets are numbered from 1 (nft's jhash offset 1), owners from index 0.
    ownerOf: (src, sport) => owners[cl.bucketOf(src, sport) - 1],
    reals,
    scheduled: new Map((await counters()).map(([i, n]) => [i, n - (before.get(i) ?? 0)])),
    nodeName,
  });
  const openAfterClose = await establishedAfterClose(
    cl,
    attempts.filter((a) => a.node),
  );
  return { ...report, openAfterClose, ...(explained ? { explained } : {}) };
}

/**
 * How many of these closed connections some node's IPVS still holds as ESTABLISHED, read until
 * none is (a backup learns of a close by the sync daemon's next send, within about 2 s) or 15 s.
 */
async function establishedAfterClose(cl: ClusterLab, closed: Attempt[]): Promise<number> {
  const tuples = new Set(closed.map((a) => `${a.src}:${a.sport}`));
  let open = tuples.size;
  for (let k = 0; k < 6 && open > 0; k++) {
    const tables = await Promise.all(cl.lab.nodeIds.map((i) => cl.lab.execNode(i, ['cat', '/proc/net/ip_vs_conn_sync'])));
    const still = new Set(
      tables.flatMap((t) =>
        parseIpvsConnSync(t.stdout)
          .filter((c) => c.state === 'ESTABLISHED' && tuples.has(c.client))
          .map((c) => c.client),
      ),
    );
    open = still.size;
    if (open > 0) await sleep(2500);
  }
  return open;
}
