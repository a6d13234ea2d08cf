// The IPVS generic-netlink interface of include/uapi/linux/ip_vs.h (IPVS_GENL_VERSION 1), as
// typed structures, in the shape of the `netlink` package's own modules (genl, wg): one interface
// per nested attribute set, field by field in the header's order, each read and written with the
// package's helpers. Each attribute is described once (type, field, codec); parse and format are
// derived from that. Payload types follow the kernel's policies in net/netfilter/ipvs/ip_vs_ctl.c
// (ports are big-endian, addresses the 16 bytes of union nf_inet_addr).
import {
  AttrStream,
  getObject,
  getString,
  getU16,
  getU16be,
  getU32,
  getU64,
  getU8,
  putObject,
  putString,
  putU16,
  putU16be,
  putU32,
  putU64,
  putU8,
  type BaseObject,
  type StreamData,
} from 'netlink';

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 0x1;
export const IP_VS_SCHEDNAME_MAXLEN = 16;
export const IP_VS_PENAME_MAXLEN = 16;
export const IP_VS_IFNAME_MAXLEN = 16;

/** Virtual service flags (IP_VS_SVC_F_*). */
export enum SvcFlags {
  PERSISTENT = 0x1,
  HASHED = 0x2,
  ONEPACKET = 0x4,
  SCHED1 = 0x8,
  SCHED2 = 0x10,
  SCHED3 = 0x20,
}
/** Forwarding methods, the low bits of a destination's conn_flags (IP_VS_CONN_F_*). */
export enum ConnFlags {
  FWD_MASK = 0x7,
  MASQ = 0x0,
  LOCALNODE = 0x1,
  TUNNEL = 0x2,
  DROUTE = 0x3,
  BYPASS = 0x4,
}
/** Sync daemon states (IP_VS_STATE_*). */
export enum DaemonState {
  NONE = 0x0,
  MASTER = 0x1,
  BACKUP = 0x2,
}

/** IPVS_CMD_*. */
export enum Commands {
  NEW_SERVICE = 1,
  SET_SERVICE,
  DEL_SERVICE,
  GET_SERVICE,
  NEW_DEST,
  SET_DEST,
  DEL_DEST,
  GET_DEST,
  NEW_DAEMON,
  DEL_DAEMON,
  GET_DAEMON,
  SET_CONFIG,
  GET_CONFIG,
  SET_INFO,
  GET_INFO,
  ZERO,
  FLUSH,
}

/** struct ip_vs_flags: the flags to set and which of them (mask). */
export interface Flags {
  flags: number;
  mask: number;
}

/** IPVS_STATS_ATTR_* (32-bit counters in IPVS_*_ATTR_STATS, all 64-bit in *_STATS64). */
export interface Stats extends BaseObject {
  conns?: bigint;
  inpkts?: bigint;
  outpkts?: bigint;
  inbytes?: bigint;
  outbytes?: bigint;
  cps?: bigint;
  inpps?: bigint;
  outpps?: bigint;
  inbps?: bigint;
  outbps?: bigint;
}

/** IPVS_SVC_ATTR_*, nested in IPVS_CMD_ATTR_SERVICE. */
export interface Service extends BaseObject {
  /** Address family (AF_INET, AF_INET6). */
  af?: number;
  /** IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP. */
  protocol?: number;
  /** union nf_inet_addr (16 bytes; IPv4 in the first 4). */
  addr?: Buffer;
  port?: number;
  fwmark?: number;
  schedName?: string;
  flags?: Flags;
  /** Persistence timeout, seconds. */
  timeout?: number;
  /** __be32: the mask's bytes for IPv4, the prefix length (host order) for IPv6. */
  netmask?: Buffer;
  stats?: Stats;
  peName?: string;
  stats64?: Stats;
}

/** IPVS_DEST_ATTR_*, nested in IPVS_CMD_ATTR_DEST. */
export interface Dest extends BaseObject {
  addr?: Buffer;
  port?: number;
  /** conn_flags; the forwarding method in ConnFlags.FWD_MASK. */
  fwdMethod?: number;
  weight?: number;
  uThresh?: number;
  lThresh?: number;
  activeConns?: number;
  inactConns?: number;
  persistConns?: number;
  stats?: Stats;
  addrFamily?: number;
  stats64?: Stats;
  /** IP_VS_CONN_F_TUNNEL_TYPE_* (IPIP 0, GUE 1, GRE 2). */
  tunType?: number;
  tunPort?: number;
  tunFlags?: number;
}

/** IPVS_DAEMON_ATTR_*, nested in IPVS_CMD_ATTR_DAEMON: a connection-sync daemon. */
export interface Daemon extends BaseObject {
  /** DaemonState: master or backup. */
  state?: number;
  mcastIfn?: string;
  syncId?: number;
  /** UDP payload size of sync messages. */
  syncMaxlen?: number;
  /** IPv4 group, the address's 4 bytes (nla_put_in_addr). */
  mcastGroup?: Buffer;
  /** IPv6 group, 16 bytes. */
  mcastGroup6?: Buffer;
  /** Base port (host order u16, as the kernel reads it). */
  mcastPort?: number;
  mcastTtl?: number;
}

/** IPVS_CMD_ATTR_*: the attributes of a request or reply. */
export interface Message extends BaseObject {
  service?: Service;
  dest?: Dest;
  daemon?: Daemon;
  timeoutTcp?: number;
  timeoutTcpFin?: number;
  timeoutUdp?: number;
}

// ---- one description per attribute set ---------------------------------------------------------

interface Codec<T> {
  get(b: Buffer): T;
  put(x: T): StreamData;
}
export type Field<T> = readonly [type: number, key: keyof T & string, codec: Codec<any>];

const u8: Codec<number> = { get: getU8, put: putU8 };
const u16: Codec<number> = { get: getU16, put: putU16 };
const be16: Codec<number> = { get: getU16be, put: putU16be };
const u32: Codec<number> = { get: getU32, put: putU32 };
const bytes: Codec<Buffer> = { get: (b) => Buffer.from(b), put: (x) => x };
const string: Codec<string> = { get: (b) => getString(b), put: (x) => putString(x) };
const flags: Codec<Flags> = {
  get: (b) => ({ flags: getU32(b.subarray(0, 4)), mask: getU32(b.subarray(4, 8)) }),
  put: (x) => [putU32(x.flags), putU32(x.mask)],
};
const u32asBig: Codec<bigint> = { get: (b) => BigInt(getU32(b)), put: (x) => putU32(Number(x)) };
const u64: Codec<bigint> = { get: getU64, put: putU64 };

function objectCodec<T extends BaseObject>(fields: readonly Field<T>[]): Codec<T> {
  const byType: Record<number, (data: Buffer, obj: T) => void> = {};
  const byKey: Record<string, (out: AttrStream, obj: T) => void> = {};
  for (const [type, key, codec] of fields) {
    byType[type] = (data, obj) => {
      (obj as Record<string, unknown>)[key] = codec.get(data);
    };
    byKey[key] = (out, obj) => out.push(type, codec.put(obj[key]));
  }
  return { get: (b) => getObject<T>(b, byType), put: (x) => putObject<T>(x, byKey) };
}

const statsFields = (counter: Codec<bigint>, bytesCounter: Codec<bigint>): Field<Stats>[] => [
  [1, 'conns', counter],
  [2, 'inpkts', counter],
  [3, 'outpkts', counter],
  [4, 'inbytes', bytesCounter],
  [5, 'outbytes', bytesCounter],
  [6, 'cps', counter],
  [7, 'inpps', counter],
  [8, 'outpps', counter],
  [9, 'inbps', counter],
  [10, 'outbps', counter],
];
/** IPVS_*_ATTR_STATS: u32 counters, u64 byte counters. */
const stats = objectCodec<Stats>(statsFields(u32asBig, u64));
/** IPVS_*_ATTR_STATS64: every counter u64. */
const stats64 = objectCodec<Stats>(statsFields(u64, u64));

/**
 * Every attribute, as [IPVS_<SET>_ATTR_* value, field, codec]; a field's name is the header's
 * name in camel case (IPVS_SVC_ATTR_SCHED_NAME → schedName). Exported for the test that reads
 * the header.
 */
export const FIELDS = {
  stats: statsFields(u32asBig, u64),
  service: [
    [1, 'af', u16],
    [2, 'protocol', u16],
    [3, 'addr', bytes],
    [4, 'port', be16],
    [5, 'fwmark', u32],
    [6, 'schedName', string],
    [7, 'flags', flags],
    [8, 'timeout', u32],
    [9, 'netmask', bytes],
    [10, 'stats', stats],
    [11, 'peName', string],
    [12, 'stats64', stats64],
  ] as Field<Service>[],
  dest: [
    [1, 'addr', bytes],
    [2, 'port', be16],
    [3, 'fwdMethod', u32],
    [4, 'weight', u32],
    [5, 'uThresh', u32],
    [6, 'lThresh', u32],
    [7, 'activeConns', u32],
    [8, 'inactConns', u32],
    [9, 'persistConns', u32],
    [10, 'stats', stats],
    [11, 'addrFamily', u16],
    [12, 'stats64', stats64],
    [13, 'tunType', u8],
    [14, 'tunPort', be16],
    [15, 'tunFlags', u16],
  ] as Field<Dest>[],
  daemon: [
    [1, 'state', u32],
    [2, 'mcastIfn', string],
    [3, 'syncId', u32],
    [4, 'syncMaxlen', u16],
    [5, 'mcastGroup', bytes],
    [6, 'mcastGroup6', bytes],
    [7, 'mcastPort', u16],
    [8, 'mcastTtl', u8],
  ] as Field<Daemon>[],
} as const;

const service = objectCodec<Service>(FIELDS.service);
const dest = objectCodec<Dest>(FIELDS.dest);
const daemon = objectCodec<Daemon>(FIELDS.daemon);
/** IPVS_CMD_ATTR_*. */
const cmdFields: Field<Message>[] = [
  [1, 'service', service],
  [2, 'dest', dest],
  [3, 'daemon', daemon],
  [4, 'timeoutTcp', u32],
  [5, 'timeoutTcpFin', u32],
  [6, 'timeoutUdp', u32],
];
export const CMD_FIELDS: readonly Field<Message>[] = cmdFields;
const message = objectCodec<Message>(cmdFields);

/** Parses the attributes of an IPVS request or reply (after the genl header). */
export const parseMessage = (b: Buffer): Message => message.get(b);

/** Encodes an IPVS message as the attribute bytes of a request. */
export function formatMessage(x: Message): Buffer {
  const out = new AttrStream();
  out.emit(message.put(x));
  return Buffer.concat(out.bufs);
}
