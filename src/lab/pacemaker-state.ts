// What the Pacemaker lab reads back (pure): `crm_mon --output-as=xml` as data, and the outage
// figures of a crash under client load.
import type { TimedAttempt } from './load.js';

export interface ResourceState {
  id: string;
  agent: string;
  role: string;
  nodes: string[];
  failed: boolean;
}
/** A failed action as crm_mon shows it (with the agent's exit reason). */
export interface FailedAction {
  opKey: string;
  node: string;
  exitReason: string;
  exitCode: number;
}
export interface ClusterState {
  dc: boolean;
  dcName?: string;
  online: string[];
  resources: ResourceState[];
  failures: FailedAction[];
}

const attr = (tag: string, name: string) => tag.match(new RegExp(`(?:^|\\s)${name}="([^"]*)"`))?.[1] ?? '';
const unescape = (s: string) =>
  s
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** What `crm_mon -1 -X` reports, in the parts the lab uses. Pure. */
export function parseCrmMon(xmlText: string): ClusterState {
  const online = [...xmlText.matchAll(/<node name="([^"]+)"[^>]*\sonline="true"/g)].map((m) => m[1]).sort();
  const resources: ResourceState[] = [];
  for (const m of xmlText.matchAll(/<resource (id="[^"]*"[^>]*?)(\/>|>([\s\S]*?)<\/resource>)/g)) {
    const tag = m[1];
    resources.push({
      id: attr(tag, 'id'),
      agent: attr(tag, 'resource_agent'),
      role: attr(tag, 'role'),
      failed: attr(tag, 'failed') === 'true',
      nodes: [...(m[3] ?? '').matchAll(/<node name="([^"]+)"/g)].map((n) => n[1]),
    });
  }
  const failures = [...xmlText.matchAll(/<failure ([^>]*)\/>/g)].map((m) => ({
    opKey: attr(m[1], 'op_key'),
    node: attr(m[1], 'node'),
    exitReason: unescape(attr(m[1], 'exitreason')),
    exitCode: Number(attr(m[1], 'exitcode')),
  }));
  const dc = xmlText.match(/<current_dc present="true"[^>]*>/)?.[0];
  return { dc: dc !== undefined, dcName: dc ? attr(dc, 'name') : undefined, online, resources, failures };
}

/** A crash under client load: when it happened, when Pacemaker had recovered, and every connection. */
export interface CrashRun {
  crashedAt: number;
  recoveredAt: number;
  attempts: TimedAttempt[];
  crashedDc: boolean;
}

export interface OutageFigures {
  /** From the crash to the first connection in the lost part that a survivor answered. */
  outageMs: number;
  /** From the crash to Pacemaker reporting the recovery (crm_mon on a survivor). */
  pacemakerMs: number;
  lostAttempts: number;
  /** Connections that failed outside the lost part, or inside it after the outage: both should be 0. */
  failedElsewhere: number;
  failedAfterRecovery: number;
}

/**
 * The outage a crash caused to the part of the traffic that the crashed node served (`lost`
 * picks those connections, e.g. by bucket). Pure.
 */
export function outageFigures(r: CrashRun, lost: (a: TimedAttempt) => boolean): OutageFigures {
  const after = r.attempts.filter((a) => a.start >= r.crashedAt);
  const firstBack = after.find(
    (a) => lost(a) && a.node !== undefined && r.attempts.some((f) => lost(f) && f.node === undefined && f.start >= r.crashedAt && f.start < a.start),
  );
  // Back when that answer came: an attempt begun during the outage may get through on a SYN
  // retransmit once the instance is up, while others begun after it had already failed.
  const backAt = firstBack?.end ?? Number.NaN;
  return {
    outageMs: backAt - r.crashedAt,
    pacemakerMs: r.recoveredAt - r.crashedAt,
    lostAttempts: r.attempts.filter((a) => lost(a) && a.node === undefined).length,
    failedElsewhere: r.attempts.filter((a) => !lost(a) && a.node === undefined).length,
    failedAfterRecovery: r.attempts.filter((a) => lost(a) && a.node === undefined && a.start >= backAt).length,
  };
}
