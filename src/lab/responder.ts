// The lab's tiny server: run in a node namespace, it answers every TCP connection with the node's
// name, then echoes whatever the client sends (so long-lived connections can be probed).
// Usage: node responder.js NAME PORT
import { createServer } from 'node:net';

const [name, portText] = process.argv.slice(2);
const port = Number(portText);
if (!name || !Number.isInteger(port)) {
  process.stderr.write('usage: responder NAME PORT\n');
  process.exit(2);
}
const server = createServer((socket) => {
  socket.on('error', () => socket.destroy());
  socket.write(`${name}\n`);
  socket.on('data', (d) => socket.write(d));
});
// '::' takes IPv4 and IPv6 connections alike (labs may carry an IPv6 VIP).
server.listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write(`listening ${port}\n`));
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => server.close(() => process.exit(0)));
