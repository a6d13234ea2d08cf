// The soak's heartbeat capture, run in a peer's namespace by bench/soak.ts: a raw UDP socket gets a
// copy of every UDP datagram the namespace receives (the peer's daemon still gets its own), so the
// gaps between the soaked node's heartbeats are timed where the peer receives them, without
// touching either daemon. argv: the soaked node's address, the heartbeat port.
// Every 2 s (and on SIGTERM) a JSON line on stdout: datagrams seen, the largest gaps (ms, with the
// wall time they ended at). A held-up capture process only makes gaps look longer, never shorter.
import raw from 'raw-socket';

const [from, portText] = process.argv.slice(2);
const port = Number(portText);
// IPPROTO_UDP (17): the package has the constant, its type declarations (src/types) do not.
const socket = raw.createSocket({ protocol: 17 });

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
let datagrams = 0;
let last: number | undefined;
/** The 10 largest gaps seen, largest first. */
const largest: { gapMs: number; at: string }[] = [];

socket.on('message', (packet: Buffer, source: string) => {
  if (source !== from || packet.length < 20) return;
  const headerLength = (packet[0] & 0x0f) * 4;
  if (packet.length < headerLength + 8 || packet.readUInt16BE(headerLength + 2) !== port) return;
  const t = nowMs();
  datagrams++;
  if (last !== undefined) {
    const gapMs = t - last;
    if (largest.length < 10 || gapMs > largest[largest.length - 1].gapMs) {
      largest.push({ gapMs: Math.round(gapMs * 10) / 10, at: new Date().toISOString() });
      largest.sort((a, b) => b.gapMs - a.gapMs);
      largest.length = Math.min(largest.length, 10);
    }
  }
  last = t;
});
socket.on('error', (e: Error) => process.stderr.write(`capture: ${e.message}\n`));

const report = () => process.stdout.write(`${JSON.stringify({ datagrams, largest })}\n`);
setInterval(report, 2000);
setTimeout(report, 200);
// Referring to the socket from a handler keeps it reachable: unreferenced, the garbage collector
// closed it a few seconds in (the capture went quiet).
process.on('SIGTERM', () => {
  socket.close();
  report();
  process.exit(0);
});
