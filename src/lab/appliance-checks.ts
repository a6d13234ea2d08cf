// The appliance lab's check phase (must-show 3), with `lvs.checks: shared` (the default): the real
// servers count the checks they receive, on their side (an nft counter per director on each
// server), over a window; then one server is stopped: how long until every director's IPVS has it
// at weight 0, whether a new connection still reaches it, and how long until it is back once
// restarted.
import type { RealServerInfo } from './appliance-report.js';
import { REAL_PORT, type RealServers } from './appliance-servers.js';
import { recordTried } from './appliance-diagnose.js';
import { burst, sleep } from './appliance-steps.js';
import type { ClusterLab } from './cluster-lab.js';
import { nodeName } from './vip-lab.js';

export interface CheckFigures {
  windowS: number;
  checkintervalS: number;
  checktimeoutS: number;
  /** The heartbeat interval: the checker's verdict reaches the other directors in its next heartbeat at the latest. */
  heartbeatMs: number;
  /** Per real server, the checks (connection attempts to its own address) it received in the window, per director. */
  perReal: { name: string; byNode: Record<string, number>; others: number; total: number }[];
  stopped: string;
  /** Per director, ms from the stop until its IPVS had the stopped server at weight 0 (null: not within the wait). */
  quiescedMs: (number | null)[];
  /** New connections sent after every director quiesced it; how many reached it, how many failed. */
  connectionsAfter: number;
  reachedStopped: number;
  failedAfter: number;
  /** Per director, ms from the restarted server listening until its IPVS had it at its weight again. */
  restoredMs: (number | null)[];
}

const TABLE = 'aavip_lab_checks';
/** How long a director's table is polled for a change (the bound asserted is far below). */
const WAIT_MS = 30_000;

/** On server i: a counter per director of the SYNs to the server's own address (clients connect to the VIP, never to it). */
async function countOn(cl: ClusterLab, rs: RealServers, i: number): Promise<void> {
  const syn = `ip daddr ${rs.address(i)} tcp dport ${REAL_PORT} tcp flags & (syn | ack) == syn`;
  const rules = cl.lab.nodeIds.map((n) => `add rule inet ${TABLE} input ${syn} ip saddr ${cl.lab.nodeAddress(n)} counter comment "${nodeName(n)}"`);
  const others = `add rule inet ${TABLE} input ${syn} ip saddr != { ${cl.lab.nodeIds.map((n) => cl.lab.nodeAddress(n)).join(', ')} } counter comment "others"`;
  const script = [
    `add table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `add table inet ${TABLE}`,
    `add chain inet ${TABLE} input { type filter hook input priority 0; policy accept; }`,
    ...rules,
    others,
  ];
  await cl.lab.exec(rs.ns(i), ['nft', '-f', '-'], { input: `${script.join('\n')}\n` });
}

async function countsOn(cl: ClusterLab, rs: RealServers, i: number): Promise<Map<string, number>> {
  const r = await cl.lab.exec(rs.ns(i), ['nft', 'list', 'chain', 'inet', TABLE, 'input']);
  return new Map([...r.stdout.matchAll(/counter packets (\d+) bytes \d+ comment "([^"]+)"/g)].map((m) => [m[2], Number(m[1])]));
}

/** The weight of `address` in node n's IPVS table (undefined: absent). */
async function weightOn(cl: ClusterLab, n: number, address: string): Promise<number | undefined> {
  const r = await cl.lab.execNode(n, ['ipvsadm', '-Ln'], { allowFailure: true });
  const m = r.stdout.match(new RegExp(`->\\s+${address.replace(/\./g, '\\.')}:${REAL_PORT}\\s+\\S+\\s+(\\d+)`));
  return m ? Number(m[1]) : undefined;
}

/** Per node, ms from `t0` until its table has `address` at `weight` (polled; null if not within WAIT_MS). */
async function untilWeight(cl: ClusterLab, address: string, weight: number, t0: number): Promise<(number | null)[]> {
  return Promise.all(
    cl.lab.nodeIds.map(async (n) => {
      while (Date.now() - t0 < WAIT_MS) {
        if ((await weightOn(cl, n, address)) === weight) return Date.now() - t0;
        await sleep(100);
      }
      return null;
    }),
  );
}

export async function sharedChecks(
  x: { cl: ClusterLab; rs: RealServers; reals: RealServerInfo[]; checkintervalS: number; checktimeoutS: number; heartbeatMs: number; say: (m: string) => void },
  windowS = 20,
): Promise<CheckFigures> {
  const { cl, rs, say } = x;
  for (const i of rs.ids) await countOn(cl, rs, i);
  say(`counting the checks the real servers receive for ${windowS} s`);
  await sleep(windowS * 1000);
  const perReal = await Promise.all(
    rs.ids.map(async (i) => {
      const c = await countsOn(cl, rs, i);
      const byNode = Object.fromEntries(cl.lab.nodeIds.map((n) => [nodeName(n), c.get(nodeName(n)) ?? 0]));
      const others = c.get('others') ?? 0;
      return { name: rs.name(i), byNode, others, total: others + Object.values(byNode).reduce((s, k) => s + k, 0) };
    }),
  );
  const victim = 2;
  say(`stopping ${rs.name(victim)}'s server`);
  const t0 = Date.now();
  await rs.stop(victim);
  const quiescedMs = await untilWeight(cl, rs.address(victim), 0, t0);
  const after = await burst(cl, 100, say);
  recordTried(cl, `burst with ${rs.name(victim)} stopped`, after);
  say(`restarting ${rs.name(victim)}'s server`);
  await rs.start(victim);
  // From when it listens again: its own start-up (seconds under emulation) is not the directors' doing.
  const t1 = Date.now();
  const restoredMs = await untilWeight(cl, rs.address(victim), x.reals.find((r) => r.name === rs.name(victim))!.weight, t1);
  for (const i of rs.ids) await cl.lab.exec(rs.ns(i), ['nft', 'delete', 'table', 'inet', TABLE]);
  return {
    windowS,
    checkintervalS: x.checkintervalS,
    checktimeoutS: x.checktimeoutS,
    heartbeatMs: x.heartbeatMs,
    perReal,
    stopped: rs.name(victim),
    quiescedMs,
    connectionsAfter: after.length,
    reachedStopped: after.filter((a) => a.node === rs.name(victim)).length,
    failedAfter: after.filter((a) => !a.node).length,
    restoredMs,
  };
}
