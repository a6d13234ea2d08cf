// Sends an ICMP "fragmentation needed" error to the VIP quoting one of a client's TCP flows, as a
// router on the path would when the VIP's replies are too big. Run in the client namespace with
// the flow open. Usage: node icmp-error.js VIP VIP_PORT CLIENT_IP CLIENT_PORT
import raw from 'raw-socket';

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

const ip4 = (s: string) => Buffer.from(s.split('.').map(Number));

export function fragmentationNeeded(vip: string, vipPort: number, client: string, clientPort: number, mtu = 1280): Buffer {
  // The quoted packet is one the VIP sent to the client: IP header + first 8 bytes of TCP.
  const inner = Buffer.alloc(28);
  inner[0] = 0x45;
  inner.writeUInt16BE(1500, 2);
  inner[8] = 64;
  inner[9] = 6;
  ip4(vip).copy(inner, 12);
  ip4(client).copy(inner, 16);
  inner.writeUInt16BE(checksum(inner.subarray(0, 20)), 10);
  inner.writeUInt16BE(vipPort, 20);
  inner.writeUInt16BE(clientPort, 22);
  const icmp = Buffer.alloc(8 + inner.length);
  icmp[0] = 3;
  icmp[1] = 4;
  icmp.writeUInt16BE(mtu, 6);
  inner.copy(icmp, 8);
  icmp.writeUInt16BE(checksum(icmp), 2);
  return icmp;
}

if (process.argv[1]?.endsWith('icmp-error.js')) {
  const [vip, vipPort, client, clientPort] = process.argv.slice(2);
  const socket = raw.createSocket({ protocol: raw.Protocol.ICMP });
  const packet = fragmentationNeeded(vip, Number(vipPort), client, Number(clientPort));
  socket.send(packet, 0, packet.length, vip, (err: Error | null) => {
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 1;
    }
    socket.close();
  });
}
