// The soak's heartbeat capture, run in a peer's namespace by bench/soak.ts: a raw UDP socket gets a
// copy of every UDP datagram the namespace receives (the peer's daemon still gets its own), so the
// gaps between the soaked node's heartbeats are timed where the peer receives them, without
// touching any daemon. argv: the heartbeat port, then the addresses of the nodes to time.
// Every 2 s (and on SIGTERM) a JSON line on stdout, per address: datagrams seen, the largest gaps
// (ms, with the wall time they ended at). A held-up capture only makes gaps look longer, never shorter.
import raw from 'raw-socket';

const [portText, ...sources] = process.argv.slice(2);
const port = Number(portText);
// IPPROTO_UDP (17): the package has the constant, its type declarations (src/types) do not.
const socket = raw.createSocket({ protocol: 17 });

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
interface Stream {
  datagrams: number;
  last?: number;
  /** The 10 largest gaps seen, largest first. */
  largest: { gapMs: number; at: string }[];
}
const streams = new Map<string, Stream>(sources.map((a) => [a, { datagrams: 0, largest: [] }]));

socket.on('message', (packet: Buffer, source: string) => {
  const s = streams.get(source);
  if (!s || packet.length < 20) return;
  const headerLength = (packet[0] & 0x0f) * 4;
  if (packet.length < headerLength + 8 || packet.readUInt16BE(headerLength + 2) !== port) return;
  const t = nowMs();
  s.datagrams++;
  if (s.last !== undefined) {
    const gapMs = t - s.last;
    if (s.largest.length < 10 || gapMs > s.largest[s.largest.length - 1].gapMs) {
      s.largest.push({ gapMs: Math.round(gapMs * 10) / 10, at: new Date().toISOString() });
      s.largest.sort((a, b) => b.gapMs - a.gapMs);
      s.largest.length = Math.min(s.largest.length, 10);
    }
  }
  s.last = t;
});
socket.on('error', (e: Error) => process.stderr.write(`capture: ${e.message}\n`));

const report = () =>
  process.stdout.write(`${JSON.stringify(Object.fromEntries([...streams].map(([a, s]) => [a, { datagrams: s.datagrams, largest: s.largest }])))}\n`);
setInterval(report, 2000);
setTimeout(report, 200);
// Referring to the socket from a handler keeps it reachable: unreferenced, the garbage collector
// closed it a few seconds in (the capture went quiet).
process.on('SIGTERM', () => {
  socket.close();
  report();
  process.exit(0);
});
