// IPVS over generic netlink (the kernel's "IPVS" family), in process: no fork of ipvsadm per
// change. The socket comes from the `netlink` package; the messages are ip_vs.ts's structures;
// this file only maps the director's table to them and back.
import { createGenericNetlink, FlagsGet, genl, type GenericNetlinkSocket } from 'netlink';
import { formatAddress, parseAddress } from '../../hash/flow.js';
import type { Forwarding } from '../config/model.js';
import type { IpvsDestination, IpvsServiceState } from '../config/desired.js';
import { refusedAs } from './apply.js';
import {
  Commands,
  ConnFlags,
  DaemonState,
  formatMessage,
  IPVS_GENL_NAME,
  IPVS_GENL_VERSION,
  parseMessage,
  SvcFlags,
  type Daemon,
  type Dest,
  type Message,
  type Service,
} from './ip_vs.js';
import type { IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

const AF_INET = 2;
const AF_INET6 = 10;
const PROTO = { tcp: 6, udp: 17 } as const;
const FWD: Record<Forwarding, ConnFlags> = { masq: ConnFlags.MASQ, ipip: ConnFlags.TUNNEL, gate: ConnFlags.DROUTE };

/** An address in the 16 bytes of union nf_inet_addr. */
function inetAddr(ip: string): Buffer {
  const a = parseAddress(ip);
  if (!a) throw new Error(`not an IP address: ${ip}`);
  const b = Buffer.alloc(16);
  b.set(a.bytes);
  return b;
}

const formatInet = (b: Buffer, af: number) => formatAddress(af === AF_INET ? { family: 4, bytes: b.subarray(0, 4) } : { family: 6, bytes: b.subarray(0, 16) });

/** "IP:PORT" / "[v6]:PORT" → parts. */
export function splitHostPort(s: string): { ip: string; port: number } {
  const m = s.match(/^\[(.+)\]:(\d+)$/) ?? s.match(/^(.+):(\d+)$/);
  if (!m) throw new Error(`not an address:port: ${s}`);
  return { ip: m[1], port: Number(m[2]) };
}
const joinHostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** The attributes that identify a service (enough for deletes and destination commands). */
export function serviceId(s: IpvsServiceState): Service {
  const af = s.family === 4 ? AF_INET : AF_INET6;
  if (s.protocol === 'fwm') return { af, fwmark: Number(s.address) };
  const { ip, port } = splitHostPort(String(s.address));
  return { af, protocol: PROTO[s.protocol], addr: inetAddr(ip), port };
}

/** A service with its options, for NEW_SERVICE / SET_SERVICE. */
export function toService(s: IpvsServiceState): Service {
  const flags = (s.persistent !== null ? SvcFlags.PERSISTENT : 0) | (s.ops ? SvcFlags.ONEPACKET : 0);
  const netmask = s.family === 4 ? inetAddr(s.netmask ?? '255.255.255.255').subarray(0, 4) : Buffer.from(new Uint32Array([Number(s.netmask ?? 128)]).buffer);
  return { ...serviceId(s), schedName: s.scheduler, flags: { flags, mask: 0xffffffff }, timeout: s.persistent ?? 0, netmask };
}

export function toDest(d: IpvsDestination, full: boolean): Dest {
  const { ip, port } = splitHostPort(d.address);
  const id: Dest = { addr: inetAddr(ip), port, addrFamily: ip.includes(':') ? AF_INET6 : AF_INET };
  return full ? { ...id, fwdMethod: FWD[d.forwarding], weight: d.weight, uThresh: d.upper, lThresh: d.lower } : id;
}

export function fromService(a: Service): IpvsServiceState {
  const family = a.af === AF_INET ? 4 : 6;
  const fwmark = a.fwmark ?? 0;
  const flags = a.flags?.flags ?? 0;
  const persistent = flags & SvcFlags.PERSISTENT ? (a.timeout ?? 0) : null;
  const nm = a.netmask;
  return {
    protocol: fwmark ? 'fwm' : a.protocol === PROTO.udp ? 'udp' : 'tcp',
    family,
    address: fwmark ? fwmark : joinHostPort(formatInet(a.addr!, a.af!), a.port!),
    scheduler: a.schedName ?? '',
    persistent,
    netmask: persistent === null || !nm ? null : family === 4 ? [...nm.subarray(0, 4)].join('.') : String(new Uint32Array(Uint8Array.from(nm).buffer)[0]),
    schedflags: null,
    ops: (flags & SvcFlags.ONEPACKET) !== 0,
    realServers: [],
  };
}

export function fromDest(a: Dest, family: 4 | 6): IpvsDestination {
  const af = a.addrFamily ?? (family === 4 ? AF_INET : AF_INET6);
  const fwd = (a.fwdMethod ?? 0) & ConnFlags.FWD_MASK;
  return {
    address: joinHostPort(formatInet(a.addr!, af), a.port!),
    forwarding: (Object.keys(FWD) as Forwarding[]).find((k) => FWD[k] === fwd) ?? 'masq',
    weight: a.weight ?? 0,
    upper: a.uThresh ?? 0,
    lower: a.lThresh ?? 0,
  };
}

/** The request one operation is. */
export function opMessage(o: IpvsOp): { cmd: Commands; msg: Message } {
  switch (o.op) {
    case 'add-service':
      return { cmd: Commands.NEW_SERVICE, msg: { service: toService(o.service) } };
    case 'edit-service':
      return { cmd: Commands.SET_SERVICE, msg: { service: toService(o.service) } };
    case 'delete-service':
      return { cmd: Commands.DEL_SERVICE, msg: { service: serviceId(o.service) } };
    case 'add-dest':
      return { cmd: Commands.NEW_DEST, msg: { service: serviceId(o.service), dest: toDest(o.dest, true) } };
    case 'edit-dest':
      return { cmd: Commands.SET_DEST, msg: { service: serviceId(o.service), dest: toDest(o.dest, true) } };
    case 'delete-dest':
      return { cmd: Commands.DEL_DEST, msg: { service: serviceId(o.service), dest: toDest(o.dest, false) } };
  }
}

/** A connection-sync daemon (ipvsadm --start-daemon). */
export interface SyncDaemon {
  state: 'master' | 'backup';
  /** Interface the sync messages go out of / come in on. */
  interface: string;
  syncId: number;
  /** UDP payload size; the kernel's default (from the interface MTU) when absent. */
  maxLength?: number;
  /** Multicast group (IPv4 or IPv6); the kernel's 224.0.0.81 when absent. */
  group?: string;
  port?: number;
  ttl?: number;
}

export function toDaemon(d: SyncDaemon): Daemon {
  const group = d.group === undefined ? undefined : parseAddress(d.group);
  if (d.group !== undefined && !group) throw new Error(`sync daemon group: not an IP address: ${d.group}`);
  return {
    state: d.state === 'master' ? DaemonState.MASTER : DaemonState.BACKUP,
    mcastIfn: d.interface,
    syncId: d.syncId,
    syncMaxlen: d.maxLength,
    mcastGroup: group?.family === 4 ? Buffer.from(group.bytes) : undefined,
    mcastGroup6: group?.family === 6 ? Buffer.from(group.bytes) : undefined,
    mcastPort: d.port,
    mcastTtl: d.ttl,
  };
}

export function fromDaemon(a: Daemon): SyncDaemon {
  const g = a.mcastGroup6 ? formatAddress({ family: 6, bytes: a.mcastGroup6 }) : a.mcastGroup ? formatAddress({ family: 4, bytes: a.mcastGroup }) : undefined;
  return {
    state: a.state === DaemonState.MASTER ? 'master' : 'backup',
    interface: a.mcastIfn ?? '',
    syncId: a.syncId ?? 0,
    ...(a.syncMaxlen !== undefined ? { maxLength: a.syncMaxlen } : {}),
    ...(g !== undefined ? { group: g } : {}),
    ...(a.mcastPort !== undefined ? { port: a.mcastPort } : {}),
    ...(a.mcastTtl !== undefined ? { ttl: a.mcastTtl } : {}),
  };
}

export class NetlinkIpvs implements Ipvs {
  readonly kind = 'netlink';
  private constructor(
    private readonly sock: GenericNetlinkSocket,
    private readonly family: number,
  ) {}

  static async open(): Promise<NetlinkIpvs> {
    const sock = createGenericNetlink();
    try {
      const [fam] = await sock.ctrlRequest(genl.Commands.GET_FAMILY, { familyName: IPVS_GENL_NAME }, { timeout: 2000 });
      if (!fam?.familyId) throw new Error('the kernel has no IPVS (load ip_vs)');
      return new NetlinkIpvs(sock, fam.familyId);
    } catch (e) {
      sock.socket.close();
      throw new Error(`IPVS over netlink: ${(e as Error).message}; is the ip_vs module loaded?`);
    }
  }

  private async req(cmd: Commands, msg: Message, dump = false): Promise<Message[]> {
    const [msgs] = await this.sock.request(this.family, cmd, IPVS_GENL_VERSION, formatMessage(msg), { flags: dump ? FlagsGet.DUMP : 0, timeout: 5000 });
    return msgs.map((m) => parseMessage(m.data));
  }

  /** Every service with its destinations as the kernel lists them. */
  private async dump(): Promise<{ service: IpvsServiceState; dests: Dest[] }[]> {
    const services = (await this.req(Commands.GET_SERVICE, {}, true)).flatMap((m) => (m.service ? [fromService(m.service)] : []));
    const out = [];
    for (const service of services) {
      const dests = await this.req(Commands.GET_DEST, { service: serviceId(service) }, true);
      out.push({ service, dests: dests.flatMap((m) => (m.dest ? [m.dest] : [])) });
    }
    return out;
  }

  async read(): Promise<IpvsServiceState[]> {
    return (await this.dump()).map(({ service, dests }) => ({ ...service, realServers: dests.map((d) => fromDest(d, service.family)) }));
  }

  /** The table with each destination's connection counts (ipvsadm -Ln's ActiveConn and InActConn). */
  async readConnections(): Promise<{ service: IpvsServiceState; dests: (IpvsDestination & { active: number; inactive: number })[] }[]> {
    return (await this.dump()).map(({ service, dests }) => ({
      service,
      dests: dests.map((d) => ({ ...fromDest(d, service.family), active: d.activeConns ?? 0, inactive: d.inactConns ?? 0 })),
    }));
  }

  async apply(ops: IpvsOp[]): Promise<void> {
    for (const o of ops) {
      const { cmd, msg } = opMessage(o);
      await refusedAs(o, () => this.req(cmd, msg));
    }
  }

  /** Starts a connection-sync daemon (one master and one backup at most). */
  async startSyncDaemon(d: SyncDaemon): Promise<void> {
    await this.req(Commands.NEW_DAEMON, { daemon: toDaemon(d) });
  }

  async stopSyncDaemon(state: SyncDaemon['state']): Promise<void> {
    await this.req(Commands.DEL_DAEMON, { daemon: { state: state === 'master' ? DaemonState.MASTER : DaemonState.BACKUP } });
  }

  async listSyncDaemons(): Promise<SyncDaemon[]> {
    return (await this.req(Commands.GET_DAEMON, {}, true)).flatMap((m) => (m.daemon ? [fromDaemon(m.daemon)] : []));
  }

  close(): void {
    this.sock.socket.close();
  }
}
