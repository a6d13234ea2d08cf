// The IPVS table an ldirectord.cf asks for, given which real servers are up. Pure.
import { effective, hostPort, type Forwarding, type LdirectordConfig, type Protocol, type RealServer, type VirtualService } from './model.js';

export interface IpvsDestination {
  /** "IP:PORT" as the kernel holds it: gate/ipip reals of an address:port service take the service's port. */
  address: string;
  forwarding: Forwarding;
  weight: number;
  lower: number;
  upper: number;
  /** Set on the fallback server. */
  fallback?: boolean;
}

export interface IpvsServiceState {
  protocol: Protocol;
  family: 4 | 6;
  /** "IP:PORT", or the firewall mark. */
  address: string | number;
  scheduler: string;
  persistent: number | null;
  netmask: string | null;
  schedflags: string | null;
  ops: boolean;
  realServers: IpvsDestination[];
}

/** The kernel's address for a real of this virtual (ldirectord's port mapping). */
export function destinationAddress(v: VirtualService, address: string, port: number, forwarding: Forwarding): string {
  const p = v.protocol !== 'fwm' && forwarding !== 'masq' ? v.port! : port;
  return hostPort(address, p);
}

export function serviceAddress(v: VirtualService): string | number {
  return v.protocol === 'fwm' ? v.fwmark! : hostPort(v.address!, v.port!);
}

/**
 * The table for one virtual. `weightOf` gives each real's weight in the table, or undefined when
 * it must be absent (down without quiescent). The fallback is in exactly when no real is up
 * (weight > 0), except for checktype=off, which ldirectord's man page promises no fallback for.
 */
export function desiredService(v: VirtualService, config: LdirectordConfig, weightOf: (r: RealServer) => number | undefined): IpvsServiceState {
  const e = effective(v, config.globals);
  const realServers: IpvsDestination[] = [];
  for (const r of v.realServers) {
    const weight = weightOf(r);
    if (weight === undefined) continue;
    const address = destinationAddress(v, r.address, r.port, r.forwarding);
    if (realServers.some((d) => d.address === address)) continue; // duplicates are one kernel entry
    realServers.push({ address, forwarding: r.forwarding, weight, lower: r.lower, upper: r.upper });
  }
  if (e.fallback && v.checktype.kind !== 'off' && !realServers.some((d) => d.weight > 0)) {
    const fb = e.fallback;
    realServers.push({ address: destinationAddress(v, fb.address, fb.port ?? v.port ?? 0, fb.forwarding), forwarding: fb.forwarding, weight: 1, lower: 0, upper: 0, fallback: true });
  }
  return {
    protocol: v.protocol, family: v.family, address: serviceAddress(v), scheduler: v.scheduler,
    persistent: v.persistent ?? null, netmask: v.persistent !== undefined ? v.netmask ?? null : null, schedflags: v.schedflags ?? null,
    ops: v.protocol === 'udp' && v.ops, realServers,
  };
}

/** The whole table when every real server is healthy: what `aavip ldirectord check` prints. */
export function desiredWhenHealthy(config: LdirectordConfig): IpvsServiceState[] {
  return config.virtualServices.map((v) => desiredService(v, config, (r) => (v.checktype.kind === 'off' ? undefined : r.weight)));
}
