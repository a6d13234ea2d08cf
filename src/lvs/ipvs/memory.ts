// An IPVS table in memory: the stand-in for unit tests of the director's logic on hosts whose
// kernel has no IPVS. Real IPVS is exercised in the VM lab. Like the kernel, it applies
// operations one at a time, stops at the first it refuses, and refuses a scheduler it has no
// module for with ENOENT (the error the netlink driver reports for it).
import type { IpvsServiceState } from '../config/desired.js';
import { IpvsOpError } from './apply.js';
import { applyOps, type IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

/** The schedulers of Debian's 6.1 kernel (net/netfilter/ipvs/ip_vs_*.c). */
export const KERNEL_SCHEDULERS: ReadonlySet<string> = new Set(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh']);

export class MemoryIpvs implements Ipvs {
  readonly kind = 'memory';
  table: IpvsServiceState[] = [];
  readonly log: IpvsOp[] = [];
  /** The scheduler modules this kernel has (a test adds one as modprobe would). */
  readonly schedulers = new Set(KERNEL_SCHEDULERS);

  async read(): Promise<IpvsServiceState[]> {
    return structuredClone(this.table);
  }

  async apply(ops: IpvsOp[]): Promise<void> {
    for (const o of ops) {
      if ((o.op === 'add-service' || o.op === 'edit-service') && !this.schedulers.has(o.service.scheduler)) {
        throw new IpvsOpError(o, Object.assign(new Error('Request rejected: ENOENT'), { code: 'ENOENT' }));
      }
      try {
        this.table = applyOps(this.table, [o]);
      } catch (e) {
        throw new IpvsOpError(o, e);
      }
      this.log.push(o);
    }
  }
}
