// The ping check: ICMP echo through a raw socket, up to `checkcount` tries, each given the
// timeout; the check's deadline is all of them, and the tries are paced on the shared sweep.
import type { CheckType } from './lifecycle.js';
import raw from 'raw-socket';
import { ok } from './result.js';

const tries = (checkcount: number) => Math.max(1, checkcount);

export const ping: CheckType = {
  deadlineMs: (t) => t.timeoutMs * tries(t.checkcount),
  run: (run, t) => {
    const v6 = t.host.includes(':');
    const socket = run.raw({ protocol: v6 ? raw.Protocol.ICMPv6 : raw.Protocol.ICMP, addressFamily: v6 ? raw.AddressFamily.IPv6 : raw.AddressFamily.IPv4 });
    const id = process.pid & 0xffff;
    socket.on('message', (buf: Buffer, source: string) => {
      const icmp = v6 ? buf : buf.subarray((buf[0] & 0x0f) * 4);
      if (source === t.host && icmp.length >= 8 && icmp[0] === (v6 ? 129 : 0) && icmp.readUInt16BE(4) === id) run.settle(ok('echo reply'));
    });
    const send = (attempt: number) => {
      const packet = Buffer.alloc(16);
      packet[0] = v6 ? 128 : 8;
      packet.writeUInt16BE(id, 4);
      packet.writeUInt16BE(attempt, 6);
      if (!v6) raw.writeChecksum(packet, 2, raw.createChecksum(packet));
      // A failed send (no route) leaves the try to its timeout, as a lost echo would.
      socket.send(packet, 0, packet.length, t.host, () => {});
      if (attempt + 1 < tries(t.checkcount)) run.after(t.timeoutMs, () => send(attempt + 1));
    };
    send(0);
  },
};
