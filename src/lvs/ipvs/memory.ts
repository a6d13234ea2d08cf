// An IPVS table in memory: the stand-in for unit tests of the director's logic on hosts whose
// kernel has no IPVS. Real IPVS is exercised in the VM lab.
import type { IpvsServiceState } from '../config/desired.js';
import { applyOps, type IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

export class MemoryIpvs implements Ipvs {
  readonly kind = 'memory';
  table: IpvsServiceState[] = [];
  readonly log: IpvsOp[] = [];

  async read(): Promise<IpvsServiceState[]> {
    return structuredClone(this.table);
  }

  async apply(ops: IpvsOp[]): Promise<void> {
    this.table = applyOps(this.table, ops);
    this.log.push(...ops);
  }
}
