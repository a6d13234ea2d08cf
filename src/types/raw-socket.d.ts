// The parts of the raw-socket package aavip uses (it ships no type declarations).
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';
  export interface RawSocket extends EventEmitter {
    send(buffer: Buffer, offset: number, length: number, address: string, callback: (error: Error | null, bytes: number) => void): void;
    close(): void;
    setOption(level: number, option: number, value: number): void;
  }
  export const Protocol: { ICMP: number; ICMPv6: number; None: number };
  export const AddressFamily: { IPv4: number; IPv6: number };
  export function createSocket(options: { protocol?: number; addressFamily?: number; bufferSize?: number }): RawSocket;
  export function createChecksum(...buffers: Buffer[]): number;
  export function writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
  const raw: {
    createSocket: typeof createSocket;
    Protocol: typeof Protocol;
    AddressFamily: typeof AddressFamily;
    createChecksum: typeof createChecksum;
    writeChecksum: typeof writeChecksum;
  };
  export default raw;
}
