// The ldirectord role at scale: N cheap HTTP listeners on loopback (in a child process), one
// virtual service with N real servers checked every second by the director (negotiate: HTTP GET
// + body match), against an in-memory IPVS table. Reports checks/s, the director's CPU share, and
// how long a stopped server takes to be quiesced (checkinterval + checktimeout is the bound).
// Usage: node dist/bench/lvs-checks.js [--servers 1000,10000] [--seconds 10] [--json]
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseLdirectordConfig } from '../src/lvs/config/parse.js';
import { Director } from '../src/lvs/director.js';
import { MemoryIpvs } from '../src/lvs/ipvs/memory.js';
import { createLogger } from '../src/log.js';

const BASE_PORT = 20_000;
const HOST = '127.0.0.3';

async function listeners(n: number): Promise<void> {
  // One tiny HTTP responder per port: enough protocol for the check, nothing more.
  const servers: Server[] = [];
  for (let i = 0; i < n; i++) {
    const s = createServer((c) => { c.on('error', () => {}); c.once('data', () => c.end('HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK')); });
    await new Promise<void>((r) => s.listen(BASE_PORT + i, HOST, () => r()));
    servers.push(s);
  }
  process.send!('ready');
  process.on('message', (m: { close: number }) => { servers[m.close].close(); process.send!('closed'); });
}

export interface LvsBenchResult { servers: number; seconds: number; rounds: number; checksPerSec: number; cpuShare: number; detectMs: number; boundMs: number }

async function measure(n: number, seconds: number): Promise<LvsBenchResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--listen', String(n)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((r) => child.once('message', () => r()));
  const reals = Array.from({ length: n }, (_, i) => `\treal=${HOST}:${BASE_PORT + i} masq`).join('\n');
  const cf = `checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=yes\nvirtual=198.18.0.100:80\n${reals}\n\tservice=http\n\trequest="/"\n\treceive="OK"\n`;
  const ipvs = new MemoryIpvs();
  const director = new Director(parseLdirectordConfig(cf, 'bench.cf'), ipvs, { log: createLogger('bench', 'silent'), concurrency: 2000 });
  try {
    await director.start();
    const r0 = director.rounds;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rounds = director.rounds - r0;
    // Detection: stop one server; time until its weight is 0.
    const victim = `${HOST}:${BASE_PORT + Math.floor(n / 2)}`;
    child.send({ close: Math.floor(n / 2) });
    await new Promise<void>((r) => child.once('message', () => r()));
    const t1 = performance.now();
    const weight = () => ipvs.table[0]?.realServers.find((d) => d.address === victim)?.weight;
    while (weight() !== 0 && performance.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 10));
    return { servers: n, seconds: wall, rounds, checksPerSec: (rounds * n) / wall, cpuShare: (cpu.user + cpu.system) / 1e6 / wall, detectMs: performance.now() - t1, boundMs: 2000 };
  } finally {
    await director.stop();
    child.kill();
  }
}

const argv = process.argv;
if (argv.includes('--listen')) {
  void listeners(Number(argv[argv.indexOf('--listen') + 1]));
} else if (argv[1] === fileURLToPath(import.meta.url)) {
  const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
  const results: LvsBenchResult[] = [];
  for (const n of opt('servers', '1000,10000').split(',').map(Number)) {
    process.stderr.write(`checking ${n} HTTP servers every second ...\n`);
    results.push(await measure(n, Number(opt('seconds', '10'))));
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify({ results }, null, 2) + '\n');
  else for (const r of results) process.stdout.write(`${r.servers} servers: ${r.rounds} rounds in ${r.seconds.toFixed(1)} s, ${Math.round(r.checksPerSec)} checks/s, director CPU ${(r.cpuShare * 100).toFixed(0)}% of one core, failure detected in ${Math.round(r.detectMs)} ms (bound ${r.boundMs} ms)\n`);
}
