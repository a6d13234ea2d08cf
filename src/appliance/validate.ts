// Whether this cluster.yaml and its ldirectord.cf make an appliance aavip can serve (pure). Run by
// the load step of `aavip up` and of a reload, so a combination it cannot serve is refused before
// anything is touched, naming the ldirectord.cf line.
import type { VipSpec } from '../dataplane/types.js';
import { InputError } from '../errors.js';
import { formatAddress, parseAddress } from '../hash/flow.js';
import { effective, hostPort, type Forwarding, type LdirectordConfig, type VirtualService, virtualId } from '../lvs/config/model.js';

/** The forwarding methods where the director sees only the client's direction (no reply comes back through it). */
export const APPLIANCE_FORWARDINGS: readonly Forwarding[] = ['gate', 'ipip'];

export const NAT_REFUSED =
  'NAT needs every reply back through the director that holds the connection; not yet supported by the active/active appliance — use gate or ipip';

export interface ApplianceFinding {
  file: string;
  line: number;
  message: string;
}

export interface ApplianceCheck {
  /** Refusals: nothing may start. */
  errors: InputError[];
  /** Served, but worth saying (logged at start and reload). */
  warnings: ApplianceFinding[];
}

const normal = (ip: string) => {
  const a = parseAddress(ip);
  return a ? formatAddress(a) : ip;
};

export function validateAppliance(cluster: { name: string; vips: readonly VipSpec[] }, ld: LdirectordConfig): ApplianceCheck {
  const vips = new Set(cluster.vips.map((v) => formatAddress(v.address)));
  const errors: InputError[] = [];
  const warnings: ApplianceFinding[] = [];
  const vipMarks = new Set(cluster.vips.flatMap((v) => (v.fwmark !== undefined ? [v.fwmark] : [])));
  for (const v of ld.virtualServices) {
    // A mark a VIP sets (vips[].fwmark) selects that VIP's client traffic, by bucket: a VIP's service.
    if (v.protocol === 'fwm' && vipMarks.has(v.fwmark!)) {
      errors.push(...refusedMethods(v, ld));
      continue;
    }
    if (v.protocol === 'fwm') {
      // A mark says nothing of the address it selects: the method is the user's to get right.
      for (const r of v.realServers.filter((r) => !APPLIANCE_FORWARDINGS.includes(r.forwarding))) {
        warnings.push({
          file: ld.file,
          line: r.line,
          message: `${virtualId(v)}: real ${hostPort(r.address, r.port)} uses masq: if the mark selects VIP traffic, ${NAT_REFUSED}`,
        });
      }
      continue;
    }
    if (!vips.has(normal(v.address!))) {
      warnings.push({
        file: ld.file,
        line: v.line,
        message: `${virtualId(v)} is not on a VIP of cluster ${cluster.name} (${[...vips].join(', ')}): every node that has the address directs all of its connections, not by bucket`,
      });
      continue;
    }
    errors.push(...refusedMethods(v, ld));
  }
  return { errors, warnings };
}

/** The real servers and fallback of a virtual service on a VIP whose method the appliance cannot serve. */
function refusedMethods(v: VirtualService, ld: LdirectordConfig): InputError[] {
  const found: InputError[] = [];
  const refuse = (line: number, field: string, what: string, method: Forwarding) =>
    found.push(new InputError(`${virtualId(v)}: ${what} uses ${method}: ${NAT_REFUSED}`, { file: ld.file, line, field }));
  for (const r of v.realServers) if (!APPLIANCE_FORWARDINGS.includes(r.forwarding)) refuse(r.line, 'real', `real ${hostPort(r.address, r.port)}`, r.forwarding);
  const fb = effective(v, ld.globals).fallback;
  if (fb && !APPLIANCE_FORWARDINGS.includes(fb.forwarding)) {
    const field = v.fallback ? 'fallback' : v.family === 6 ? 'fallback6' : 'fallback';
    refuse(fb.line, field, `fallback ${hostPort(fb.address, fb.port ?? v.port!)}`, fb.forwarding);
  }
  return found;
}
