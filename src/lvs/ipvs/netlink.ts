// IPVS over generic netlink (the kernel's "IPVS" family, include/uapi/linux/ip_vs.h), in process:
// no fork of ipvsadm per change. The socket comes from the `netlink` package; the IPVS attributes
// are laid out here.
import { isIPv4 } from 'node:net';
import { createGenericNetlink, parseAttributes, FlagsGet, genl, type GenericNetlinkSocket } from 'netlink';
import type { Forwarding } from '../config/model.js';
import type { IpvsDestination, IpvsServiceState } from '../config/desired.js';
import type { IpvsOp } from './plan.js';
import type { Ipvs } from './types.js';

const IPVS_GENL_VERSION = 1;
export const CMD = { NEW_SERVICE: 1, SET_SERVICE: 2, DEL_SERVICE: 3, GET_SERVICE: 4, NEW_DEST: 5, SET_DEST: 6, DEL_DEST: 7, GET_DEST: 8, FLUSH: 17 } as const;
const CMD_ATTR = { SERVICE: 1, DEST: 2 } as const;
const SVC = { AF: 1, PROTOCOL: 2, ADDR: 3, PORT: 4, FWMARK: 5, SCHED_NAME: 6, FLAGS: 7, TIMEOUT: 8, NETMASK: 9 } as const;
const DEST = { ADDR: 1, PORT: 2, FWD_METHOD: 3, WEIGHT: 4, U_THRESH: 5, L_THRESH: 6, ADDR_FAMILY: 11 } as const;
const NLA_F_NESTED = 0x8000;
const AF_INET = 2;
const AF_INET6 = 10;
const PROTO = { tcp: 6, udp: 17 } as const;
const FWD: Record<Forwarding, number> = { masq: 0, ipip: 2, gate: 3 };
const IP_VS_SVC_F_PERSISTENT = 0x1;

// ---- attribute encoding -----------------------------------------------------------------------

function nla(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const out = Buffer.alloc((len + 3) & ~3);
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type, 2);
  payload.copy(out, 4);
  return out;
}
const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const be16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const nested = (type: number, parts: Buffer[]) => nla(type | NLA_F_NESTED, Buffer.concat(parts));

/** An address in the 16 bytes of union nf_inet_addr. */
function inetAddr(ip: string): Buffer {
  const b = Buffer.alloc(16);
  if (isIPv4(ip)) ip.split('.').forEach((o, i) => { b[i] = Number(o); });
  else {
    const [l, r] = ip.includes('::') ? ip.split('::') : [ip, undefined];
    const groups = (s?: string) => (s ? s.split(':').filter(Boolean).map((g) => parseInt(g, 16)) : []);
    const left = groups(l);
    const right = groups(r);
    const all = r === undefined ? left : [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
    all.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  }
  return b;
}

function formatInet(b: Buffer, family: number): string {
  if (family === AF_INET) return [...b.subarray(0, 4)].join('.');
  const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(2 * i).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/** "IP:PORT" / "[v6]:PORT" → parts. */
function splitHostPort(s: string): { ip: string; port: number } {
  const m = s.match(/^\[(.+)\]:(\d+)$/) ?? s.match(/^(.+):(\d+)$/);
  if (!m) throw new Error(`not an address:port: ${s}`);
  return { ip: m[1], port: Number(m[2]) };
}
const joinHostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** The attributes that identify a service (enough for deletes and destination commands). */
function serviceId(s: IpvsServiceState): Buffer[] {
  const af = s.family === 4 ? AF_INET : AF_INET6;
  if (s.protocol === 'fwm') return [nla(SVC.AF, u16(af)), nla(SVC.FWMARK, u32(Number(s.address)))];
  const { ip, port } = splitHostPort(String(s.address));
  return [nla(SVC.AF, u16(af)), nla(SVC.PROTOCOL, u16(PROTO[s.protocol])), nla(SVC.ADDR, inetAddr(ip)), nla(SVC.PORT, be16(port))];
}

export function encodeService(s: IpvsServiceState, full: boolean): Buffer {
  const parts = serviceId(s);
  if (full) {
    let flags = s.persistent !== null ? IP_VS_SVC_F_PERSISTENT : 0;
    if (s.ops) flags |= 0x4; // IP_VS_SVC_F_ONEPACKET
    const flagsAttr = Buffer.concat([u32(flags), u32(0xffffffff)]);
    const netmask = s.family === 4
      ? inetAddr(s.netmask ?? '255.255.255.255').subarray(0, 4)
      : u32(Number(s.netmask ?? 128));
    parts.push(nla(SVC.SCHED_NAME, Buffer.from(`${s.scheduler}\0`)), nla(SVC.FLAGS, flagsAttr), nla(SVC.TIMEOUT, u32(s.persistent ?? 0)), nla(SVC.NETMASK, netmask));
  }
  return nested(CMD_ATTR.SERVICE, parts);
}

export function encodeDest(s: IpvsServiceState, d: IpvsDestination, full: boolean): Buffer {
  const { ip, port } = splitHostPort(d.address);
  const parts = [nla(DEST.ADDR, inetAddr(ip)), nla(DEST.PORT, be16(port)), nla(DEST.ADDR_FAMILY, u16(ip.includes(':') ? AF_INET6 : AF_INET))];
  if (full) parts.push(nla(DEST.FWD_METHOD, u32(FWD[d.forwarding])), nla(DEST.WEIGHT, u32(d.weight)), nla(DEST.U_THRESH, u32(d.upper)), nla(DEST.L_THRESH, u32(d.lower)));
  return nested(CMD_ATTR.DEST, parts);
}

// ---- decoding -------------------------------------------------------------------------------

function attrs(buf: Buffer): Map<number, Buffer> {
  const m = new Map<number, Buffer>();
  parseAttributes(buf, (a) => { m.set(a.type & 0x3fff, a.data); });
  return m;
}

export function decodeService(data: Buffer): IpvsServiceState | undefined {
  const top = attrs(data).get(CMD_ATTR.SERVICE);
  if (!top) return undefined;
  const a = attrs(top);
  const af = a.get(SVC.AF)!.readUInt16LE();
  const family = af === AF_INET ? 4 : 6;
  const fwmark = a.get(SVC.FWMARK)?.readUInt32LE() ?? 0;
  const flags = a.get(SVC.FLAGS)?.readUInt32LE() ?? 0;
  const timeout = a.get(SVC.TIMEOUT)?.readUInt32LE() ?? 0;
  const nm = a.get(SVC.NETMASK);
  const persistent = flags & IP_VS_SVC_F_PERSISTENT ? timeout : null;
  const protoNum = a.get(SVC.PROTOCOL)?.readUInt16LE() ?? 0;
  return {
    protocol: fwmark ? 'fwm' : protoNum === PROTO.udp ? 'udp' : 'tcp',
    family,
    address: fwmark ? fwmark : joinHostPort(formatInet(a.get(SVC.ADDR)!, af), a.get(SVC.PORT)!.readUInt16BE()),
    scheduler: a.get(SVC.SCHED_NAME)!.toString().replace(/\0.*$/s, ''),
    persistent,
    netmask: persistent === null || !nm ? null : family === 4 ? [...nm.subarray(0, 4)].join('.') : String(nm.readUInt32LE()),
    schedflags: null,
    ops: (flags & 0x4) !== 0,
    realServers: [],
  };
}

export function decodeDest(data: Buffer, family: 4 | 6): IpvsDestination | undefined {
  const top = attrs(data).get(CMD_ATTR.DEST);
  if (!top) return undefined;
  const a = attrs(top);
  const af = a.get(DEST.ADDR_FAMILY)?.readUInt16LE() ?? (family === 4 ? AF_INET : AF_INET6);
  const fwd = (a.get(DEST.FWD_METHOD)?.readUInt32LE() ?? 0) & 0x7;
  const forwarding = (Object.keys(FWD) as Forwarding[]).find((k) => FWD[k] === fwd) ?? 'masq';
  return {
    address: joinHostPort(formatInet(a.get(DEST.ADDR)!, af), a.get(DEST.PORT)!.readUInt16BE()),
    forwarding,
    weight: a.get(DEST.WEIGHT)?.readInt32LE() ?? 0,
    upper: a.get(DEST.U_THRESH)?.readUInt32LE() ?? 0,
    lower: a.get(DEST.L_THRESH)?.readUInt32LE() ?? 0,
  };
}

// ---- the client ------------------------------------------------------------------------------

export class NetlinkIpvs implements Ipvs {
  readonly kind = 'netlink';
  private constructor(private readonly sock: GenericNetlinkSocket, private readonly family: number) {}

  static async open(): Promise<NetlinkIpvs> {
    const sock = createGenericNetlink();
    try {
      const [fam] = await sock.ctrlRequest(genl.Commands.GET_FAMILY, { familyName: 'IPVS' }, { timeout: 2000 });
      if (!fam?.familyId) throw new Error('the kernel has no IPVS (load ip_vs)');
      return new NetlinkIpvs(sock, fam.familyId);
    } catch (e) {
      sock.socket.close();
      throw new Error(`IPVS over netlink: ${(e as Error).message}; is the ip_vs module loaded?`);
    }
  }

  private async req(cmd: number, parts: Buffer[], dump = false) {
    const [msgs] = await this.sock.request(this.family, cmd, IPVS_GENL_VERSION, parts, { flags: dump ? FlagsGet.DUMP : 0, timeout: 5000 });
    return msgs;
  }

  async read(): Promise<IpvsServiceState[]> {
    const services = (await this.req(CMD.GET_SERVICE, [], true)).map((m) => decodeService(m.data)).filter((s): s is IpvsServiceState => !!s);
    for (const s of services) {
      const dests = await this.req(CMD.GET_DEST, [encodeService(s, false)], true);
      s.realServers = dests.map((m) => decodeDest(m.data, s.family)).filter((d): d is IpvsDestination => !!d);
    }
    return services;
  }

  async apply(ops: IpvsOp[]): Promise<void> {
    for (const o of ops) {
      switch (o.op) {
        case 'add-service': await this.req(CMD.NEW_SERVICE, [encodeService(o.service, true)]); break;
        case 'edit-service': await this.req(CMD.SET_SERVICE, [encodeService(o.service, true)]); break;
        case 'delete-service': await this.req(CMD.DEL_SERVICE, [encodeService(o.service, false)]); break;
        case 'add-dest': await this.req(CMD.NEW_DEST, [encodeService(o.service, false), encodeDest(o.service, o.dest, true)]); break;
        case 'edit-dest': await this.req(CMD.SET_DEST, [encodeService(o.service, false), encodeDest(o.service, o.dest, true)]); break;
        case 'delete-dest': await this.req(CMD.DEL_DEST, [encodeService(o.service, false), encodeDest(o.service, o.dest, false)]); break;
      }
    }
  }

  close(): void {
    this.sock.socket.close();
  }
}
