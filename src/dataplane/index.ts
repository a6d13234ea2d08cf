// The Dataplane for a backend: the backend's bucket rules, plus what every backend needs around
// them — the VIP address, the cluster MAC joined on the NIC, ARP mangling where the backend lacks
// it, and gratuitous ARP when the address appears. Order matters: rules go in before the address
// (so the node never accepts buckets it does not own), and the address goes first on removal.
import { formatAddress } from '../hash/flow.js';
import { log } from '../log.js';
import { sendGratuitousArp } from '../native.js';
import { sendUnsolicitedAdverts } from './nd-announce.js';
import { executeClusterip, planClusterip, planClusteripRemove, readClusterip, requireClusterip, servedBuckets } from './clusterip.js';
import { run } from './exec.js';
import { addAddress, hasAddress, joinedMacs, joinMac, leaveMac, removeAddress, interfaceIndex, interfaceMac } from './link.js';
import { arpComment, nftApply, planNft, readArpTable, readNftTable, renderArpDelete, renderArpTable, renderDelete, nftTableName, ndComment, readNdComment, renderNdTable, renderOwnership } from './nft.js';
import type { Backend, BackendChoice, Dataplane, Ownership, VipSpec, VipState } from './types.js';
import { executeXt, planXt, planXtRemove, readXt, servedFromRules } from './xtcluster.js';

interface Rules {
  /** Makes the kernel's rules match; returns nothing. */
  apply(vip: VipSpec, ownership: Ownership): Promise<void>;
  read(vip: VipSpec): Promise<Ownership | undefined>;
  remove(vip: VipSpec): Promise<void>;
  /** Only the bucket sets, assuming the rest is in place (see Dataplane.applyOwnership). */
  applyOwnership?(vip: VipSpec, ownership: Ownership): Promise<void>;
  /** Whether aavip must join the MAC and mangle ARP itself. */
  ownsLinkLayer: boolean;
}

const nftRules: Rules = {
  ownsLinkLayer: true,
  async apply(vip, ownership) {
    const nodeMac = vip.address.family === 6 ? await interfaceMac(vip.interface) : undefined;
    const plan = planNft(vip, ownership, await readNftTable(vip), nodeMac);
    if (plan) await nftApply(plan);
  },
  async read(vip) { return (await readNftTable(vip))?.ownership; },
  async remove(vip) { await nftApply(renderDelete(vip)); },
  // The map's elements replaced in one transaction; it fails, changing nothing, if the table is gone.
  async applyOwnership(vip, ownership) { await nftApply(renderOwnership(vip, ownership)); },
};

const clusteripRules: Rules = {
  ownsLinkLayer: false,
  async apply(vip, ownership) {
    await requireClusterip();
    await executeClusterip(vip, planClusterip(vip, servedBuckets(ownership), await readClusterip(vip)));
  },
  async read(vip) {
    const s = await readClusterip(vip);
    return s.rule === undefined ? undefined : { owned: s.localNodes, incoming: [], draining: [] };
  },
  async remove(vip) { await executeClusterip(vip, planClusteripRemove(vip, await readClusterip(vip))); },
};

const xtRules: Rules = {
  ownsLinkLayer: true,
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
    return { owned: servedFromRules(s.rules), incoming: [], draining: [] };
  },
  async remove(vip) {
    await executeXt(planXtRemove(vip, await readXt(vip)));
    await nftApply(vip.address.family === 4 ? renderArpDelete(vip) : renderDelete(vip));
  },
};

const RULES: Record<Backend, Rules> = { nft: nftRules, clusterip: clusteripRules, xt_cluster: xtRules };

class VipDataplane implements Dataplane {
  constructor(readonly backend: Backend, private readonly rules: Rules, private readonly arpCount: number) {}

  async apply(vip: VipSpec, ownership: Ownership): Promise<void> {
    await interfaceIndex(vip.interface); // refuse an unknown interface before touching anything
    await this.rules.apply(vip, ownership);
    if (this.rules.ownsLinkLayer) await joinMac(vip.interface, vip.mac);
    const fresh = !(await hasAddress(vip.interface, vip.address, vip.prefixLength));
    await addAddress(vip.interface, vip.address, vip.prefixLength);
    if (fresh && vip.address.family === 4) {
      try { if (this.arpCount > 0) sendGratuitousArp(vip.interface, formatAddress(vip.address), vip.mac, this.arpCount); } catch (e) { log.warn({ err: (e as Error).message }, 'gratuitous ARP failed'); }
    }
    if (fresh && vip.address.family === 6 && this.arpCount > 0) {
      // IPv6's gratuitous ARP: unsolicited neighbour advertisements with the cluster MAC.
      await sendUnsolicitedAdverts(vip, await interfaceIndex(vip.interface), this.arpCount)
        .catch((e) => log.warn({ err: (e as Error).message }, 'unsolicited neighbour advertisement failed'));
    }
  }

  async applyOwnership(vip: VipSpec, ownership: Ownership): Promise<boolean> {
    if (!this.rules.applyOwnership) return false;
    await this.rules.applyOwnership(vip, ownership);
    return true;
  }

  async read(vip: VipSpec): Promise<VipState> {
    const ownership = await this.rules.read(vip);
    const addressPresent = await hasAddress(vip.interface, vip.address, vip.prefixLength);
    const macJoined = this.rules.ownsLinkLayer ? (await joinedMacs(vip.interface)).includes(vip.mac) : ownership !== undefined;
    return { addressPresent, macJoined, ownership };
  }

  async remove(vip: VipSpec): Promise<void> {
    await removeAddress(vip.interface, vip.address, vip.prefixLength);
    await this.rules.remove(vip);
    if (this.rules.ownsLinkLayer) await leaveMac(vip.interface, vip.mac);
  }
}

/** Whether this kernel runs nf_tables with jhash: the kernel checks a throwaway table (`nft --check`: nothing is committed). */
export async function kernelHasNftJhash(): Promise<boolean> {
  const script = `table ip aavip_probe {\n  chain c {\n    meta mark set jhash ip saddr mod 2 seed 0x1\n  }\n}\n`;
  const r = await run('nft', ['--check', '-f', '-'], { input: script, allowFailure: true }).catch(() => ({ status: 1 }));
  return r.status === 0;
}

export async function resolveBackend(choice: BackendChoice): Promise<Backend> {
  if (choice !== 'auto') return choice;
  return (await kernelHasNftJhash()) ? 'nft' : 'clusterip';
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
