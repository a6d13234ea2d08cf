// The lab's tiny server: run in a node namespace, it answers every TCP connection with the node's
// name, then echoes whatever the client sends (so long-lived connections can be probed).
// With `peer`, the greeting names the connecting address too (NAME@ADDRESS): which proxy forwarded it.
// Usage: node responder.js NAME PORT [peer]
import { createServer } from 'node:net';

const [name, portText, peer] = process.argv.slice(2);
const port = Number(portText);
if (!name || !Number.isInteger(port)) {
  process.stderr.write('usage: responder NAME PORT\n');
  process.exit(2);
}
const server = createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.write(peer === 'peer' ? `${name}@${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}\n` : `${name}\n`);
  socket.on('data', (d) => socket.write(d));
});
// '::' takes IPv4 and IPv6 connections alike (labs may carry an IPv6 VIP).
server.listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write(`listening ${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
