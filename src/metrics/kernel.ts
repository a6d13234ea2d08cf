// What the metrics read from the kernel at scrape time: the bucket filter's named counters (one
// `nft -j list counters` for every table) and IPVS's connection counts per real server (netlink,
// the ldirectord role's table). Both are asynchronous and bounded: a scrape never holds the
// daemon's event loop, and a stuck nft is killed at its timeout.
import { run } from '../exec.js';
import { nftTableName, nftFamily, NFT_COUNTERS } from '../dataplane/nft.js';
import type { VipSpec } from '../dataplane/types.js';
import { NetlinkIpvs, splitHostPort } from '../lvs/ipvs/netlink.js';
import type { IpvsServiceState } from '../lvs/config/desired.js';
import type { BackendLabels } from './registry.js';

export const NFT_TIMEOUT_MS = 2000;

export type NftCounter = (typeof NFT_COUNTERS)[number];
export type VipCounters = Partial<Record<NftCounter, { packets: number; bytes: number }>>;

/** The named counters of every table, by `family table` (pure: what `nft -j list counters` printed). */
export function parseNftCounters(stdout: string): Map<string, VipCounters> {
  const out = new Map<string, VipCounters>();
  for (const o of (JSON.parse(stdout) as { nftables: Record<string, any>[] }).nftables) {
    const c = o.counter;
    if (!c || !NFT_COUNTERS.includes(c.name)) continue;
    const key = `${c.family} ${c.table}`;
    const entry = out.get(key) ?? out.set(key, {}).get(key)!;
    entry[c.name as NftCounter] = { packets: Number(c.packets) || 0, bytes: Number(c.bytes) || 0 };
  }
  return out;
}

/** Each nft VIP's counters (VIPs of other backends, or whose table is missing, have none). */
export async function readVipCounters(vips: readonly VipSpec[]): Promise<Map<VipSpec, VipCounters>> {
  const out = new Map<VipSpec, VipCounters>();
  if (!vips.some((v) => v.backend === 'nft')) return out;
  const r = await run('nft', ['-j', 'list', 'counters'], { allowFailure: true, timeoutMs: NFT_TIMEOUT_MS });
  if (r.status !== 0) throw new Error(`nft -j list counters failed (exit ${r.status}): ${r.stderr.trim()}`);
  const all = parseNftCounters(r.stdout);
  for (const v of vips) {
    const c = v.backend === 'nft' ? all.get(`${nftFamily(v)} ${nftTableName(v)}`) : undefined;
    if (c) out.set(v, c);
  }
  return out;
}

/** node_exporter's labels for a real server of a service (`dest`: "IP:PORT" as the kernel has it). */
export function backendLabels(service: Pick<IpvsServiceState, 'protocol' | 'address'>, dest: string): BackendLabels {
  const remote = splitHostPort(dest);
  const fwm = service.protocol === 'fwm';
  const local = fwm ? { ip: '', port: 0 } : splitHostPort(String(service.address));
  return {
    local_address: local.ip,
    local_port: String(local.port),
    remote_address: remote.ip,
    remote_port: String(remote.port),
    proto: service.protocol.toUpperCase(),
    local_mark: fwm ? String(service.address) : '',
  };
}

export interface BackendConnections {
  labels: BackendLabels;
  active: number;
  inactive: number;
  weight: number;
}

/** IPVS over netlink, opened at the first scrape that needs it (a node without the role never opens it). */
export class IpvsConnections {
  private ipvs?: Promise<NetlinkIpvs>;

  async read(): Promise<BackendConnections[]> {
    this.ipvs ??= NetlinkIpvs.open();
    let ipvs: NetlinkIpvs;
    try {
      ipvs = await this.ipvs;
    } catch (e) {
      this.ipvs = undefined;
      throw e;
    }
    return (await ipvs.readConnections()).flatMap(({ service, dests }) =>
      dests.map((d) => ({ labels: backendLabels(service, d.address), active: d.active, inactive: d.inactive, weight: d.weight })),
    );
  }

  close(): void {
    void this.ipvs?.then((i) => i.close()).catch(() => undefined);
    this.ipvs = undefined;
  }
}
