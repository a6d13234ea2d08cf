// A real server's health as ldirectord keeps it, as a pure state machine: the state, one
// observation (a check's result, or a maintenancedir entry), the virtual's settings and the time
// give the next state and what IPVS should do about it. The director runs the checks, reads the
// maintenance directory and writes IPVS; every decision is here.
import type { CheckResult } from './checks/checks.js';
import { desiredService, destinationAddress, type IpvsServiceState } from './config/desired.js';
import {
  effective,
  type Checktype,
  type EffectiveSettings,
  type LdirectordConfig,
  type Protocol,
  type RealServer,
  type VirtualService,
} from './config/model.js';

export interface RealState {
  up: boolean;
  /** Consecutive failed checks while up (ldirectord's soft failures). */
  failcount: number;
  /** Rounds of plain connect left before the next negotiate (combined checktype). */
  connectRoundsLeft: number;
  message: string;
  checkedAt?: string;
}

export const initialRealState = (): RealState => ({ up: false, failcount: 0, connectRoundsLeft: 0, message: 'not checked yet' });

/** The probes a check runner knows. */
export type CheckHow = 'connect' | 'ping' | 'external' | 'negotiate';

/**
 * What this round asks for: a probe, `on` (up without a probe) or `off` (never checked, never
 * up). A combined checktype negotiates, then connects for N rounds while the real stays up.
 */
export function checkToRun(st: RealState, checktype: Checktype, protocol: Protocol): CheckHow | 'on' | 'off' {
  switch (checktype.kind) {
    case 'off':
    case 'on':
      return checktype.kind;
    case 'combined':
      return st.connectRoundsLeft > 0 && st.up ? 'connect' : 'negotiate';
    case 'connect':
      return protocol === 'udp' ? 'ping' : 'connect';
    case 'external-perl':
      return 'external';
    default:
      return checktype.kind;
  }
}

/** What was seen of a real this round. Maintenance is its own input: a file named for the real exists. */
export type Observation = { kind: 'maintenance' } | { kind: 'checked'; how: CheckHow | 'on'; result: CheckResult };

/** The settings of the real's virtual that the state machine reads. */
export interface RealPolicy {
  checktype: Checktype;
  failurecount: number;
  quiescent: boolean;
  /** The real's configured weight. */
  weight: number;
}

/** The policy of a real of `v`, given the virtual's effective settings (computed once per virtual). */
export const realPolicy = (v: VirtualService, e: EffectiveSettings, r: RealServer): RealPolicy => ({
  checktype: v.checktype,
  failurecount: e.failurecount,
  quiescent: e.quiescent,
  weight: r.weight,
});

/** The change a transition asks of the real's IPVS entry. */
export type RealEffect =
  | { kind: 'none' }
  | { kind: 'set-weight'; weight: number }
  /** Kept in the table at weight 0 (quiescent). */
  | { kind: 'quiesce' }
  | { kind: 'remove' };

/** What the director logs about a transition. */
export type RealEvent =
  | { kind: 'restored' }
  | { kind: 'soft-failure'; failcount: number; failurecount: number }
  | { kind: 'soft-failure-reset' }
  | { kind: 'down'; forced: boolean };

export interface Transition {
  state: RealState;
  effect: RealEffect;
  event?: RealEvent;
}

const MAINTENANCE: CheckResult = { up: false, message: 'Server in maintenance' };

/** The next state after one observation at `now`. */
export function observe(prev: RealState, obs: Observation, policy: RealPolicy, now: Date): Transition {
  if (policy.checktype.kind === 'off') return { state: prev, effect: { kind: 'none' } };
  const result = obs.kind === 'maintenance' ? MAINTENANCE : obs.result;
  const st: RealState = { ...prev, message: result.message, checkedAt: now.toISOString() };
  if (obs.kind === 'checked' && policy.checktype.kind === 'combined') {
    st.connectRoundsLeft = obs.how === 'negotiate' ? (result.up ? policy.checktype.connectRounds : 0) : result.up ? prev.connectRoundsLeft - 1 : 0;
  }
  if (result.up) {
    st.failcount = 0;
    if (!prev.up) return { state: { ...st, up: true }, effect: { kind: 'set-weight', weight: policy.weight }, event: { kind: 'restored' } };
    return { state: st, effect: { kind: 'none' }, event: prev.failcount > 0 ? { kind: 'soft-failure-reset' } : undefined };
  }
  if (!prev.up) return { state: st, effect: { kind: 'none' } };
  st.failcount = prev.failcount + 1;
  // A real in maintenance goes down at once; a failed check only after failurecount in a row.
  const forced = obs.kind === 'maintenance';
  if (st.failcount < policy.failurecount && !forced) {
    return { state: st, effect: { kind: 'none' }, event: { kind: 'soft-failure', failcount: st.failcount, failurecount: policy.failurecount } };
  }
  return { state: { ...st, up: false }, effect: { kind: policy.quiescent ? 'quiesce' : 'remove' }, event: { kind: 'down', forced } };
}

/**
 * The state adopted at start from the live table: a real present with weight > 0 is up, as
 * ldirectord's start leaves it (without its add/remove churn). checktype=off reals are never up.
 */
export function adopt(prev: RealState, liveWeight: number | undefined, checktype: Checktype): RealState {
  const up = checktype.kind !== 'off' && liveWeight !== undefined && liveWeight > 0;
  return { ...prev, up, message: up ? 'adopted from the IPVS table' : prev.message };
}

/**
 * The weight a real's state asks of the table, or undefined for absent: up → its weight; down →
 * weight 0 with quiescent if it is in the table (or always, with readdquiescent), else absent.
 */
export function tableWeight(st: RealState, policy: RealPolicy, where: { inTable: boolean; readdquiescent: boolean }): number | undefined {
  if (st.up) return policy.weight;
  return policy.quiescent && (where.inTable || where.readdquiescent) ? 0 : undefined;
}

/** A real's key within its virtual: its kernel address. */
export const realKey = (v: VirtualService, r: RealServer) => destinationAddress(v, r.address, r.port, r.forwarding);

/**
 * The table one virtual's real states ask for. The fallback is in exactly while no real is up
 * (an up real configured with weight 0 still keeps it out). A quiesced real has no thresholds:
 * ldirectord quiesces (and re-adds) with `ipvsadm -e|-a ... -w 0`, without -x/-y, which sets both to 0.
 */
export function virtualTable(
  v: VirtualService,
  config: LdirectordConfig,
  stateOf: (r: RealServer) => RealState,
  inTable: ReadonlySet<string>,
): IpvsServiceState {
  const readdquiescent = config.globals.readdquiescent;
  const e = effective(v, config.globals);
  const upKeys = new Set<string>();
  for (const r of v.realServers) if (stateOf(r).up) upKeys.add(realKey(v, r));
  const s = desiredService(
    v,
    config,
    (r) => tableWeight(stateOf(r), realPolicy(v, e, r), { inTable: inTable.has(realKey(v, r)), readdquiescent }),
    upKeys.size > 0,
  );
  for (const d of s.realServers)
    if (!d.fallback && !upKeys.has(d.address)) {
      d.lower = 0;
      d.upper = 0;
    }
  return s;
}

export type FallbackVerb = 'start' | 'stop';

/**
 * The fallbackcommand verb due now, or undefined: `start` when no real is up, `stop` when one is
 * again, each once per change; never `stop` before a `start`.
 */
export function fallbackCommandDue(last: FallbackVerb | undefined, anyUp: boolean): FallbackVerb | undefined {
  const verb: FallbackVerb = anyUp ? 'stop' : 'start';
  if (last === verb || (verb === 'stop' && last === undefined)) return undefined;
  return verb;
}
