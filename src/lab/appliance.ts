// `aavip lab appliance`: the whole appliance on a kernel with IPVS (the 6.1 VM). A switch, a
// client with 200 source addresses, three nodes running real `aavip up` with the ldirectord role
// (lvs.config; IPVS sync on, the default), four direct-routing real servers. Connections go
// client → VIP → the bucket owner's IPVS → a real server, and the real server answers the client
// itself. Judged in appliance-report.ts.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { built } from '../paths.js';
import { type ApplianceReport, type IpvsConn, judgeAppliance, parseIpvsConnSync } from './appliance-report.js';
import { REAL_PORT, RealServers } from './appliance-servers.js';
import type { Attempt } from './client.js';
import { ClusterLab } from './cluster-lab.js';
import { nodeName, VIP_ADDRESS } from './vip-lab.js';

export interface ApplianceOptions {
  prefix: string;
  connections: number;
  /** The real servers' weights (one server each). */
  weights: number[];
  /**
   * Heartbeat interval and deadtime. Under emulation on a busy host an nft commit takes seconds,
   * and a lease is granted less the commit time: with a deadtime of 1000 or 2500 ms no lease was
   * ever granted (nothing served); 1000/15000 ms held.
   */
  intervalMs: number;
  deadtimeMs: number;
  sync: boolean;
  progress?: (m: string) => void;
}

export const APPLIANCE_DEFAULTS: Omit<ApplianceOptions, 'prefix'> = {
  connections: 600,
  weights: [1, 1, 2, 2],
  intervalMs: 1000,
  deadtimeMs: 15_000,
  sync: true,
};

export interface ApplianceResult extends ApplianceReport {
  options: Omit<ApplianceOptions, 'progress'>;
  seconds: number;
}

/** One virtual service on the VIP, `gate`, `wrr`, a connect check every second (ldirectord's smallest step). */
export function ldirectordCf(reals: { address: string; weight: number }[]): string {
  return [
    'checkinterval=1',
    'checktimeout=1',
    'quiescent=yes',
    `virtual=${VIP_ADDRESS}:${REAL_PORT}`,
    ...reals.map((r) => `\treal=${r.address}:${REAL_PORT} gate ${r.weight}`),
    '\tchecktype=connect',
    '\tscheduler=wrr',
    '\tprotocol=tcp',
    '',
  ].join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runAppliance(o: ApplianceOptions): Promise<ApplianceResult> {
  const t0 = Date.now();
  const say = o.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), `aavip-${o.prefix}-lvs-`));
  let cl: ClusterLab | undefined;
  let rs: RealServers | undefined;
  try {
    const cf = join(dir, 'ldirectord.cf');
    say(`building: switch, client, 3 nodes, ${o.weights.length} real servers (namespaces ${o.prefix}-*)`);
    cl = await ClusterLab.create({
      prefix: o.prefix,
      intervalMs: o.intervalMs,
      deadtimeMs: o.deadtimeMs,
      lvs: { config: cf, ...(o.sync ? {} : { sync: false }) },
    });
    rs = await RealServers.create(cl.lab, o.weights.length, VIP_ADDRESS);
    const reals = rs.ids.map((i) => ({ name: rs!.name(i), address: rs!.address(i), weight: o.weights[i - 1] }));
    writeFileSync(cf, ldirectordCf(reals));
    const nodes = cl.lab.nodeIds;
    for (const i of nodes) cl.startDaemon(i);
    await waitForSteadyView(cl, 180_000);
    await waitForReals(cl, reals.length);
    say('all nodes joined, every real server in IPVS; sending connections');
    const tables = new Map<number, Map<string, IpvsConn>>(nodes.map((i) => [i, new Map()]));
    const attempts = await withSampling(
      () => sampleTables(cl!, tables),
      () => burst(cl!, o.connections, say),
    );
    await sampleTables(cl, tables);
    const owners = cl.owners(nodes);
    const report = judgeAppliance({
      attempts,
      tables: new Map([...tables].map(([i, m]) => [i, [...m.values()]])),
      owners,
      // Buckets are numbered from 1 (nft's jhash offset 1), owners from index 0.
      ownerOf: (src, sport) => owners[cl!.bucketOf(src, sport) - 1],
      reals,
      scheduled: new Map(await Promise.all(nodes.map(async (i) => [i, await scheduledOn(cl!, i)] as [number, number]))),
      nodeName,
    });
    const { progress: _, ...options } = o;
    return { ...report, options, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await rs?.destroy();
    await cl?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Every node has joined and sees all three live, at three polls a second apart: under emulation
 * the daemons start slowly and the first views come and go. Polled gently (each status costs the
 * daemons CPU the emulated machine lacks).
 */
async function waitForSteadyView(cl: ClusterLab, timeoutMs: number): Promise<void> {
  const nodes = cl.lab.nodeIds;
  const deadline = Date.now() + timeoutMs;
  let steady = 0;
  while (steady < 3) {
    if (Date.now() > deadline) throw new Error(`nodes ${nodes.join(',')} did not keep agreeing on live=${nodes.join(',')} within ${timeoutMs} ms`);
    await sleep(1000);
    const st = await Promise.all(nodes.map((i) => cl.status(i)));
    const settled = st.every(
      (s) => s?.joined && s.view.live.join() === nodes.join() && s.vips.every((v) => !v.local.incoming.length && !v.local.draining.length),
    );
    steady = settled ? steady + 1 : 0;
  }
}

/** Every node's IPVS has every real server at a weight above 0 (the checks have run once). */
async function waitForReals(cl: ClusterLab, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tables = await Promise.all(cl.lab.nodeIds.map((i) => cl.lab.execNode(i, ['ipvsadm', '-Ln'], { allowFailure: true })));
    const up = tables.map((t) => (t.stdout.match(/->\s+\S+:\d+\s+Route\s+[1-9]/g) ?? []).length);
    if (up.every((n) => n === count)) return;
    if (Date.now() > deadline) throw new Error(`real servers not all up in every node's IPVS within ${timeoutMs} ms (up per node: ${up.join(', ')})`);
    await sleep(500);
  }
}

/** Adds what each node's IPVS table holds now (entries expire, so it is read during the run too). */
async function sampleTables(cl: ClusterLab, into: Map<number, Map<string, IpvsConn>>): Promise<void> {
  await Promise.all(
    cl.lab.nodeIds.map(async (i) => {
      const r = await cl.lab.execNode(i, ['cat', '/proc/net/ip_vs_conn_sync']);
      for (const c of parseIpvsConnSync(r.stdout)) if (c.virtual === `${VIP_ADDRESS}:${REAL_PORT}`) into.get(i)!.set(`${c.client} ${c.origin}`, c);
    }),
  );
}

/** Runs `work`, calling `sample` every 2 s until it ends. */
async function withSampling<T>(sample: () => Promise<void>, work: () => Promise<T>): Promise<T> {
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
async function burst(cl: ClusterLab, count: number, say: (m: string) => void): Promise<Attempt[]> {
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

const shuffled = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};

/** The virtual service's connection counter on node i (what its IPVS scheduled). */
async function scheduledOn(cl: ClusterLab, i: number): Promise<number> {
  const r = await cl.lab.execNode(i, ['ipvsadm', '-Ln', '--stats', '--exact']);
  const m = r.stdout.match(new RegExp(`TCP\\s+${VIP_ADDRESS.replace(/\./g, '\\.')}:${REAL_PORT}\\s+(\\d+)`));
  return m ? Number(m[1]) : 0;
}
