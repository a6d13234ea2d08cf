// A file of flows, whichever of the four formats it is in: told by its first bytes (the pcap and
// pcapng magic numbers) or its first line (a CSV header, a conntrack entry), or given. Pure: the
// caller reads the file; every fault is an InputError naming the file and the line or packet.
import { InputError } from '../errors.js';
import { parseFlowLine } from '../hash/csv.js';
import type { Flow } from '../hash/flow.js';
import { CaptureError, type CapturedPacket, FlowCollector } from './capture.js';
import { isConntrackEntry, parseConntrackLine } from './conntrack-text.js';
import { PacketError } from './packet.js';
import { isPcap, pcapPackets } from './pcap.js';
import { isPcapng, pcapngPackets } from './pcapng.js';

export const FLOW_FORMATS = ['pcap', 'pcapng', 'conntrack', 'csv'] as const;
export type FlowFormat = (typeof FLOW_FORMATS)[number];

export interface FlowsRead {
  file: string;
  format: FlowFormat;
  flows: Flow[];
  /** Packets (a capture) or lines (text) read. */
  packets?: number;
  lines?: number;
  /** Capture packets that add no flow, by reason. */
  skipped: Record<string, number>;
  /** A capture's TCP connections whose SYN it does not hold (not counted). */
  withoutSyn: number;
}

const CSV_HEADER = /^src_ip\s*,/;

function textLines(b: Uint8Array): string[] {
  return new TextDecoder('utf-8').decode(b).split(/\r?\n/);
}

/** The first line that is neither blank nor a comment, and its 1-based number. */
function firstLine(lines: readonly string[]): [string, number] | undefined {
  const i = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  return i < 0 ? undefined : [lines[i].trim(), i + 1];
}

export function detectFormat(b: Uint8Array, file: string): FlowFormat {
  if (isPcap(b)) return 'pcap';
  if (isPcapng(b)) return 'pcapng';
  const first = firstLine(textLines(b.subarray(0, 64 * 1024)));
  if (first && (isConntrackEntry(first[0]) || first[0].startsWith('conntrack v'))) return 'conntrack';
  if (first && (CSV_HEADER.test(first[0]) || first[0].split(',').length === 5)) return 'csv';
  throw new InputError(
    'cannot tell its format: no pcap or pcapng magic number, and the first line is neither `conntrack -L` output nor CSV (src_ip,src_port,dst_ip,dst_port,proto); give --flows-format',
    { file, line: first?.[1] },
  );
}

function readText(b: Uint8Array, file: string, format: 'csv' | 'conntrack'): FlowsRead {
  const lines = textLines(b);
  const header = format === 'csv' ? firstLine(lines) : undefined;
  const flows: Flow[] = [];
  lines.forEach((text, i) => {
    if (header && i + 1 === header[1] && CSV_HEADER.test(header[0])) return;
    const flow = format === 'csv' ? parseFlowLine(text, i + 1, file) : parseConntrackLine(text, i + 1, file);
    if (flow) flows.push(flow);
  });
  return { file, format, flows, lines: lines.length - (lines.at(-1) === '' ? 1 : 0), skipped: {}, withoutSyn: 0 };
}

function readCapture(b: Uint8Array, file: string, format: 'pcap' | 'pcapng'): FlowsRead {
  const collector = new FlowCollector();
  let current: CapturedPacket | undefined;
  try {
    for (current of format === 'pcap' ? pcapPackets(b) : pcapngPackets(b)) collector.add(current);
  } catch (e) {
    if (e instanceof CaptureError) throw new InputError(e.message, { file, packet: e.packet });
    if (e instanceof PacketError) throw new InputError(`${e.message} (the capture is corrupt)`, { file, packet: current?.number });
    throw e;
  }
  const { flows, packets, skipped, withoutSyn } = collector.result();
  return { file, format, flows, packets, skipped, withoutSyn };
}

/** What was read and passed over, in one sentence. */
export function describeRead(r: FlowsRead): string {
  const count = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
  const read = r.packets !== undefined ? count(r.packets, 'packet') : count(r.lines ?? 0, 'line');
  const skipped = Object.entries(r.skipped).map(([why, n]) => `${n.toLocaleString('en-US')} ${why}`);
  const missed = r.withoutSyn ? [`${count(r.withoutSyn, 'TCP connection')} without its SYN in the capture, not counted`] : [];
  const rest = [...skipped, ...missed];
  return `${r.format}, ${read}, ${count(r.flows.length, 'flow')}${rest.length ? `; passed over: ${rest.join(', ')}` : ''}`;
}

/** The flows of a file's bytes, in `format` or the one its bytes show. */
export function readFlows(b: Uint8Array, file: string, format: FlowFormat = detectFormat(b, file)): FlowsRead {
  const r = format === 'pcap' || format === 'pcapng' ? readCapture(b, file, format) : readText(b, file, format);
  if (r.flows.length === 0) throw new InputError(`no flows in it (${describeRead(r)})`, { file });
  return r;
}
