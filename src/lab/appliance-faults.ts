// The appliance lab's fault phases, under long-lived connections that keep sending data:
// - a director killed (daemon SIGKILL and cable cut): with IPVS sync its connections go on through
//   the survivors, which learnt them from its sync daemon; without, they break (must-show 4);
// - the node back, then a drain and an undrain of it: handovers between live nodes, in which no
//   connection may be reset, and every node's share of new connections afterwards (must-show 5).
import type { ApplianceReport, RealServerInfo } from './appliance-report.js';
import { recordTried } from './appliance-diagnose.js';
import { REAL_PORT, type RealServers } from './appliance-servers.js';
import { judgedBurst, sleep, waitForReals, waitForSteadyView } from './appliance-steps.js';
import type { ClusterLab } from './cluster-lab.js';
import { LongLived } from './long-lived.js';
import { nodeName, VIP_ADDRESS } from './vip-lab.js';

/** Long-lived connections through the director that is killed (must-show 4 asks for 200 or more). */
export const LONG_LIVED = 210;
/** How long a probe may wait for its echo: TCP's retransmissions must ride out the takeover. */
const PROBE_MS = 90_000;

export interface DirectorKillFigures {
  sync: boolean;
  director: string;
  /** Long-lived connections through it when it died, and how many went on to the end. */
  longLived: number;
  survived: number;
  broken: number;
  /** From the kill to the moment new connections in its buckets were answered again (ms). */
  servedAgainMs: number | null;
  /** The deadtime and the survivors' kernel updates after it (under emulation: seconds). */
  deadtimeMs: number;
  survivorApplyMs: number;
}

export interface ReturnFigures {
  /** Long-lived connections carried through the return, a drain and an undrain, and those lost. */
  longLived: number;
  resets: number;
  /** Per node after it all: buckets, and new connections its IPVS directed in a fresh burst. */
  afterReturn: ApplianceReport['perNode'];
  failed: number;
  failures: ApplianceReport['failures'];
  explained?: string[];
}

export interface FaultContext {
  cl: ClusterLab;
  rs: RealServers;
  reals: RealServerInfo[];
  deadtimeMs: number;
  say: (m: string) => void;
}

/** Client tuples whose bucket node `victim` owns in the full view (distinct seeds: no tuple reused). */
function tuplesOf(cl: ClusterLab, victim: number, count: number, seed: number): { src: string; sport: number }[] {
  const owners = cl.owners(cl.lab.nodeIds);
  return cl
    .tuples(count * 4, [], seed)
    .filter((t) => owners[cl.bucketOf(t.src, t.sport) - 1] === victim)
    .slice(0, count);
}

const allTrue = (xs: boolean[]) => xs.filter(Boolean).length;

/**
 * Kills `victim` (SIGKILL, then its cable) under LONG_LIVED connections in its buckets, measures
 * when its buckets answer again and how many of the connections go on. Returns the connections,
 * still open, for the next phase.
 */
export async function killDirector(x: FaultContext, victim: number, sync: boolean, seed: number): Promise<{ figures: DirectorKillFigures; held: LongLived }> {
  const { cl, say } = x;
  const held = await LongLived.open(cl.lab, {
    target: VIP_ADDRESS,
    port: REAL_PORT,
    sources: [],
    count: LONG_LIVED,
    timeoutMs: 20_000,
    tuples: tuplesOf(cl, victim, LONG_LIVED, seed),
  });
  recordTried(cl, `long-lived through ${nodeName(victim)}`, held.opened);
  say(`${held.opened.length} long-lived connections through ${nodeName(victim)}; sending data on them`);
  // A few rounds of data, then time for the sync daemon to send them (it flushes every second or so).
  for (let k = 0; k < 3; k++) {
    await held.probe(PROBE_MS);
    await sleep(1000);
  }
  await sleep(5000);
  const before = await held.probe(PROBE_MS);
  // New connections in its buckets, a few a second, across the takeover.
  const loadMs = x.deadtimeMs + 45_000;
  const load = cl.load({
    port: REAL_PORT,
    everyMs: 250,
    concurrency: 64,
    timeoutMs: 2000,
    durationMs: loadMs,
    tuples: tuplesOf(cl, victim, Math.ceil(loadMs / 250) + 10, seed + 1),
  });
  await sleep(3000);
  const killedAt = Date.now();
  say(`killing ${nodeName(victim)}'s daemon and cutting its cable (sync ${sync ? 'on' : 'off'})`);
  await cl.stopDaemon(victim, 'SIGKILL');
  await cl.lab.setLink(victim, false);
  const attempts = await load;
  recordTried(cl, `load across ${nodeName(victim)}'s death`, attempts);
  const failedAfter = attempts.filter((a) => a.start >= killedAt && !a.node);
  const lastFailure = Math.max(killedAt, ...failedAfter.map((a) => a.start));
  const answeredAgain = attempts.find((a) => a.start > lastFailure && a.node);
  // Every connection sends again; TCP retransmits until the survivors forward it (or reset it).
  say('probing the long-lived connections after the takeover');
  const after1 = await held.probe(PROBE_MS);
  await sleep(2000);
  const after2 = await held.probe(PROBE_MS);
  const alive = before.map((b, k) => b && after1[k] && after2[k]);
  const figures: DirectorKillFigures = {
    sync,
    director: nodeName(victim),
    longLived: allTrue(before),
    survived: allTrue(alive),
    broken: allTrue(before) - allTrue(alive),
    // When it was answered: an attempt begun before the takeover may get through on a SYN retransmit.
    servedAgainMs: answeredAgain ? answeredAgain.end - killedAt : null,
    deadtimeMs: x.deadtimeMs,
    survivorApplyMs: survivorApplyMs(cl, victim, killedAt),
  };
  say(`${figures.survived} of ${figures.longLived} long-lived connections went on; new connections answered again after ${figures.servedAgainMs} ms`);
  return { figures, held };
}

/** The longest kernel update on a survivor that took over after `since` (from the daemons' logs). */
function survivorApplyMs(cl: ClusterLab, victim: number, since: number): number {
  let worst = 0;
  for (const i of cl.lab.nodeIds) {
    if (i === victim) continue;
    for (const line of cl.logs.get(i) ?? []) {
      try {
        const l = JSON.parse(line) as { time?: number; msg?: string; applyMs?: number };
        if (l.msg === 'ownership applied' && (l.time ?? 0) >= since && l.applyMs !== undefined) {
          worst = Math.max(worst, l.applyMs);
          break;
        }
      } catch {
        // not a log line
      }
    }
  }
  return worst;
}

/**
 * Brings `victim` back (cable, daemon), then drains and undrains `drained`, probing the connections
 * throughout; ends with a burst of new connections to see every node, the returned one included,
 * direct its share.
 */
export async function returnAndDrain(x: FaultContext, held: LongLived, victim: number): Promise<ReturnFigures> {
  // The node that came back is drained and undrained too: its buckets (and these connections) are
  // handed over twice more between live nodes.
  const drained = victim;
  const { cl, say } = x;
  const start = await held.probe(PROBE_MS);
  const lost = new Set<number>();
  const check = async (what: string) => {
    const alive = await held.probe(PROBE_MS);
    alive.forEach((a, k) => {
      if (start[k] && !a) lost.add(k);
    });
    say(`${what}: ${allTrue(start) - lost.size} of ${allTrue(start)} long-lived connections alive`);
  };
  await cl.lab.setLink(victim, true);
  cl.startDaemon(victim);
  await waitForSteadyView(cl, 240_000);
  await check(`${nodeName(victim)} back`);
  const drain = await cl.cli(drained, ['drain']);
  if (drain.status !== 0) throw new Error(`aavip drain failed: ${drain.stderr}`);
  await waitForBuckets(cl, drained, 0);
  await check(`${nodeName(drained)} drained`);
  const undrain = await cl.cli(drained, ['undrain']);
  if (undrain.status !== 0) throw new Error(`aavip undrain failed: ${undrain.stderr}`);
  await waitForSteadyView(cl, 240_000);
  await check(`${nodeName(drained)} undrained`);
  await waitForReals(cl, x.reals.length);
  const report = await judgedBurst(cl, 300, x.reals, say, { phase: 'after the return', rs: x.rs });
  return {
    longLived: allTrue(start),
    resets: lost.size,
    afterReturn: report.perNode,
    failed: report.failed,
    failures: report.failures,
    ...(report.explained ? { explained: report.explained } : {}),
  };
}

/** Waits until node i's daemon holds `count` buckets and nothing is in handover anywhere. */
async function waitForBuckets(cl: ClusterLab, i: number, count: number, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const st = await Promise.all(cl.lab.nodeIds.map((n) => cl.status(n)));
    const mine = st[i - 1]?.vips[0]?.local;
    const settled = st.every((s) => s?.vips.every((v) => !v.local.incoming.length && !v.local.draining.length));
    if (mine && mine.owned.length + mine.incoming.length === count && settled) return;
    if (Date.now() > deadline) throw new Error(`${nodeName(i)} did not come to ${count} buckets within ${timeoutMs} ms`);
    await sleep(1000);
  }
}

/** Restarts every daemon with IPVS sync switched on or off (a configuration change: a restart). */
export async function restartWithSync(x: FaultContext, sync: boolean): Promise<void> {
  const { cl } = x;
  for (const i of cl.lab.nodeIds) await cl.stopDaemon(i, 'SIGTERM');
  const c = cl.readConfig();
  c.lvs = { ...c.lvs, sync: sync ? { enabled: true } : false };
  cl.writeConfig(c);
  for (const i of cl.lab.nodeIds) cl.startDaemon(i);
  await waitForSteadyView(cl, 240_000);
  await waitForReals(cl, x.reals.length);
}
