// The ldirectord role at scale, beside the real ldirectord and keepalived on the same servers:
// N cheap HTTP listeners on loopback (bench/lvs-listeners.ts, a child process), one virtual
// service with N real servers checked every second (HTTP GET /, body "OK", 1 s timeout). Each tool
// runs in its own bounded phase on the same listeners:
//   checks/s   connections the listeners accepted per second, over the measuring window;
//   CPU        the tool's own CPU time over the window (aavip: this process, process.cpuUsage;
//              the others: their process tree from /proc, children they forked included);
//   detection  listeners are closed one at a time (three servers: at 1/4, 1/2 and 3/4 of the list;
//              with --failure hang they accept and never answer instead, so checks time out);
//              time until the tool issues the weight-0 change for that server (aavip: the call
//              that writes it to its IPVS table; ldirectord: its ./ipvsadm stand-in's log;
//              keepalived: its IPVS stand-in's log, both polled every 10 ms); mean and worst. Each close comes after a random 0-1 s pause, so
//              it falls anywhere in the checking cycle. The bound is checkinterval + checktimeout.
// Every tool first checks each server once (its start-up, bounded) and runs 2 s more before the window.
// Ratios compare aavip with each from the same run. Progress goes to stderr.
// Usage: node dist/bench/lvs-checks.js [--servers 1000,10000] [--seconds 10] [--tools aavip,keepalived,ldirectord]
//        [--failure stop|hang] [--startup-limit S] [--detect-limit S] [--json]
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseLdirectordConfig } from '../src/lvs/config/parse.js';
import { Director } from '../src/lvs/director.js';
import { MemoryIpvs } from '../src/lvs/ipvs/memory.js';
import { createLogger } from '../src/log.js';
import type { ListenerReply, ListenerRequest } from './lvs-listeners.js';
import { KEEPALIVED, LDIRECTORD, ldirectordConfig, startKeepalived, startLdirectord, treeCpuSeconds, type BenchSetup, type Rival } from './lvs-rivals.js';

const HOST = '127.0.0.3';
const BASE_PORT = 20_000;
const VIP = '198.18.0.100';
const POLL_MS = 10;
/** Time every tool runs after its start-up before the window opens (rounds settle into their rhythm). */
const SETTLE_MS = 2000;
/** checkinterval + checktimeout of the configuration every tool gets. */
const BOUND_MS = 2000;

export type Tool = 'aavip' | 'ldirectord' | 'keepalived';

export interface ToolResult {
  tool: Tool;
  /** Connections accepted by the listeners per second over the window; null when not measured. */
  checksPerSec: number | null;
  /** CPU seconds per second of wall time (1 = one core) over the window. */
  cpuShare: number | null;
  /** Time from a listener's close to the weight-0 (or removal) command, in ms: mean and worst of the samples seen. */
  detectMs: number | null;
  detectMaxMs: number | null;
  /** Each stopped server's detection time (null: not seen within the limit). */
  detectSamplesMs: (number | null)[];
  /** Time from launch until every server had been checked once, in ms. */
  startupMs: number | null;
  /** aavip: mean time between round starts over the window (the interval kept), in s. */
  roundPeriodS?: number | null;
  /** IPVS changes the tool made in its phase (rivals: through their stand-ins). */
  ipvsChanges?: number;
  windowS: number;
  /** Why a figure is missing, or what qualifies it. */
  note?: string;
}

export interface SizeResult {
  servers: number;
  /** How the servers for the detection figure failed: stopped (refusing) or hung (silent). */
  failure: 'stop' | 'hang';
  boundMs: number;
  tools: ToolResult[];
  /** CPU share of the listener process while each tool ran (the load generator, for context). */
  listenerCpu: Partial<Record<Tool, number>>;
  /** aavip's figure divided by the other tool's (checks/s: higher is better; CPU per check and detection: lower is better). */
  ratios: Record<string, { checksPerSec: number | null; cpuShare: number | null; cpuPerCheck: number | null; detectMs: number | null }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progress = (text: string) => process.stderr.write(`${text}\n`);

class Listeners {
  private constructor(private readonly child: ChildProcess) {}

  static async start(n: number): Promise<Listeners> {
    const here = fileURLToPath(new URL('./lvs-listeners.js', import.meta.url));
    const child = fork(here, [HOST, String(BASE_PORT), String(n)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`listeners exited (${code}) before listening`)));
    });
    child.removeAllListeners('exit');
    return new Listeners(child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  ask(m: ListenerRequest): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('listeners did not answer')), 30_000);
      this.child.once('message', (r: ListenerReply) => {
        clearTimeout(timer);
        resolve(r.accepted);
      });
      this.child.send(m);
    });
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(5000)]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

interface Limits {
  seconds: number;
  startupS: number;
  detectS: number;
  failure: 'close' | 'hang';
}

/** What a phase needs from a tool: its CPU so far, whether it quiesced server i, and how to stop. */
interface Running {
  cpu(): number;
  /** When the weight-0 change for server i was issued (performance.now()), if it has been. */
  removedAt(i: number): number | undefined;
  changes(): number;
  /** Rounds completed so far (aavip only). */
  rounds?(): number;
  failed(): string | undefined;
  stop(): Promise<void>;
}

/**
 * One tool's phase: launch, wait until every server has been checked once (bounded), measure over
 * the window, close the victim's listener and wait for its removal (bounded), stop, reopen.
 */
async function phase(
  tool: Tool,
  s: BenchSetup,
  listeners: Listeners,
  limits: Limits,
  launch: () => Promise<Running | { why: string }>,
): Promise<{ result: ToolResult; listenerCpu: number }> {
  const result: ToolResult = { tool, checksPerSec: null, cpuShare: null, detectMs: null, detectMaxMs: null, detectSamplesMs: [], startupMs: null, windowS: 0 };
  const notes: string[] = [];
  const a0 = await listeners.ask({ op: 'count' });
  const t0 = performance.now();
  const running = await launch();
  if ('why' in running) {
    result.note = running.why;
    return { result, listenerCpu: 0 };
  }
  try {
    // Start-up: until the listeners have seen N connections since launch.
    let lastReport = t0;
    for (;;) {
      const seen = (await listeners.ask({ op: 'count' })) - a0;
      if (seen >= s.n) {
        result.startupMs = performance.now() - t0;
        break;
      }
      const failed = running.failed();
      if (failed) {
        result.note = failed;
        return { result, listenerCpu: 0 };
      }
      if (performance.now() - t0 > limits.startupS * 1000) {
        notes.push(
          `start-up: ${seen} of ${s.n} servers checked and ${running.changes()} IPVS changes made in the first ${limits.startupS} s; measured while still starting`,
        );
        break;
      }
      if (performance.now() - lastReport > 5000) {
        progress(
          `  ${tool}: starting, ${seen}/${s.n} servers checked, ${running.changes()} IPVS changes after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
        );
        lastReport = performance.now();
      }
      await sleep(100);
    }
    await sleep(SETTLE_MS);
    // The window.
    progress(`  ${tool}: measuring for ${limits.seconds} s`);
    const c0 = running.cpu();
    const l0 = treeCpuSeconds(listeners.pid);
    const w0 = performance.now();
    const n0 = await listeners.ask({ op: 'count' });
    const r0 = running.rounds?.();
    await sleep(limits.seconds * 1000);
    const n1 = await listeners.ask({ op: 'count' });
    const wall = (performance.now() - w0) / 1000;
    if (r0 !== undefined) {
      const rounds = running.rounds!() - r0;
      result.roundPeriodS = rounds > 0 ? wall / rounds : null;
    }
    result.windowS = wall;
    result.checksPerSec = (n1 - n0) / wall;
    result.cpuShare = (running.cpu() - c0) / wall;
    const listenerCpu = (treeCpuSeconds(listeners.pid) - l0) / wall;
    const failed = running.failed();
    if (failed) {
      result.note = [...notes, failed].join('; ');
      return { result, listenerCpu };
    }
    // Detection, one stopped server after the other.
    for (const victim of s.victims) {
      if (running.removedAt(victim) !== undefined) {
        notes.push(`server #${victim} was taken out before it was stopped (a false failure)`);
        continue;
      }
      await sleep(Math.random() * 1000);
      progress(`  ${tool}: stopping server #${victim}, waiting up to ${limits.detectS} s for its weight 0`);
      await listeners.ask({ op: limits.failure, index: victim });
      const d0 = performance.now();
      let ms: number | null = null;
      lastReport = d0;
      while (performance.now() - d0 < limits.detectS * 1000 && !running.failed()) {
        const at = running.removedAt(victim);
        if (at !== undefined) {
          ms = at - d0;
          break;
        }
        if (performance.now() - lastReport > 5000) {
          progress(`  ${tool}: ${((performance.now() - d0) / 1000).toFixed(0)} s, not yet`);
          lastReport = performance.now();
        }
        await sleep(POLL_MS);
      }
      result.detectSamplesMs.push(ms);
      if (ms === null) {
        notes.push(running.failed() ?? `server #${victim}: weight 0 not set within ${limits.detectS} s`);
        break;
      }
    }
    const seen = result.detectSamplesMs.filter((x): x is number => x !== null);
    if (seen.length) {
      result.detectMs = seen.reduce((a, b) => a + b, 0) / seen.length;
      result.detectMaxMs = Math.max(...seen);
    }
    return { result, listenerCpu };
  } finally {
    result.ipvsChanges = running.changes();
    if (notes.length) result.note = notes.join('; ');
    await running.stop();
    for (const victim of s.victims) await listeners.ask({ op: 'open', index: victim });
  }
}

async function launchAavip(s: BenchSetup): Promise<Running> {
  const ipvs = new MemoryIpvs();
  const director = new Director(parseLdirectordConfig(ldirectordConfig(s), 'bench.cf'), ipvs, { log: createLogger('bench', 'silent'), concurrency: 2000 });
  // The moment each weight-0 change is written (the director may keep the event loop busy a while
  // after it, which a poll here would count).
  const removedAt = new Map<string, number>();
  const apply = ipvs.apply.bind(ipvs);
  ipvs.apply = async (ops) => {
    for (const o of ops) {
      if ((o.op === 'edit-dest' && o.dest.weight === 0) || o.op === 'delete-dest') {
        if (!removedAt.has(o.dest.address)) removedAt.set(o.dest.address, performance.now());
      }
    }
    return apply(ops);
  };
  // start() runs the first round at once; rounds then come every checkinterval.
  await director.start();
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  return {
    cpu,
    removedAt: (i) => removedAt.get(`${s.host}:${s.basePort + i}`),
    changes: () => ipvs.log.length,
    rounds: () => director.rounds,
    failed: () => undefined,
    stop: () => director.stop(),
  };
}

function wrapRival(r: Rival): Running {
  return {
    cpu: () => treeCpuSeconds(r.pid),
    // Seen in the stand-in's log by this poll: within POLL_MS of the change.
    removedAt: (i) => (r.removed(i) ? performance.now() : undefined),
    changes: () => r.changes(),
    failed: () => (r.exited() ? `${r.name} exited: ${r.tail().trim().split('\n').slice(-3).join(' | ')}` : undefined),
    stop: () => r.stop(),
  };
}

export async function measureSize(n: number, tools: Tool[], limits: Limits): Promise<SizeResult> {
  const s: BenchSetup = { host: HOST, basePort: BASE_PORT, n, vip: VIP, vport: 80, victims: [Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4)] };
  progress(`${n} servers: starting the listeners on ${HOST}:${BASE_PORT}-${BASE_PORT + n - 1}`);
  const listeners = await Listeners.start(n);
  const out: SizeResult = { servers: n, failure: limits.failure === 'close' ? 'stop' : 'hang', boundMs: BOUND_MS, tools: [], listenerCpu: {}, ratios: {} };
  try {
    for (const tool of tools) {
      progress(`${n} servers: ${tool}`);
      let launch: () => Promise<Running | { why: string }>;
      if (tool === 'aavip') launch = () => launchAavip(s);
      else if (tool === 'ldirectord') launch = async () => (existsSync(LDIRECTORD) ? wrapRival(startLdirectord(s)) : { why: `${LDIRECTORD} not installed` });
      else
        launch = async () => {
          if (!existsSync(KEEPALIVED)) return { why: `${KEEPALIVED} not installed` };
          const k = startKeepalived(s);
          return 'why' in k ? k : wrapRival(k);
        };
      const { result, listenerCpu } = await phase(tool, s, listeners, limits, launch);
      out.tools.push(result);
      out.listenerCpu[tool] = listenerCpu;
    }
  } finally {
    await listeners.stop();
  }
  const aavip = out.tools.find((t) => t.tool === 'aavip');
  const div = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null && b > 0 ? a / b : null);
  const perCheck = (t?: ToolResult) => div(t?.cpuShare, t?.checksPerSec);
  for (const other of out.tools.filter((t) => t.tool !== 'aavip')) {
    out.ratios[`aavip/${other.tool}`] = {
      checksPerSec: div(aavip?.checksPerSec, other.checksPerSec),
      cpuShare: div(aavip?.cpuShare, other.cpuShare),
      cpuPerCheck: div(perCheck(aavip), perCheck(other)),
      detectMs: div(aavip?.detectMs, other.detectMs),
    };
  }
  return out;
}

const fmt = (v: number | null, digits = 0, unit = '') => (v === null ? 'n/a' : `${v.toFixed(digits)}${unit}`);

export function formatSize(r: SizeResult): string {
  const lines = [`${r.servers} servers, checked every 1 s (detection of a ${r.failure === 'stop' ? 'stopped' : 'hung'} server; bound ${r.boundMs} ms):`];
  for (const t of r.tools) {
    lines.push(
      `  ${t.tool.padEnd(10)} ${fmt(t.checksPerSec).padStart(6)} checks/s  CPU ${fmt(t.cpuShare === null ? null : t.cpuShare * 100, 0, '%').padStart(5)} of a core  ` +
        `${fmt(t.cpuShare !== null && t.checksPerSec ? (t.cpuShare * 1e6) / t.checksPerSec : null, 0, ' µs/check').padStart(13)}  detection ${fmt(t.detectMs, 0)}/${fmt(t.detectMaxMs, 0, ' ms')} (mean/worst)  ` +
        `start-up ${fmt(t.startupMs === null ? null : t.startupMs / 1000, 1, ' s')}  (listeners ${fmt((r.listenerCpu[t.tool] ?? 0) * 100, 0, '%')})` +
        `${t.roundPeriodS !== undefined ? `  rounds every ${fmt(t.roundPeriodS, 2, ' s')}` : ''}${t.note ? `\n             ${t.note}` : ''}`,
    );
  }
  for (const [k, v] of Object.entries(r.ratios)) {
    lines.push(
      `  ${k}: checks/s ×${fmt(v.checksPerSec, 2)}, CPU ×${fmt(v.cpuShare, 2)}, CPU per check ×${fmt(v.cpuPerCheck, 3)}, detection time ×${fmt(v.detectMs, 3)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv;
  const opt = (name: string, dflt: string) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
  const tools = opt('tools', 'aavip,keepalived,ldirectord').split(',') as Tool[];
  const bad = tools.filter((t) => !['aavip', 'ldirectord', 'keepalived'].includes(t));
  if (bad.length) {
    progress(`unknown tool: ${bad.join(', ')}`);
    process.exit(2);
  }
  const failure = opt('failure', 'stop');
  if (failure !== 'stop' && failure !== 'hang') {
    progress(`--failure is stop or hang, not ${failure}`);
    process.exit(2);
  }
  const limits: Limits = {
    seconds: Number(opt('seconds', '10')),
    startupS: Number(opt('startup-limit', '120')),
    detectS: Number(opt('detect-limit', '60')),
    failure: failure === 'stop' ? 'close' : 'hang',
  };
  const results: SizeResult[] = [];
  for (const n of opt('servers', '1000,10000').split(',').map(Number)) {
    const r = await measureSize(n, tools, limits);
    results.push(r);
    if (!argv.includes('--json')) process.stdout.write(`${formatSize(r)}\n`);
  }
  if (argv.includes('--json')) process.stdout.write(`${JSON.stringify({ results }, null, 2)}\n`);
  process.exit(0);
}
