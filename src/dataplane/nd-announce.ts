// Unsolicited neighbour advertisements for an IPv6 VIP: the IPv6 twin of gratuitous ARP. Sent to
// all-nodes (ff02::1) on the VIP's interface with the Override flag and the cluster MAC, so
// neighbours holding another MAC for the VIP switch to the cluster MAC at once (RFC 4861 §7.2.6).
import raw from 'raw-socket';
import type { VipSpec } from './types.js';

const IPPROTO_IPV6 = 41;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const ND_HOP_LIMIT = 255; // receivers drop ND messages that crossed a router

/** The advertisement (the kernel fills in the checksum of a raw ICMPv6 socket). */
export function unsolicitedAdvert(vip: VipSpec): Buffer {
  const msg = Buffer.alloc(32);
  msg[0] = 136; // neighbour advertisement
  msg[4] = 0x20; // Override; not Solicited, not Router
  Buffer.from(vip.address.bytes).copy(msg, 8);
  msg[24] = 2; // target link-layer address option
  msg[25] = 1; // length in units of 8 bytes
  Buffer.from(vip.mac.split(':').map((h) => parseInt(h, 16))).copy(msg, 26);
  return msg;
}

/** Sends `count` unsolicited advertisements for the VIP out of `ifindex`. */
export async function sendUnsolicitedAdverts(vip: VipSpec, ifindex: number, count: number): Promise<void> {
  const socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6 });
  try {
    socket.setOption(IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ND_HOP_LIMIT);
    socket.setOption(IPPROTO_IPV6, IPV6_MULTICAST_IF, ifindex);
    const msg = unsolicitedAdvert(vip);
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        // The pending timer also keeps the process alive until raw-socket has sent the packet.
        const timer = setTimeout(() => reject(new Error('unsolicited neighbour advertisement: send timed out')), 2_000);
        socket.send(msg, 0, msg.length, 'ff02::1', (err: Error | null) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        });
      });
    }
  } finally {
    socket.close();
  }
}
