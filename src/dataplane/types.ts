// What the rest of aavip asks of a dataplane backend: make the kernel carry a VIP and accept
// exactly the buckets this node owns. Backends live beside this file (nft, clusterip, xt_cluster).
import type { Address } from '../hash/flow.js';
import type { Hashmode } from '../hash/hashmode.js';
import type { Mechanism } from '../hash/mechanisms.js';

export type Backend = Mechanism; // 'nft' | 'clusterip' | 'xt_cluster'
/** As configured: `auto` picks nft where the kernel has it, else clusterip. */
export type BackendChoice = Backend | 'auto';

export interface VipSpec {
  /** The VIP address and its prefix length (the prefix is required: 198.18.0.100/24). */
  address: Address;
  prefixLength: number;
  /** The interface carrying the VIP (must exist). */
  interface: string;
  /** The cluster's multicast MAC, lower-case colon form (01:00:5e:..). */
  mac: string;
  hashmode: Hashmode;
  seed: number;
  /** Bucket count: CLUSTERIP's total_nodes. */
  buckets: number;
  backend: BackendChoice;
}

/**
 * This node's share of one VIP's buckets (1-based bucket numbers; the three sets are disjoint).
 * - owned: serve everything in these buckets.
 * - incoming: taken over from a live node that is still draining them: serve new connections
 *   and the ones this node already has, drop the old owner's.
 * - draining: handed over to a live node: keep serving the connections already here, refuse new ones.
 * Backends that cannot express handover (clusterip, xt_cluster) treat incoming as owned and
 * draining as not owned.
 */
export interface Ownership {
  owned: number[];
  incoming: number[];
  draining: number[];
}

export const noBuckets = (): Ownership => ({ owned: [], incoming: [], draining: [] });

/** What aavip finds in the kernel for a VIP (undefined fields: not present). */
export interface VipState {
  addressPresent: boolean;
  macJoined: boolean;
  ownership?: Ownership;
}

export interface Dataplane {
  readonly backend: Backend;
  /** Reconcile the kernel to carry `vip` with `ownership`; applying twice changes nothing. */
  apply(vip: VipSpec, ownership: Ownership): Promise<void>;
  /**
   * The fast path for a caller that fully applied `vip` before and since changed only the
   * ownership: one kernel transaction, nothing read back. False if this backend has no such path
   * (the caller then applies in full); throws if the kernel refused, e.g. the table is gone.
   */
  applyOwnership(vip: VipSpec, ownership: Ownership): Promise<boolean>;
  /** What is in the kernel for `vip` now. */
  read(vip: VipSpec): Promise<VipState>;
  /** Remove exactly what apply added; removing twice is fine. */
  remove(vip: VipSpec): Promise<void>;
}
