import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApplianceReport } from './appliance-report.js';
import { built } from '../paths.js';
import { type CheckFigures, sharedChecks } from './appliance-checks.js';
import { type DirectorKillFigures, killDirector, restartWithSync, type ReturnFigures, returnAndDrain } from './appliance-faults.js';
import { REAL_PORT, RealServers } from './appliance-servers.js';
import { judgedBurst, waitForReals, waitForSteadyView } from './appliance-steps.js';
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
  /** After the burst: a director killed (sync as set, then off), its return, a drain and an undrain. */
  faults: boolean;
  /**
   * The three nodes are real servers too (plus one separate real server, the first weight): the
   * VIP has a fwmark and the virtual service is on it, so a connection is scheduled once.
   */
  colocated: boolean;
  progress?: (m: string) => void;
}

export const APPLIANCE_DEFAULTS: Omit<ApplianceOptions, 'prefix'> = {
  connections: 600,
  weights: [1, 1, 2, 2],
  intervalMs: 1000,
  deadtimeMs: 15_000,
  sync: true,
  faults: true,
  colocated: false,
};

/** ldirectord's smallest steps, so a check phase is short. */
export const CHECK_INTERVAL_S = 1;
export const CHECK_TIMEOUT_S = 1;

/** The VIP's firewall mark in the co-located variant (`virtual=1` in its ldirectord.cf). */
export const COLOCATED_MARK = 1;

export interface ApplianceResult extends ApplianceReport {
  options: Omit<ApplianceOptions, 'progress'>;
  /** The director killed with the configured sync, and (when that was on) again with sync off. */
  directorKill?: DirectorKillFigures[];
  /** The killed node's return, then its drain and undrain, under the same connections. */
  returned?: ReturnFigures;
  /** Shared checks counted on the real servers, and a real server stopped and restarted. */
  realChecks?: CheckFigures;
  seconds: number;
}

/**
 * One virtual service, `gate`, `wrr`, a connect check every second:
 * on the VIP, or on the VIP's firewall mark when the directors are real servers too.
 */
export function ldirectordCf(reals: { address: string; weight: number }[], mark?: number): string {
  return [
    `checkinterval=${CHECK_INTERVAL_S}`,
    `checktimeout=${CHECK_TIMEOUT_S}`,
    'quiescent=yes',
    mark !== undefined ? `virtual=${mark}` : `virtual=${VIP_ADDRESS}:${REAL_PORT}`,
    ...reals.map((r) => `\treal=${r.address}:${REAL_PORT} gate ${r.weight}`),
    '\tchecktype=connect',
    '\tscheduler=wrr',
    mark !== undefined ? '\tprotocol=fwm' : '\tprotocol=tcp',
    '',
  ].join('\n');
}

export async function runAppliance(o: ApplianceOptions): Promise<ApplianceResult> {
  const t0 = Date.now();
  const say = o.progress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), `aavip-${o.prefix}-lvs-`));
  let cl: ClusterLab | undefined;
  let rs: RealServers | undefined;
  try {
    const cf = join(dir, 'ldirectord.cf');
    say(`building: switch, client, 3 nodes, ${o.weights.length} real servers (namespaces ${o.prefix}-*)`);
    const mark = o.colocated ? COLOCATED_MARK : undefined;
    cl = await ClusterLab.create({
      prefix: o.prefix,
      intervalMs: o.intervalMs,
      deadtimeMs: o.deadtimeMs,
      lvs: { config: cf, ...(o.sync ? {} : { sync: false }) },
      ...(mark !== undefined ? { fwmark: mark } : {}),
    });
    rs = await RealServers.create(cl.lab, o.colocated ? 1 : o.weights.length, VIP_ADDRESS);
    const reals = rs.ids.map((i) => ({ name: rs!.name(i), address: rs!.address(i), weight: o.weights[i - 1] }));
    if (o.colocated) {
      // Each node serves the VIP's port itself (the VIP is already its own address).
      for (const i of cl.lab.nodeIds) {
        const child = cl.lab.spawn(cl.lab.nodeNs(i), [process.execPath, built('lab/responder.js'), nodeName(i), String(REAL_PORT)]);
        await once(child.stdout!, 'data');
        reals.unshift({ name: nodeName(i), address: cl.lab.nodeAddress(i), weight: 1 });
      }
      reals.sort((a, b) => a.name.localeCompare(b.name));
    }
    writeFileSync(cf, ldirectordCf(reals, mark));
    const nodes = cl.lab.nodeIds;
    for (const i of nodes) cl.startDaemon(i);
    await waitForSteadyView(cl, 180_000);
    await waitForReals(cl, reals.length);
    say('all nodes joined, every real server in IPVS; sending connections');
    const report = await judgedBurst(cl, o.connections, reals, say, { mark, phase: 'first burst', rs });
    const { progress: _, ...options } = o;
    if (!o.faults || o.colocated) return { ...report, options, seconds: (Date.now() - t0) / 1000 };
    const realChecks = await sharedChecks({ cl, rs, reals, checkintervalS: CHECK_INTERVAL_S, checktimeoutS: CHECK_TIMEOUT_S, heartbeatMs: o.intervalMs, say });
    const x = { cl, rs, reals, deadtimeMs: o.deadtimeMs, say };
    const victim = 3;
    const first = await killDirector(x, victim, o.sync, 101);
    const returned = await returnAndDrain(x, first.held, victim);
    await first.held.close();
    const directorKill = [first.figures];
    if (o.sync) {
      say('restarting every daemon with IPVS sync off (lvs.sync: false), to compare');
      await restartWithSync(x, false);
      const second = await killDirector(x, victim, false, 202);
      await second.held.close();
      directorKill.push(second.figures);
    }
    return { ...report, options, realChecks, directorKill, returned, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await rs?.destroy();
    await cl?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
