// From a capture's packets to its flows. A TCP flow is counted once, by its client's SYN (SYN
// without ACK): that packet's source is the client, as in conntrack's original tuple. A UDP flow
// is counted once, by the first packet of its 5-tuple; a later packet either way is the same flow.
import type { Flow } from '../hash/flow.js';
import { decodeFrame } from './packet.js';

export interface CapturedPacket {
  /** 1-based, as tcpdump -r and Wireshark number them. */
  number: number;
  linktype: number;
  data: Uint8Array;
  /** Length on the wire; more than data.length when the snap length cut the packet. */
  originalLength: number;
}

/** A capture whose framing is broken (a record or block cut short or impossible). */
export class CaptureError extends Error {
  constructor(
    message: string,
    /** The packet being read, when the fault is in one; absent for a fault in the file's own header. */
    readonly packet?: number,
  ) {
    super(message);
  }
}

export interface CaptureFlows {
  flows: Flow[];
  packets: number;
  /** Packets that add no flow, by reason. */
  skipped: Record<string, number>;
  /** Distinct TCP connections seen only after their SYN (so not counted: their client is unknown). */
  withoutSyn: number;
}

const keyOf = (proto: number, a: Uint8Array, ap: number, b: Uint8Array, bp: number) => `${proto}/${a.join('.')}/${ap}/${b.join('.')}/${bp}`;

/** Collects the flows of packets fed one at a time, in capture order. */
export class FlowCollector {
  private readonly flows: Flow[] = [];
  private readonly seen = new Set<string>();
  private readonly unseenSyn = new Set<string>();
  private readonly skipped: Record<string, number> = {};
  private packets = 0;

  private skip(reason: string): void {
    this.skipped[reason] = (this.skipped[reason] ?? 0) + 1;
  }

  /** Decodes one packet; a PacketError from the decoder goes up to the caller, who knows its number. */
  add(packet: CapturedPacket): void {
    this.packets++;
    const decoded = decodeFrame(packet.linktype, packet.data, packet.data.length >= packet.originalLength);
    if ('skip' in decoded) return this.skip(decoded.skip);
    const { flow, syn, ack } = decoded.tuple;
    const key = keyOf(flow.proto, flow.src.bytes, flow.srcPort, flow.dst.bytes, flow.dstPort);
    const reverse = keyOf(flow.proto, flow.dst.bytes, flow.dstPort, flow.src.bytes, flow.srcPort);
    if (this.seen.has(key) || this.seen.has(reverse)) return this.skip('later packet of a counted flow');
    if (flow.proto === 6 && !(syn && !ack)) {
      // Mid-connection: count the connection once among those whose SYN the capture missed.
      if (!this.unseenSyn.has(reverse)) this.unseenSyn.add(key);
      return this.skip('TCP segment of a connection whose SYN is not in the capture');
    }
    this.seen.add(key);
    this.unseenSyn.delete(key);
    this.flows.push(flow);
  }

  result(): CaptureFlows {
    return { flows: this.flows, packets: this.packets, skipped: { ...this.skipped }, withoutSyn: this.unseenSyn.size };
  }
}
