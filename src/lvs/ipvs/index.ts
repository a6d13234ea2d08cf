import { IpvsadmIpvs } from './ipvsadm.js';
import { NetlinkIpvs } from './netlink.js';
import type { Ipvs } from './types.js';

export type IpvsKind = 'netlink' | 'ipvsadm';

export async function openIpvs(kind: IpvsKind): Promise<Ipvs> {
  return kind === 'netlink' ? NetlinkIpvs.open() : new IpvsadmIpvs();
}
