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
  /**
   * The firewall mark set on the client packets this node takes (nft backend). With it the IPVS
   * virtual service is defined on the mark (`virtual=N` in ldirectord.cf), and a packet another
   * director forwarded here — to this node's own MAC, not the cluster MAC — reaches the local
   * service unmarked: neither hashed nor scheduled a second time (directors that are real servers).
   */
  fwmark?: number;
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

/**
 * A bucket lease: the kernel stops serving the buckets by itself `ms` milliseconds after they were
 * last applied or renewed, so a daemon that dies without a word (SIGKILL, a crash, a hang) stops
 * answering before its peers take its buckets over: never two owners. Without a lease (aavip vip
 * apply by hand, the OCF agent) the buckets are served until changed.
 * Only the nft backend can lease (map elements with a timeout). CLUSTERIP's local nodes and
 * xt_cluster's rules have no expiry in the kernel: those backends cannot lapse, so a caller that
 * needs the guarantee must fence such a node another way (Dataplane.leases says which).
 */
export interface Lease {
  ms: number;
  /**
   * What is left of it now (ms), when the write comes well after the grant (a full apply reads
   * the kernel back first): the kernel starts the timeout at the commit, so the time spent reading
   * must come off it, or a process held up meanwhile would serve past its peers' takeover.
   */
  left?: () => number;
}

/** The lease to write now: what is left of it (at least 1 ms: a lease, not none). */
export const leaseToWrite = (l: Lease | undefined): Lease | undefined => (l?.left ? { ms: Math.max(1, Math.floor(Math.min(l.ms, l.left()))) } : l);

/** What aavip finds in the kernel for a VIP (undefined fields: not present). */
export interface VipState {
  addressPresent: boolean;
  macJoined: boolean;
  /**
   * The buckets the kernel serves now. Leased buckets that lapsed are gone from the kernel and so
   * from here: an expired bucket reads as not owned.
   */
  ownership?: Ownership;
  /** True if the buckets are on a lease (nft), i.e. will lapse unless renewed. */
  leased?: boolean;
  /** The bucket count the kernel's rules hash into, if there are rules that say (the one source of truth). */
  buckets?: number;
}

export interface Dataplane {
  readonly backend: Backend;
  /** Whether this backend's buckets can be leased (nft); clusterip and xt_cluster cannot lapse. */
  readonly leases: boolean;
  /**
   * Reconcile the kernel to carry `vip` with `ownership`; applying twice changes nothing. With a
   * lease the buckets are (re)written with a fresh one each time; without, they never lapse (and
   * a lease left by an earlier apply is lifted). Backends without leases ignore `lease`.
   */
  apply(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<void>;
  /**
   * The fast path for a caller that fully applied `vip` before and since changed only the
   * ownership: one kernel transaction, nothing read back. False if this backend has no such path
   * (the caller then applies in full); throws if the kernel refused, e.g. the table is gone.
   */
  applyOwnership(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<boolean>;
  /**
   * Renews the lease on `ownership` (the buckets as last applied) for `leaseMs`: one kernel
   * transaction that replaces the buckets with freshly leased ones, nothing read back, no process
   * spawned where the native addon has libnftables (a heartbeat's cost: bench/nft-renew.ts).
   * False if this backend cannot lease (clusterip, xt_cluster: nothing done); throws if the kernel
   * refused, e.g. the table is gone (the caller then applies in full).
   */
  renew(vip: VipSpec, ownership: Ownership, leaseMs: number): Promise<boolean>;
  /** What is in the kernel for `vip` now. */
  read(vip: VipSpec): Promise<VipState>;
  /**
   * The buckets whose new connections the kernel takes now (owned and incoming), read from it
   * cheaply enough for every heartbeat interval (`cheap`: in-process), so a node says what it
   * really serves, edits behind its back included. Undefined where the backend cannot.
   */
  taking?: { read(vip: VipSpec): Promise<number[]>; cheap: boolean };
  /** Remove exactly what apply added; removing twice is fine. */
  remove(vip: VipSpec): Promise<void>;
}
