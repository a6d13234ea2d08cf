// The IPVS generic-netlink messages (src/lvs/ipvs/ip_vs.ts, mapped in netlink.ts): attribute
// numbers read from linux/ip_vs.h itself, and encode/decode round trips against byte vectors
// written out by hand from the header and the kernel's policies in ip_vs_ctl.c (little-endian
// host: netlink integers are host order, ports and addresses network order).
import { existsSync, readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { IpvsServiceState } from '../../src/lvs/config/desired.js';
import { CMD_FIELDS, Commands, FIELDS, formatMessage, parseMessage } from '../../src/lvs/ipvs/ip_vs.js';
import { fromDaemon, fromDest, fromService, opMessage, toDaemon, toService } from '../../src/lvs/ipvs/netlink.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+|#[^\n]*/g, ''), 'hex');
const HEADER = '/usr/include/linux/ip_vs.h';

/** The members of the enum whose first member is `first`, in order (their values are their places). */
function headerEnum(text: string, first: string): string[] {
  const body = text.slice(text.indexOf(first));
  return body
    .slice(0, body.indexOf('}'))
    .split('\n')
    .map((l) => l.trim().match(/^(\w+)/)?.[1])
    .filter((n): n is string => !!n && !n.startsWith('__'));
}
const snake = (camel: string) => camel.replace(/([A-Z])/g, '_$1').toUpperCase();

const SVC: IpvsServiceState = {
  protocol: 'tcp',
  family: 4,
  address: '198.18.0.100:80',
  scheduler: 'wrr',
  persistent: null,
  netmask: null,
  schedflags: null,
  ops: false,
  realServers: [],
};

describe.skipIf(endianness() !== 'LE')('IPVS netlink messages', () => {
  it.skipIf(!existsSync(HEADER))('number every attribute and command as linux/ip_vs.h does', () => {
    const h = readFileSync(HEADER, 'utf8');
    const check = (first: string, prefix: string, fields: readonly (readonly [number, string, unknown])[]) => {
      const names = headerEnum(h, first);
      for (const [type, key] of fields) expect([key, names[type]]).toEqual([key, `${prefix}${snake(key)}`]);
    };
    check('IPVS_CMD_ATTR_UNSPEC', 'IPVS_CMD_ATTR_', CMD_FIELDS);
    check('IPVS_SVC_ATTR_UNSPEC', 'IPVS_SVC_ATTR_', FIELDS.service);
    check('IPVS_DEST_ATTR_UNSPEC', 'IPVS_DEST_ATTR_', FIELDS.dest);
    check('IPVS_DAEMON_ATTR_UNSPEC', 'IPVS_DAEMON_ATTR_', FIELDS.daemon);
    check('IPVS_STATS_ATTR_UNSPEC', 'IPVS_STATS_ATTR_', FIELDS.stats);
    // Every daemon attribute of the header is described (connection sync needs them all).
    expect(FIELDS.daemon.map(([, k]) => `IPVS_DAEMON_ATTR_${snake(k)}`)).toEqual(headerEnum(h, 'IPVS_DAEMON_ATTR_UNSPEC').slice(1));
    const cmds = headerEnum(h, 'IPVS_CMD_UNSPEC');
    for (const [name, value] of Object.entries(Commands).filter(([, v]) => typeof v === 'number')) expect(cmds[value as number]).toBe(`IPVS_CMD_${name}`);
  });

  it('encode a NEW_SERVICE request for a tcp service, byte for byte, and decode it back', () => {
    const { cmd, msg } = opMessage({ op: 'add-service', service: SVC });
    expect(cmd).toBe(Commands.NEW_SERVICE);
    const bytes = hex(`
      54 00 01 00                                  # IPVS_CMD_ATTR_SERVICE, 84 bytes
        06 00 01 00 02 00 00 00                    # AF = AF_INET (u16, padded)
        06 00 02 00 06 00 00 00                    # PROTOCOL = IPPROTO_TCP
        14 00 03 00 c6 12 00 64 00000000 00000000 00000000   # ADDR: nf_inet_addr, 198.18.0.100
        06 00 04 00 00 50 00 00                    # PORT = 80, big-endian
        08 00 06 00 77 72 72 00                    # SCHED_NAME = "wrr\\0"
        0c 00 07 00 00000000 ffffffff              # FLAGS: struct ip_vs_flags { flags 0, mask ~0 }
        08 00 08 00 00000000                       # TIMEOUT = 0
        08 00 09 00 ff ff ff ff                    # NETMASK = 255.255.255.255 (__be32)
    `);
    expect(formatMessage(msg).toString('hex')).toBe(bytes.toString('hex'));
    expect(parseMessage(bytes)).toEqual(msg);
    expect(fromService(parseMessage(bytes).service!)).toEqual(SVC);
  });

  it('encode a NEW_DEST request (fwmark service, direct routing, thresholds)', () => {
    const fwm: IpvsServiceState = { ...SVC, protocol: 'fwm', address: 9 };
    const { cmd, msg } = opMessage({ op: 'add-dest', service: fwm, dest: { address: '198.18.1.3:80', forwarding: 'gate', weight: 2, upper: 9, lower: 1 } });
    expect(cmd).toBe(Commands.NEW_DEST);
    const bytes = hex(`
      14 00 01 00                                  # IPVS_CMD_ATTR_SERVICE (identity only)
        06 00 01 00 02 00 00 00                    # AF = AF_INET
        08 00 05 00 09 00 00 00                    # FWMARK = 9
      48 00 02 00                                  # IPVS_CMD_ATTR_DEST, 72 bytes
        14 00 01 00 c6 12 01 03 00000000 00000000 00000000   # ADDR 198.18.1.3
        06 00 02 00 00 50 00 00                    # PORT 80
        06 00 0b 00 02 00 00 00                    # ADDR_FAMILY = AF_INET
        08 00 03 00 03 00 00 00                    # FWD_METHOD = IP_VS_CONN_F_DROUTE
        08 00 04 00 02 00 00 00                    # WEIGHT = 2
        08 00 05 00 09 00 00 00                    # U_THRESH = 9
        08 00 06 00 01 00 00 00                    # L_THRESH = 1
    `);
    expect(formatMessage(msg).toString('hex')).toBe(bytes.toString('hex'));
    expect(parseMessage(bytes)).toEqual(msg);
    expect(fromDest(parseMessage(bytes).dest!, 4)).toEqual({ address: '198.18.1.3:80', forwarding: 'gate', weight: 2, upper: 9, lower: 1 });
  });

  it('encode a NEW_DAEMON request with every sync daemon attribute but the IPv6 group', () => {
    const d = { state: 'master' as const, interface: 'eth0', syncId: 7, maxLength: 1472, group: '239.1.2.3', port: 8848, ttl: 2 };
    const bytes = hex(`
      3d 00 03 00                                  # IPVS_CMD_ATTR_DAEMON, 61 bytes
        08 00 01 00 01 00 00 00                    # STATE = IP_VS_STATE_MASTER
        09 00 02 00 65 74 68 30 00 000000          # MCAST_IFN = "eth0\\0"
        08 00 03 00 07 00 00 00                    # SYNC_ID = 7
        06 00 04 00 c0 05 0000                     # SYNC_MAXLEN = 1472 (u16)
        08 00 05 00 ef 01 02 03                    # MCAST_GROUP = 239.1.2.3 (in_addr)
        06 00 07 00 90 22 0000                     # MCAST_PORT = 8848 (u16)
        05 00 08 00 02                             # MCAST_TTL = 2 (u8)
    `);
    expect(formatMessage({ daemon: toDaemon(d) }).toString('hex')).toBe(bytes.toString('hex'));
    expect(fromDaemon(parseMessage(bytes).daemon!)).toEqual(d);
    const v6 = { state: 'backup' as const, interface: 'eth1', syncId: 1, group: 'ff02::1:3' };
    const back = parseMessage(formatMessage({ daemon: toDaemon(v6) })).daemon!;
    expect(back.mcastGroup6?.toString('hex')).toBe('ff020000000000000000000000010003');
    expect(fromDaemon(back)).toEqual(v6);
  });

  it('decode a kernel GET_SERVICE reply: padded attributes, nested stats, the NLA_F_NESTED bit, an IPv6 persistent service', () => {
    const bytes = hex(`
      ac 00 01 80                                  # IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, 172 bytes
        06 00 01 00 0a 00 00 00                    # AF = AF_INET6
        06 00 02 00 11 00 00 00                    # PROTOCOL = IPPROTO_UDP
        14 00 03 00 20010db8 00000000 00000000 00000001      # ADDR 2001:db8::1
        06 00 04 00 00 35 00 00                    # PORT 53
        08 00 06 00 73 65 64 00                    # SCHED_NAME "sed\\0"
        0c 00 07 00 07000000 ffffffff              # FLAGS: PERSISTENT|HASHED|ONEPACKET
        08 00 08 00 3c 00 00 00                    # TIMEOUT = 60
        08 00 09 00 40 00 00 00                    # NETMASK = /64 (prefix length, host order)
        58 00 0c 00                                # STATS64, nested
          0c 00 01 00 0500000000000000             # CONNS = 5
          0c 00 02 00 0700000000000000             # INPKTS = 7
          0c 00 03 00 0000000000000000             # OUTPKTS
          0c 00 04 00 2003000000000000             # INBYTES = 800
          0c 00 05 00 0000000000000000             # OUTBYTES
          0c 00 06 00 0000000000000000             # CPS
          0c 00 07 00 0000000000000000             # INPPS
      08 00 04 00 2c 01 00 00                      # IPVS_CMD_ATTR_TIMEOUT_TCP = 300 (not part of the service)
    `);
    const m = parseMessage(bytes);
    expect(m.timeoutTcp).toBe(300);
    expect(m.service!.stats64).toMatchObject({ conns: 5n, inpkts: 7n, inbytes: 800n });
    expect(fromService(m.service!)).toEqual({
      protocol: 'udp',
      family: 6,
      address: '[2001:db8::1]:53',
      scheduler: 'sed',
      persistent: 60,
      netmask: '64',
      schedflags: null,
      ops: true,
      realServers: [],
    });
  });

  it('round-trip every service shape the director writes', () => {
    const shapes: IpvsServiceState[] = [
      SVC,
      { ...SVC, protocol: 'udp', address: '198.18.0.100:53', scheduler: 'rr', persistent: 300, netmask: '255.255.255.0', ops: true },
      { ...SVC, family: 6, address: '[2001:db8::10]:443', scheduler: 'wlc', persistent: 10, netmask: '64' },
      { ...SVC, protocol: 'fwm', family: 6, address: 42, scheduler: 'mh' },
    ];
    for (const s of shapes) expect(fromService(parseMessage(formatMessage({ service: toService(s) })).service!)).toEqual(s);
  });
});
