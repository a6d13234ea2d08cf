// The Dataplane for a backend: the backend's bucket rules, plus what every backend needs around
// them — the VIP address, the cluster MAC joined on the NIC, ARP mangling where the backend lacks
// it, and gratuitous ARP when the address appears. Order matters: rules go in before the address
// (so the node never accepts buckets it does not own), and the address goes first on removal.
import { formatAddress } from '../hash/flow.js';
import { log } from '../log.js';
import { nativeNftQuery, nativeNftRun, sendGratuitousArp } from '../native.js';
import { run } from '../exec.js';
import { mechanismOf } from './backend.js';
import { parseTableState } from './nft-state.js';
import { sendUnsolicitedAdverts } from './nd-announce.js';
import { executeClusterip, planClusterip, planClusteripRemove, readClusterip, requireClusterip, servedBuckets } from './clusterip.js';
import { addAddress, hasAddress, joinedMacs, joinMac, leaveMac, removeAddress, interfaceIndex, interfaceMac } from './link.js';
import {
  arpComment,
  nftApply,
  planNft,
  readArpTable,
  readNftTable,
  nftFamily,
  renderArpDelete,
  renderArpTable,
  renderDelete,
  nftTableName,
  ndComment,
  readNdComment,
  renderNdTable,
  renderOwnership,
} from './nft.js';
import { type Backend, type BackendChoice, type Dataplane, type Lease, leaseToWrite, type Ownership, type VipSpec, type VipState } from './types.js';
import { executeXt, planXt, planXtRemove, readXt, servedFromRules, totalFromRules } from './xtcluster.js';

/** What the kernel's rules say of a VIP's buckets. */
interface RulesState {
  ownership: Ownership;
  leased?: boolean;
  buckets?: number;
}

interface Rules {
  /** Makes the kernel's rules match; returns nothing. Backends without leases ignore `lease`. */
  apply(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<void>;
  read(vip: VipSpec): Promise<RulesState | undefined>;
  remove(vip: VipSpec): Promise<void>;
  /** Only the bucket sets, assuming the rest is in place (see Dataplane.applyOwnership). */
  applyOwnership?(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<void>;
  /** Whether buckets can be leased (applyOwnership then honours `lease`). */
  leases: boolean;
  /** Whether aavip must join the MAC and mangle ARP itself. */
  ownsLinkLayer: boolean;
  /** See Dataplane.taking. */
  taking?: Dataplane['taking'];
}

/** The fast path's runner: libnftables in this process when the addon has it, else `nft -f -`. */
async function nftFast(script: string): Promise<void> {
  const native = nativeNftRun();
  if (!native) return nftApply(script);
  await native(script).catch((e: Error) => {
    throw new Error(`nft (libnftables) refused the transaction: ${e.message.trim()}`);
  });
}

const nftRules: Rules = {
  ownsLinkLayer: true,
  leases: true,
  async apply(vip, ownership, lease) {
    const nodeMac = vip.address.family === 6 ? await interfaceMac(vip.interface) : undefined;
    const current = await readNftTable(vip);
    const plan = planNft(vip, ownership, current, nodeMac, leaseToWrite(lease));
    if (plan) await nftApply(plan);
  },
  async read(vip) {
    return readNftTable(vip);
  },
  async remove(vip) {
    await nftApply(renderDelete(vip));
  },
  // The map's elements replaced in one transaction; it fails, changing nothing, if the table is gone.
  async applyOwnership(vip, ownership, lease) {
    await nftFast(renderOwnership(vip, ownership, leaseToWrite(lease)));
  },
  taking: { read: nftTaking, cheap: nativeNftQuery() !== undefined },
};

/** The buckets the VIP's map sends to `own` or `incoming`, listed in-process when the addon can ([] without a table). */
async function nftTaking(vip: VipSpec): Promise<number[]> {
  const command = `list map ${nftFamily(vip)} ${nftTableName(vip)} buckets`;
  const query = nativeNftQuery();
  const text = query
    ? await query(command).catch(() => undefined)
    : await run('nft', ['-j', ...command.split(' ')], { allowFailure: true }).then((r) => (r.status === 0 ? r.stdout : undefined));
  if (text === undefined) return [];
  return servedBuckets(parseTableState(JSON.parse(text)).ownership);
}

// CLUSTERIP's local nodes and xt_cluster's rules have no expiry in the kernel: no leases.
const clusteripRules: Rules = {
  ownsLinkLayer: false,
  leases: false,
  async apply(vip, ownership) {
    await requireClusterip();
    await executeClusterip(vip, planClusterip(vip, servedBuckets(ownership), await readClusterip(vip)));
  },
  async read(vip) {
    const s = await readClusterip(vip);
    return s.rule === undefined ? undefined : { ownership: { owned: s.localNodes, incoming: [], draining: [] }, buckets: s.totalNodes };
  },
  async remove(vip) {
    await executeClusterip(vip, planClusteripRemove(vip, await readClusterip(vip)));
  },
};

const xtRules: Rules = {
  ownsLinkLayer: true,
  leases: false,
  async apply(vip, ownership) {
    await executeXt(planXt(vip, servedBuckets(ownership), await readXt(vip)));
    if (vip.address.family === 4) {
      if ((await readArpTable(vip)) !== arpComment(vip)) await nftApply(renderArpDelete(vip) + renderArpTable(vip));
    } else {
      const nodeMac = await interfaceMac(vip.interface);
      if ((await readNdComment(vip)) !== ndComment(vip, nodeMac)) await nftApply(renderDelete(vip) + renderNdTable(vip, nodeMac));
    }
  },
  async read(vip) {
    const s = await readXt(vip);
    if (!s.chain) return undefined;
    return { ownership: { owned: servedFromRules(s.rules), incoming: [], draining: [] }, buckets: totalFromRules(s.rules) };
  },
  // iptables -S: a process each time, so read less often than nft's map (split-brain.ts).
  taking: { read: async (vip) => ((s) => (s.chain ? [...new Set(servedFromRules(s.rules))] : []))(await readXt(vip)), cheap: false },
  async remove(vip) {
    await executeXt(planXtRemove(vip, await readXt(vip)));
    await nftApply(vip.address.family === 4 ? renderArpDelete(vip) : renderDelete(vip));
  },
};

const RULES: Record<Backend, Rules> = { nft: nftRules, clusterip: clusteripRules, xt_cluster: xtRules };

class VipDataplane implements Dataplane {
  readonly leases: boolean;
  readonly taking?: Dataplane['taking'];
  constructor(
    readonly backend: Backend,
    private readonly rules: Rules,
    private readonly arpCount: number,
  ) {
    this.leases = rules.leases;
    this.taking = rules.taking;
  }

  async apply(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<void> {
    await interfaceIndex(vip.interface); // refuse an unknown interface before touching anything
    await this.rules.apply(vip, ownership, lease);
    if (this.rules.ownsLinkLayer) await joinMac(vip.interface, vip.mac);
    const fresh = !(await hasAddress(vip.interface, vip.address, vip.prefixLength));
    await addAddress(vip.interface, vip.address, vip.prefixLength);
    if (fresh && vip.address.family === 4) {
      try {
        if (this.arpCount > 0) sendGratuitousArp(vip.interface, formatAddress(vip.address), vip.mac, this.arpCount);
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'gratuitous ARP failed');
      }
    }
    if (fresh && vip.address.family === 6 && this.arpCount > 0) {
      // IPv6's gratuitous ARP: unsolicited neighbour advertisements with the cluster MAC.
      await sendUnsolicitedAdverts(vip, await interfaceIndex(vip.interface), this.arpCount).catch((e) =>
        log.warn({ err: (e as Error).message }, 'unsolicited neighbour advertisement failed'),
      );
    }
  }

  async applyOwnership(vip: VipSpec, ownership: Ownership, lease?: Lease): Promise<boolean> {
    if (!this.rules.applyOwnership) return false;
    await this.rules.applyOwnership(vip, ownership, lease);
    return true;
  }

  async renew(vip: VipSpec, ownership: Ownership, leaseMs: number): Promise<boolean> {
    if (!this.rules.leases || !this.rules.applyOwnership) return false;
    await this.rules.applyOwnership(vip, ownership, { ms: leaseMs });
    return true;
  }

  async read(vip: VipSpec): Promise<VipState> {
    const rules = await this.rules.read(vip);
    const addressPresent = await hasAddress(vip.interface, vip.address, vip.prefixLength);
    const macJoined = this.rules.ownsLinkLayer ? (await joinedMacs(vip.interface)).includes(vip.mac) : rules !== undefined;
    return {
      addressPresent,
      macJoined,
      ownership: rules?.ownership,
      ...(rules?.leased ? { leased: true } : {}),
      ...(rules?.buckets ? { buckets: rules.buckets } : {}),
    };
  }

  async remove(vip: VipSpec): Promise<void> {
    await removeAddress(vip.interface, vip.address, vip.prefixLength);
    await this.rules.remove(vip);
    if (this.rules.ownsLinkLayer) await leaveMac(vip.interface, vip.mac);
  }
}

/** The backend `choice` runs on here: `auto` resolved for this kernel (backend.ts, probed once per process). */
export async function resolveBackend(choice: BackendChoice): Promise<Backend> {
  return mechanismOf({ backend: choice });
}

export interface DataplaneOptions {
  /** Gratuitous ARP request+reply pairs sent when the VIP address appears (IPaddr2's arp_count). */
  arpCount?: number;
}

export async function createDataplane(choice: BackendChoice, opts: DataplaneOptions = {}): Promise<Dataplane> {
  const backend = await resolveBackend(choice);
  return new VipDataplane(backend, RULES[backend], opts.arpCount ?? 2);
}

export { nftTableName };
export { mechanismOf } from './backend.js';
