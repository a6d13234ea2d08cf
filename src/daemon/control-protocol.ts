// The control socket's requests and replies: one JSON line each way.
import type { Ownership } from '../dataplane/types.js';
import type { Counters } from '../membership/membership.js';
import type { SyncStatus } from '../appliance/sync.js';
import type { TrackStatus } from '../track/tracker.js';

export type ControlRequest = { cmd: 'status' } | { cmd: 'drain' | 'undrain'; node?: string } | { cmd: 'reload'; file?: string };

export interface DaemonStatus {
  cluster: string;
  pid: number;
  local: { id: number; name: string; weight: number };
  view: { epoch: number; live: number[]; quorate: boolean; since: string };
  joined: boolean;
  /** `weight`: in the view (less what failing tracked services take off); `tracksDown`: those services. */
  nodes: { id: number; name: string; address: string; live: boolean; weight: number; tracksDown: string[] }[];
  /** Live nodes whose configuration decides owners differently (agreement.ts); empty when all agree. */
  disagreeing: string[];
  /** Buckets two live nodes' kernels take at once (split-brain.ts), and how many such were ever raised here. */
  splitBrain: { duplicates: { vip: string; bucket: number; nodes: string[] }[]; raisedTotal: number };
  vips: {
    vip: string;
    backend: string;
    buckets: number;
    seed: number;
    hashmode: string;
    perNode: Record<string, number>;
    local: Ownership;
    /** Nodes left out of this VIP because their parameters for it differ. */
    excluded: string[];
    /** The kernel lease on this node's buckets (ms left), where the backend has leases. */
    leaseMs?: number;
    /** Whether the kernel carries `local` yet (an update can take a while: seconds under emulation). */
    kernelApplied: boolean;
  }[];
  counters: Counters & { sendErrors: number };
  /** The ldirectord role's real servers, when `lvs.config` is set. */
  lvs?: unknown[];
  /** This node's tracked services, when it has any. */
  tracks?: TrackStatus[];
  /** The IPVS connection sync (configured, and what the kernel runs), when `lvs.config` is set. */
  sync?: SyncStatus;
}
