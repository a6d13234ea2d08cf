// What a scrape reads (the pull side): the daemon's status (the view, the buckets, the counters
// membership keeps), the bucket filter's nft counters, and the ldirectord role's real servers and
// IPVS connections. Every gauge is rebuilt from what is there now, so a VIP or real server gone
// by a reload leaves the output; a part that cannot be read is left out and logged, the rest served.
import type { Counter, Gauge } from 'prom-client';
import type { DaemonStatus } from '../daemon/control-protocol.js';
import type { VipSpec } from '../dataplane/types.js';
import type { Logger } from '../log.js';
import type { Director } from '../lvs/director.js';
import { type BackendConnections, type IpvsConnections, readVipCounters } from './kernel.js';
import { realServerRows } from './lvs.js';
import type { Metrics } from './registry.js';

/** What the metrics read of the daemon (the Daemon itself). */
export interface MetricsSource {
  status(): DaemonStatus;
  vips: readonly { key: string; spec: VipSpec }[];
  director?: unknown;
}

type Row<L extends string> = [Partial<Record<L, string>>, number];

/** Sets a metric to exactly these rows (a counter read from elsewhere takes its value as is). */
export function fill<L extends string>(metric: Gauge<L> | Counter<L>, rows: readonly Row<L>[]): void {
  metric.reset();
  for (const [labels, value] of rows) {
    if ('set' in metric) metric.set(labels, value);
    else metric.inc(labels, value);
  }
}

/** The membership counters' names as refusal reasons (label values). */
const REFUSALS = {
  replayed: 'replayed',
  forged: 'forged',
  truncated: 'truncated',
  malformed: 'malformed',
  unknownSender: 'unknown_sender',
  wrongCluster: 'wrong_cluster',
} as const;

export function fromStatus(m: Metrics, s: DaemonStatus, keys: readonly string[]): void {
  // The split-brain alarm's confirmed duplicates (daemon/split-brain.ts).
  const duplicates = s.splitBrain?.duplicates ?? [];
  fill(
    m.nodeUp,
    s.nodes.map((n) => [{ node: n.name }, n.live ? 1 : 0]),
  );
  fill(
    m.nodeWeight,
    s.nodes.map((n) => [{ node: n.name }, n.weight]),
  );
  m.viewEpoch.set(s.view.epoch);
  m.viewQuorate.set(s.view.quorate ? 1 : 0);
  m.joined.set(s.joined ? 1 : 0);
  fill(m.heartbeatsAccepted, [[{}, s.counters.accepted]]);
  fill(
    m.heartbeatsRefused,
    Object.entries(REFUSALS).map(([k, reason]) => [{ reason }, s.counters[k as keyof typeof REFUSALS]]),
  );
  fill(m.heartbeatErrors, [[{}, s.counters.sendErrors]]);
  fill(m.weightsRefused, [[{}, s.counters.futureStamps]]);
  const vips = s.vips.map((v, i) => ({ ...v, key: keys[i] }));
  fill(
    m.buckets,
    vips.flatMap((v) => Object.entries(v.perNode).map(([node, n]): Row<'vip' | 'node'> => [{ vip: v.key, node }, n])),
  );
  fill(
    m.localBuckets,
    vips.flatMap((v) => (['owned', 'incoming', 'draining'] as const).map((state): Row<'vip' | 'state'> => [{ vip: v.key, state }, v.local[state].length])),
  );
  fill(
    m.kernelApplied,
    vips.map((v) => [{ vip: v.key }, v.kernelApplied ? 1 : 0]),
  );
  fill(
    m.leaseRemaining,
    vips.flatMap((v): Row<'vip'>[] => (v.leaseMs === undefined ? [] : [[{ vip: v.key }, v.leaseMs / 1000]])),
  );
  // The event-fed series of every VIP exist from the first scrape (a rate over them needs a zero).
  for (const vip of keys) m.touchVip(vip);
  fill(
    m.duplicateOwners,
    vips.map((v) => [{ vip: v.key }, duplicates.filter((d) => d.vip === v.key).length]),
  );
}

export async function fromNft(m: Metrics, vips: MetricsSource['vips']): Promise<void> {
  const counters = await readVipCounters(vips.map((v) => v.spec));
  const rows = (field: 'packets' | 'bytes') =>
    vips.flatMap((v) =>
      (['accepted', 'dropped'] as const).flatMap((verdict): Row<'vip' | 'verdict'>[] => {
        const c = counters.get(v.spec)?.[verdict];
        return c ? [[{ vip: v.key, verdict }, c[field]]] : [];
      }),
    );
  fill(m.packets, rows('packets'));
  fill(m.bytes, rows('bytes'));
}

/** The director's real servers, and the IPVS table's connections (`connections`: read only where the role runs). */
export async function fromDirector(m: Metrics, director: Director | undefined, connections: () => Promise<BackendConnections[]>): Promise<void> {
  const reals = director ? realServerRows(director) : [];
  fill(
    m.realUp,
    reals.map((r) => [r.labels, r.up ? 1 : 0]),
  );
  fill(
    m.realWeight,
    reals.flatMap((r): Row<keyof typeof r.labels>[] => (r.weight === null ? [] : [[r.labels, r.weight]])),
  );
  const conns = director ? await connections() : [];
  fill(
    m.ipvsActive,
    conns.map((c) => [c.labels, c.active]),
  );
  fill(
    m.ipvsInactive,
    conns.map((c) => [c.labels, c.inactive]),
  );
  fill(
    m.ipvsWeight,
    conns.map((c) => [c.labels, c.weight]),
  );
}

/** Brings every pulled metric up to date; a part that fails is logged (at most once a minute) and left out. */
export async function refresh(m: Metrics, src: MetricsSource, ipvs: IpvsConnections, log: Logger, warned: Map<string, number>): Promise<void> {
  fromStatus(
    m,
    src.status(),
    src.vips.map((v) => v.key),
  );
  const parts: [string, () => void][] = [
    ['nft counters', () => [m.packets, m.bytes].forEach((c) => c.reset())],
    ['IPVS connections', () => [m.ipvsActive, m.ipvsInactive, m.ipvsWeight].forEach((g) => g.reset())],
  ];
  // Both at once, each settled on its own: a failing one does not hold or lose the other.
  const results = await Promise.allSettled([fromNft(m, src.vips), fromDirector(m, src.director as Director | undefined, () => ipvs.read())]);
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const [what, clear] = parts[i];
    clear();
    const now = Date.now();
    if (now - (warned.get(what) ?? -Infinity) >= 60_000) {
      log.warn({ err: (r.reason as Error).message }, `metrics: cannot read ${what}; left out of this scrape`);
      warned.set(what, now);
    }
  });
}
