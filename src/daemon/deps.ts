// What the daemon is plugged into: its clock, transport, data plane and drain accounting are
// parameters (service.ts wires the real ones; the scenario tests a simulated world).
import type { Dataplane, Ownership, VipSpec } from '../dataplane/types.js';
import type { Logger } from '../log.js';
import type { RealId } from '../lvs/check-share.js';
import type { leaseMs } from '../membership/lease.js';
import type { View } from '../membership/membership.js';
import type { TrackVerdict } from '../track/state.js';
import type { Clock } from './clock.js';
import type { Transport } from './transport.js';

/** The ldirectord role as the daemon runs it (src/lvs/director.ts), its checks shared or not (check-sharing.ts). */
export interface DirectorRole {
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): unknown[];
  realIds(): readonly RealId[];
  setShare(here: (id: RealId) => boolean): void;
  verdicts(): ReadonlyMap<RealId, boolean>;
  adopt(verdicts: ReadonlyMap<RealId, boolean>, by: string): Promise<void> | undefined;
}

export interface DaemonDeps {
  clock: Clock;
  transport: Transport;
  dataplane: (spec: VipSpec) => Promise<Dataplane>;
  /** Open flows per bucket of a VIP on this node (what ends a drain). */
  openFlows: (spec: VipSpec) => Promise<Map<number, number>>;
  incarnation: number;
  log: Logger;
  /** The lease rule (lease.ts); replaceable so a test can show what a broken one lets through. */
  leaseRule?: typeof leaseMs;
  /** Who hears of view and ownership changes besides the log (notify hooks). */
  events?: DaemonEvents;
}

export interface DaemonEvents {
  view(before: View, view: View, name: (id: number) => string): void;
  ownership(vip: string, change: { gained: number[]; lost: number[]; owned: number }): void;
  track?(v: TrackVerdict): void;
  /** A kernel update of a VIP ended (vip-applier.ts): how it went and how long it took (metrics). */
  applied?(vip: string, update: AppliedUpdate): void;
}

/** One kernel update of a VIP's ownership, as the applier saw it; `at` is on the daemon's monotonic clock. */
export interface AppliedUpdate {
  path: 'fast' | 'full' | 'renew';
  ok: boolean;
  ms: number;
  at: number;
  ownership: Ownership;
}
