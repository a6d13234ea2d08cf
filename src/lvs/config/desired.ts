// The IPVS table an ldirectord.cf asks for, given which real servers are up. Pure.
import { effective, hostPort, type Forwarding, type LdirectordConfig, type Protocol, type RealServer, type VirtualService } from './model.js';

export interface IpvsDestination {
  /** "IP:PORT" as the kernel holds it: gate/ipip reals of an address:port service take the service's port. */
  address: string;
  forwarding: Forwarding;
  weight: number;
  /** Connection thresholds (ipvsadm -y / -x); 0 = none. */
  lower: number;
  upper: number;
  /** Set on the fallback server. */
  fallback?: boolean;
}

export interface IpvsServiceState {
  protocol: Protocol;
  family: 4 | 6;
  /** "IP:PORT" ("[v6]:PORT"), or the firewall mark. */
  address: string | number;
  scheduler: string;
  /** Persistence timeout in seconds, or null. */
  persistent: number | null;
  /** Persistence netmask (only with persistent), or null. */
  netmask: string | null;
  schedflags: string | null;
  /** One-packet scheduling (udp only). */
  ops: boolean;
  realServers: IpvsDestination[];
}

/**
 * The kernel's address for a real server of this virtual. ipvsadm sets the port of a gate or ipip
 * real server of an address:port service to the service's port (direct routing and tunnelling
 * cannot change ports); ldirectord relies on that, so the table holds VIP's port for them.
 */
export function destinationAddress(v: VirtualService, address: string, port: number, forwarding: Forwarding): string {
  const p = v.protocol !== 'fwm' && forwarding !== 'masq' ? v.port! : port;
  return hostPort(address, p);
}

export function serviceAddress(v: VirtualService): string | number {
  return v.protocol === 'fwm' ? v.fwmark! : hostPort(v.address!, v.port!);
}

/**
 * The table for one virtual. `weightOf` gives each real's weight in the table, or undefined when
 * it must be absent. The fallback is in exactly when no real server is up: `anyUp` says so (default:
 * some real has a weight above 0, which misjudges an up real configured with weight 0). A
 * checktype=off service never gets its fallback, as ldirectord's man page promises (its code
 * installs one at start; see parse.ts). Duplicate real servers are one kernel entry (the first).
 */
export function desiredService(
  v: VirtualService,
  config: LdirectordConfig,
  weightOf: (r: RealServer) => number | undefined,
  anyUp?: boolean,
): IpvsServiceState {
  const e = effective(v, config.globals);
  const realServers: IpvsDestination[] = [];
  const seen = new Set<string>(); // the first of duplicate destinations wins (a set: 10,000 reals)
  for (const r of v.realServers) {
    const weight = weightOf(r);
    if (weight === undefined) continue;
    const address = destinationAddress(v, r.address, r.port, r.forwarding);
    if (seen.has(address)) continue;
    seen.add(address);
    realServers.push({ address, forwarding: r.forwarding, weight, lower: r.lower, upper: r.upper });
  }
  const up = anyUp ?? realServers.some((d) => d.weight > 0);
  if (e.fallback && v.checktype.kind !== 'off' && !up) {
    const fb = e.fallback;
    const address = destinationAddress(v, fb.address, fb.port ?? v.port ?? 0, fb.forwarding);
    // A fallback that is also a (quiesced) real server takes its entry over, as ipvsadm -e would.
    const at = realServers.findIndex((d) => d.address === address);
    if (at >= 0) realServers.splice(at, 1);
    realServers.push({ address, forwarding: fb.forwarding, weight: 1, lower: 0, upper: 0, fallback: true });
  }
  return {
    protocol: v.protocol,
    family: v.family,
    address: serviceAddress(v),
    scheduler: v.scheduler,
    persistent: v.persistent ?? null,
    netmask: v.persistent !== undefined ? (v.netmask ?? null) : null,
    schedflags: v.schedflags ?? null,
    ops: v.protocol === 'udp' && v.ops,
    realServers,
  };
}

/**
 * The table when the real servers for which `isUp` holds are up and the others down: up → its
 * weight; down → weight 0 with quiescent (ldirectord's start puts every down real in and quiesces
 * it), else absent; the fallback when none is up. checktype=off servers are never up.
 */
export function desiredFor(config: LdirectordConfig, isUp: (v: VirtualService, r: RealServer) => boolean): IpvsServiceState[] {
  return config.virtualServices.map((v) => {
    const quiescent = effective(v, config.globals).quiescent;
    const up = (r: RealServer) => v.checktype.kind !== 'off' && isUp(v, r);
    return desiredService(v, config, (r) => (up(r) ? r.weight : quiescent ? 0 : undefined), v.realServers.some(up));
  });
}

/** The whole table when every real server is healthy: what `aavip ldirectord check` prints. */
export function desiredWhenHealthy(config: LdirectordConfig): IpvsServiceState[] {
  return desiredFor(config, () => true);
}
