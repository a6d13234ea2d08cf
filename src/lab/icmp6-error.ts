// Sends an ICMPv6 "packet too big" error to an IPv6 VIP quoting one of a client's TCP flows, as a
// router with a smaller MTU on the path would (IPv6 routers never fragment, so this error is what
// path MTU discovery lives on). Run in the client namespace with the flow open. The kernel fills in
// the ICMPv6 checksum of a raw ICMPv6 socket.
// Usage: node icmp6-error.js VIP VIP_PORT CLIENT_IP CLIENT_PORT
import raw from 'raw-socket';
import { parseAddress } from '../hash/flow.js';

export function packetTooBig(vip: string, vipPort: number, client: string, clientPort: number, mtu = 1280): Buffer {
  const v = parseAddress(vip);
  const c = parseAddress(client);
  if (v?.family !== 6 || c?.family !== 6) throw new Error('packet too big quotes an IPv6 flow');
  // The quoted packet is one the VIP sent to the client: IPv6 header + first 8 bytes of TCP.
  const inner = Buffer.alloc(48);
  inner[0] = 0x60;
  inner.writeUInt16BE(1440, 4); // payload length of the (too big) original
  inner[6] = 6; // next header: TCP
  inner[7] = 64;
  Buffer.from(v.bytes).copy(inner, 8);
  Buffer.from(c.bytes).copy(inner, 24);
  inner.writeUInt16BE(vipPort, 40);
  inner.writeUInt16BE(clientPort, 42);
  const icmp = Buffer.alloc(8 + inner.length);
  icmp[0] = 2; // packet too big
  icmp.writeUInt32BE(mtu, 4);
  inner.copy(icmp, 8);
  return icmp;
}

if (process.argv[1]?.endsWith('icmp6-error.js')) {
  const [vip, vipPort, client, clientPort] = process.argv.slice(2);
  const socket = raw.createSocket({ addressFamily: raw.AddressFamily.IPv6, protocol: raw.Protocol.ICMPv6 });
  const packet = packetTooBig(vip, Number(vipPort), client, Number(clientPort));
  // Without a pending timer the process was seen to exit before raw-socket sent an IPv6 packet:
  // stay alive until the send's callback (bounded).
  const keepAlive = setTimeout(() => {
    process.stderr.write('send timed out\n');
    process.exit(1);
  }, 5_000);
  socket.send(packet, 0, packet.length, vip, (err: Error | null) => {
    clearTimeout(keepAlive);
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    }
    socket.close();
  });
}
