// A service for the tracking lab that can be told to fail: it listens on PORT, and on stdin takes
// `down` (stop listening: connects are refused), `up`, or `flap MS` (down and up in turn, each
// for MS). Answers each command with a line once it is in effect.
// Usage: node flapper.js PORT
import { createServer, type Server } from 'node:net';
import { createInterface } from 'node:readline';

const port = Number(process.argv[2]);
if (!Number.isInteger(port)) {
  process.stderr.write('usage: flapper PORT\n');
  process.exit(2);
}
let server: Server | undefined;
let flapping: NodeJS.Timeout | undefined;

const up = () =>
  new Promise<void>((resolve) => {
    if (server) return resolve();
    server = createServer((s) => s.end());
    server.listen({ port, host: '127.0.0.1' }, () => resolve());
  });
const down = () =>
  new Promise<void>((resolve) => {
    const s = server;
    server = undefined;
    if (!s) return resolve();
    s.close(() => resolve());
  });

createInterface({ input: process.stdin }).on('line', async (line) => {
  const [cmd, arg] = line.trim().split(/\s+/);
  clearInterval(flapping);
  if (cmd === 'down') await down();
  else if (cmd === 'up') await up();
  else if (cmd === 'flap') {
    let isUp = !!server;
    flapping = setInterval(() => void ((isUp = !isUp) ? up() : down()), Number(arg));
  }
  process.stdout.write(`${cmd}\n`);
});
process.stdin.on('end', () => process.exit(0));
void up().then(() => process.stdout.write('listening\n'));
