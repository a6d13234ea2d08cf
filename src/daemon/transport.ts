// How heartbeats travel: datagrams to the peers' addresses. The daemon is handed a transport, so
// the membership scenarios run over an in-memory network (memory-network.ts) as well as UDP.
import { createSocket, type Socket } from 'node:dgram';

export interface Transport {
  /** Sends one datagram to a peer's address (best effort, as UDP). */
  send(packet: Buffer, address: string): void;
  /** Every datagram received, with the address it came from. */
  onPacket(handler: (packet: Buffer, from: string) => void): void;
  close(): void;
}

export class AddressInUse extends Error {}

/**
 * UDP on the node's own address and the cluster's port. The port is bound exclusively: a second
 * daemon for the same node fails here instead of stealing the first one's heartbeats.
 */
export async function openUdpTransport(address: string, port: number, onError: (e: Error) => void): Promise<Transport> {
  const socket: Socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new AddressInUse(`heartbeat port ${address}:${port} is in use (is another aavip running for this node?)`) : e),
    );
    socket.bind(port, address, () => {
      socket.removeAllListeners('error');
      resolve();
    });
  });
  socket.on('error', onError);
  return {
    send: (packet, to) =>
      socket.send(packet, port, to, (e) => {
        if (e) onError(e);
      }),
    onPacket: (handler) => socket.on('message', (msg, rinfo) => handler(msg, rinfo.address.replace(/^::ffff:/, ''))),
    close: () => socket.close(),
  };
}
