// What the director asks of an IPVS programmer: read the table, apply a plan.
import type { IpvsServiceState } from '../config/desired.js';
import type { IpvsOp } from './plan.js';

export interface Ipvs {
  readonly kind: 'netlink' | 'ipvsadm' | 'memory';
  read(): Promise<IpvsServiceState[]>;
  apply(ops: IpvsOp[]): Promise<void>;
  close?(): void;
}
