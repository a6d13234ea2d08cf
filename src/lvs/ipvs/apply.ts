// Applying a plan one virtual service at a time: the kernel refusing one service (an unknown
// scheduler, a missing persistence engine) must not leave the others unmanaged. Each service's
// operations stop at its first refusal; the refusal is returned, named by the service's key.
import { serviceKey, type IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

export interface ServiceRefusal {
  /** serviceKey() of the refused service. */
  key: string;
  op: IpvsOp['op'];
  /** The kernel's reason, as ipvsadm words it where it has a word for it. */
  reason: string;
}

/** ipvsadm's wording (libipvs ipvs_strerror) for the errnos the kernel gives per operation. */
const MEANING: Partial<Record<IpvsOp['op'], Record<string, string>>> = {
  'add-service': { EEXIST: 'Service already exists', ENOENT: 'Scheduler or persistence engine not found' },
  'edit-service': { ESRCH: 'No such service', ENOENT: 'Scheduler or persistence engine not found' },
  'delete-service': { ESRCH: 'No such service' },
  'add-dest': { EEXIST: 'Destination already exists', ESRCH: 'Service not defined' },
  'edit-dest': { ESRCH: 'Service not defined', ENOENT: 'No such destination' },
  'delete-dest': { ESRCH: 'Service not defined', ENOENT: 'No such destination' },
};

/** The kernel's reason for refusing `op`: the errno's meaning and name ("... (ENOENT)"), or the driver's message. */
export function refusalReason(op: IpvsOp['op'], err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown })?.code;
  const errno = typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : message.match(/\b(E[A-Z]{2,})\b/)?.[1];
  const meaning = errno ? MEANING[op]?.[errno] : undefined;
  return meaning ? `${meaning} (${errno})` : message;
}

/** A driver's failure, with the operation the kernel refused (drivers apply in order and stop there). */
export class IpvsOpError extends Error {
  constructor(
    readonly op: IpvsOp,
    readonly failure: unknown,
  ) {
    super(failure instanceof Error ? failure.message : String(failure));
    this.name = 'IpvsOpError';
  }
}

/** Runs `fn` for `o`, wrapping its failure as an IpvsOpError. */
export async function refusedAs<T>(o: IpvsOp, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof IpvsOpError ? e : new IpvsOpError(o, e);
  }
}

/**
 * Applies `ops` service by service, in plan order (one driver call per service, so the ipvsadm
 * driver keeps its command order); returns the services the kernel refused. What a refused
 * service's earlier operations did stays: the next reconcile reads the table and plans again.
 */
export async function applyByService(ipvs: Ipvs, ops: IpvsOp[]): Promise<{ applied: IpvsOp[]; refused: ServiceRefusal[] }> {
  const groups = new Map<string, IpvsOp[]>();
  for (const o of ops) {
    const k = serviceKey(o.service);
    const g = groups.get(k);
    if (g) g.push(o);
    else groups.set(k, [o]);
  }
  const applied: IpvsOp[] = [];
  const refused: ServiceRefusal[] = [];
  for (const [key, group] of groups) {
    try {
      await ipvs.apply(group);
      applied.push(...group);
    } catch (e) {
      const op = e instanceof IpvsOpError ? e.op : group[0];
      applied.push(...group.slice(0, Math.max(0, group.indexOf(op))));
      refused.push({ key, op: op.op, reason: refusalReason(op.op, e instanceof IpvsOpError ? e.failure : e) });
    }
  }
  return { applied, refused };
}
