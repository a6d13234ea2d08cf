// The soak (npm run bench:soak [-- --duration 10m --json]): node 1 of a real three-node cluster
// (`aavip up` in the namespace lab) reloaded every second — a valid change and a broken file in
// turn, of cluster.yaml and of ldirectord.cf — while the ldirectord role checks hostile real
// servers (silent, slow-drip, endless line, huge body, and one good one) every second. Samples the
// processes' file descriptors and RSS, times node 1's heartbeats where a peer receives them, and
// judges each reload from the reply, the log and the IPVS table. Progress on stderr; figures on
// stdout. Timings depend on the machine, so they live here, not in a test.
//
// This host's kernel has no IPVS, and `aavip up` programs the role over netlink only (it will not
// start with `lvs.config` here), so the role runs beside the daemon on node 1 as
// `aavip ldirectord run --ipvs ipvsadm`, driving the ipvsadm stand-in the differential test uses
// (test/fixtures/ipvsadm-standin.mjs): the checks, the director, its reloads and every ipvsadm
// call are the real ones; only the kernel table is a file.
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { controlSocketOf } from '../src/config/cluster.js';
import { askDaemon } from '../src/daemon/control-client.js';
import { ClusterLab } from '../src/lab/cluster-lab.js';
import { nodeName } from '../src/lab/vip-lab.js';
import { built, PACKAGE_ROOT } from '../src/paths.js';
import { parseDuration, percentile, resourceTrends, rssMarginKiB, trend, windowsOf, type ResourceSample } from './soak-report.js';
import type { ServerKind } from './soak-servers.js';

const argValue = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const DURATION_MS = parseDuration(argValue('duration') ?? '10m');
const JSON_OUT = process.argv.includes('--json');
const INTERVAL_MS = 100;
const DEADTIME_MS = 500;
const SAMPLE_EVERY_S = 5;
const PREFIX = 'sok';
const HB_PORT = 5405;
const BENCH = join(PACKAGE_ROOT, 'dist', 'bench');
const CLI = built('cli/main.js');
const SERVERS: { kind: ServerKind; address: string }[] = [
  { kind: 'silent', address: '198.18.1.1' },
  { kind: 'drip', address: '198.18.1.2' },
  { kind: 'endless', address: '198.18.1.3' },
  { kind: 'huge', address: '198.18.1.4' },
  { kind: 'good', address: '198.18.1.5' },
];
const GOOD = SERVERS.find((s) => s.kind === 'good')!.address;

const progress = (m: string) => process.stderr.write(`soak: ${m}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** ldirectord.cf with the good server at `weight`; `broken` adds a line ldirectord refuses. */
function ldirectordCf(weight: number, broken: boolean): string {
  // gate: what the role accepts inside `aavip up` too (masq is refused there).
  const reals = SERVERS.map((s) => `\treal=${s.address}:80 gate ${s.kind === 'good' ? weight : 1}`);
  return [
    'checktimeout=1',
    'negotiatetimeout=1',
    'checkinterval=1',
    'quiescent=yes',
    ...(broken ? ['checkinterval=soon'] : []),
    'virtual=198.18.0.100:80',
    ...reals,
    '\tservice=http',
    '\tchecktype=negotiate',
    '\trequest="/health"',
    '\treceive="soak-alive"',
    '\tscheduler=wlc',
    '\tprotocol=tcp',
    '',
  ].join('\n');
}

function resources(pid: number): { fds: number; rssKiB: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rss = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return { fds, rssKiB: rss ? Number(rss[1]) : Number.NaN };
}

/** The last JSON line a helper printed, kept up to date. */
function latestLine<T>(child: ChildProcess): { value?: T; first: Promise<void> } {
  const box: { value?: T; first: Promise<void> } = { first: Promise.resolve() };
  box.first = new Promise((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      box.value = JSON.parse(l) as T;
      resolve();
    });
  });
  return box;
}

/** Counts a process's log lines (pino JSON) by message, keeping only the last few (for an error). */
function countLog(child: ChildProcess): Map<string, number> & { tail?: string[] } {
  const counts: Map<string, number> & { tail?: string[] } = new Map();
  const tail: string[] = (counts.tail = []);
  createInterface({ input: child.stderr! }).on('line', (l) => {
    tail.push(l);
    if (tail.length > 10) tail.shift();
    let msg = l;
    try {
      const j = JSON.parse(l);
      msg = `${j.level >= 50 ? 'error' : j.level >= 40 ? 'warn' : 'info'}: ${j.msg}`;
    } catch {
      /* not JSON: counted as is */
    }
    counts.set(msg, (counts.get(msg) ?? 0) + 1);
  });
  return counts;
}

/** The weight of a real server in the stand-in's IPVS table (a JSON file), wherever it sits. */
function tableWeight(file: string, address: string): number | undefined {
  let table: unknown;
  try {
    table = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const walk = (x: unknown): number | undefined => {
    if (Array.isArray(x)) return x.map(walk).find((w) => w !== undefined);
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (o.addr === address && typeof o.weight === 'number') return o.weight;
      return walk(Object.values(o));
    }
    return undefined;
  };
  return walk(table);
}

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (what()) return true;
    await sleep(25);
  }
  return what();
}

interface ReloadTally {
  valid: number;
  accepted: number;
  broken: number;
  refused: number;
  /** The running configuration verified intact after a broken reload. */
  keptVerified: number;
  unexpected: string[];
}
const tally = (): ReloadTally => ({ valid: 0, accepted: 0, broken: 0, refused: 0, keptVerified: 0, unexpected: [] });

class Soak {
  readonly cluster = tally();
  readonly ldirectord = tally();
  readonly samples = { daemon: [] as ResourceSample[], director: [] as ResourceSample[] };
  /** Node 1's daemon's and the role's V8 heap after each full (mark-compact) GC, from --trace-gc: what a leak of JS objects would raise. */
  readonly heapAfterGc = { daemon: [] as { tMs: number; v: number }[], director: [] as { tMs: number; v: number }[] };
  /** When the soak proper began (drive()): the samples' time origin. */
  t0 = Number.POSITIVE_INFINITY;
  readonly peerEpochs: number[] = [];
  node1DroppedByPeer = 0;
  lateTicks = 0;
  private goodWeight = 2;
  private drainTimeoutMs = 31_000;
  private readonly base: Record<string, any>;
  private readonly socket: string;
  private readonly cf: string;
  private readonly table: string;
  director!: ChildProcess;
  directorLog!: ReturnType<typeof countLog>;
  daemonLog!: Map<string, number>;
  servers!: ReturnType<typeof latestLine<{ kind: string; accepted: number; open: number; bytesSent: number }[]>>;
  capture!: ReturnType<typeof latestLine<Record<string, { datagrams: number; largest: { gapMs: number; at: string }[] }>>>;
  maxOpen = new Map<string, number>();

  constructor(readonly cl: ClusterLab) {
    this.base = cl.readConfig();
    this.socket = controlSocketOf(cl.configFile, { local: nodeName(1), interfaceExists: () => true });
    this.cf = join(cl.dir, 'ldirectord.cf');
    this.table = join(cl.dir, 'ipvs.json');
  }

  get daemonPid(): number {
    return this.cl.daemons.get(1)!.pid!;
  }

  async start(): Promise<void> {
    const { cl } = this;
    const lab = cl.lab;
    const servers = lab.spawn(lab.clientNs, [process.execPath, join(BENCH, 'soak-servers.js'), JSON.stringify(SERVERS)]);
    this.servers = latestLine(servers);
    await this.servers.first;
    for (const i of lab.nodeIds) cl.startDaemon(i, [], {}, i === 1 ? ['--trace-gc'] : []);
    this.daemonLog = countLog(cl.daemons.get(1)!);
    this.traceGc(cl.daemons.get(1)!, this.heapAfterGc.daemon);
    await cl.waitForView(lab.nodeIds, lab.nodeIds, 30_000);
    // At node 2, node 1's heartbeats (the soaked node) and node 3's (no reloads, no checks: the
    // control — gaps it shows too are the machine's). At the daemons' priority (aavip up's --nice
    // default): a starved capture would see gaps the daemons never made.
    this.capture = latestLine(
      lab.spawn(lab.nodeNs(2), [
        'nice',
        '-n',
        '-10',
        process.execPath,
        join(BENCH, 'soak-capture.js'),
        String(HB_PORT),
        lab.nodeAddress(1),
        lab.nodeAddress(3),
      ]),
    );
    await this.capture.first;

    writeFileSync(this.cf, ldirectordCf(this.goodWeight, false));
    const ipvsadm = join(cl.dir, 'ipvsadm');
    writeFileSync(ipvsadm, `#!/bin/sh\nexec '${process.execPath}' '${join(PACKAGE_ROOT, 'test', 'fixtures', 'ipvsadm-standin.mjs')}' "$@"\n`);
    chmodSync(ipvsadm, 0o755);
    mkdirSync(join(cl.dir, 'run'), { recursive: true });
    this.director = lab.spawn(lab.nodeNs(1), [process.execPath, '--trace-gc', CLI, 'ldirectord', '-f', this.cf, 'run', '--ipvs', 'ipvsadm'], {
      ...process.env,
      AAVIP_LOG_LEVEL: 'info',
      AAVIP_IPVSADM: ipvsadm,
      AAVIP_RUN_DIR: join(cl.dir, 'run'),
      IPVSADM_STANDIN_TABLE: this.table,
    });
    this.directorLog = countLog(this.director);
    this.traceGc(this.director, this.heapAfterGc.director);
    // As the lab keeps the daemons' logs there, for a post-mortem.
    const keep = process.env.AAVIP_LAB_LOG_DIR;
    if (keep) this.director.stderr!.on('data', (d: Buffer) => appendFileSync(join(keep, `${PREFIX}-ldirectord.log`), d));
    // SIGHUP only once it is running: `ldirectord run` installs its SIGHUP handler after its first
    // reconcile (the status file appears then), and a SIGHUP before that kills it.
    const ready = () => existsSync(this.statusFile) && tableWeight(this.table, GOOD) === this.goodWeight;
    if (!(await waitFor(ready, 60_000)))
      throw new Error(`the ldirectord role did not put the good real server in the table within 60 s; its log ends:\n${this.directorLog.tail!.join('\n')}`);
  }

  /** --trace-gc writes a line per GC on stdout ("Mark-Compact 40.1 (52.3) -> 31.2 (50.0) MB, ..."): read, or the pipe would fill and stall the process. */
  private traceGc(child: ChildProcess, into: { tMs: number; v: number }[]): void {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      const m = l.match(/Mark-Compact(?: \(reduce\))? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/);
      if (m && Date.now() >= this.t0) into.push({ tMs: Date.now() - this.t0, v: Math.round(Number(m[1]) * 1024) });
    });
  }

  private count(log: Map<string, number>, msg: string): number {
    return log.get(msg) ?? 0;
  }

  private async clusterReload(broken: boolean): Promise<void> {
    const t = this.cluster;
    const refusedBefore = this.count(this.daemonLog, 'error: configuration not reloaded: the file is broken; running on unchanged');
    if (broken) {
      t.broken++;
      this.cl.writeConfig(`${stringify(this.base)}  broken: [unclosed\n`);
    } else {
      t.valid++;
      this.drainTimeoutMs = this.drainTimeoutMs === 31_000 ? 32_000 : 31_000;
      this.base.cluster.drainTimeout = `${this.drainTimeoutMs}ms`;
      this.cl.writeConfig(this.base);
    }
    const reply = await askDaemon(this.socket, { cmd: 'reload' }, 10_000).catch((e: Error) => ({ error: `no reply: ${e.message}` }));
    if (!broken) {
      // Toggling drainTimeout is a change only against the value last accepted: a broken reload in
      // between that had replaced anything would show here.
      if (reply.ok && reply.changes?.includes('drainTimeout')) t.accepted++;
      else t.unexpected.push(`valid cluster.yaml: ${JSON.stringify(reply)}`);
      return;
    }
    const logged = await waitFor(
      () => this.count(this.daemonLog, 'error: configuration not reloaded: the file is broken; running on unchanged') > refusedBefore,
      2000,
    );
    if (reply.error && logged) t.refused++;
    else t.unexpected.push(`broken cluster.yaml: ${JSON.stringify(reply)}, logged ${logged}`);
    const st = await this.cl.status(1);
    if (st?.joined && st.view.live.length === 3) t.keptVerified++;
    else t.unexpected.push(`after a broken cluster.yaml: node 1 ${st ? `joined ${st.joined}, live ${st.view.live}` : 'did not answer'}`);
  }

  private readonly reloaded = () => this.count(this.directorLog, 'info: reloaded');
  private readonly reloadFailed = () => this.count(this.directorLog, 'error: reload failed; keeping the running configuration');
  /** The last SIGHUP sent, judged before the next (a reload runs ipvsadm, slow on a busy machine). */
  private pending?: { broken: boolean; okBefore: number; failedBefore: number; weight: number; sentAt: number };
  /** SIGHUP to the director's log line saying how the reload ended, per reload. */
  readonly ldirectordLatencyMs: number[] = [];

  private async ldirectordReload(broken: boolean): Promise<void> {
    await this.settleLdirectord();
    const weight = broken ? this.goodWeight : this.goodWeight === 2 ? 3 : 2;
    // The broken file asks for another weight too: were it read, the table would show it.
    writeFileSync(this.cf, ldirectordCf(broken ? weight + 10 : weight, broken));
    this.pending = { broken, okBefore: this.reloaded(), failedBefore: this.reloadFailed(), weight, sentAt: Date.now() };
    process.kill(this.director.pid!, 'SIGHUP');
    if (broken) this.ldirectord.broken++;
    else this.ldirectord.valid++;
  }

  /** Judges the last ldirectord.cf reload from the director's log and the IPVS table (waits up to 30 s). */
  async settleLdirectord(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    const t = this.ldirectord;
    // Bounded at 30 s: on a busy machine one reload's ipvsadm calls (a Node process each, with the stand-in) have taken 10.
    const ended = await waitFor(() => this.reloaded() > p.okBefore || this.reloadFailed() > p.failedBefore, 30_000);
    if (ended) this.ldirectordLatencyMs.push(Date.now() - p.sentAt);
    const [ok, failed] = [this.reloaded() - p.okBefore, this.reloadFailed() - p.failedBefore];
    if (p.broken) {
      if (failed === 1 && ok === 0) t.refused++;
      else t.unexpected.push(`broken ldirectord.cf: ${failed} refusals and ${ok} reloads logged`);
      // The running configuration's weight, not the broken file's.
      const w = tableWeight(this.table, GOOD);
      if (w === this.goodWeight) t.keptVerified++;
      else t.unexpected.push(`broken ldirectord.cf: table weight ${w}, the running configuration's ${this.goodWeight}`);
      return;
    }
    this.goodWeight = p.weight;
    const inTable = await waitFor(() => tableWeight(this.table, GOOD) === p.weight, 2000);
    if (ok === 1 && failed === 0 && inTable) t.accepted++;
    else
      t.unexpected.push(
        `valid ldirectord.cf: ${ok} reloads and ${failed} refusals logged, table weight ${tableWeight(this.table, GOOD)}, expected ${p.weight}`,
      );
  }

  /** One reload: cluster.yaml valid, cluster.yaml broken, ldirectord.cf valid, ldirectord.cf broken, in turn. */
  /** When each reload began (wall clock) and of what, to line the largest heartbeat gaps up with them. */
  readonly reloadsAt: { at: number; what: string }[] = [];

  reload(tick: number): Promise<void> {
    const broken = tick % 2 === 1;
    this.reloadsAt.push({ at: Date.now(), what: `${tick % 4 < 2 ? 'cluster.yaml' : 'ldirectord.cf'} ${broken ? 'broken' : 'valid'}` });
    return tick % 4 < 2 ? this.clusterReload(broken) : this.ldirectordReload(broken);
  }

  async sample(tMs: number): Promise<void> {
    this.samples.daemon.push({ tMs, ...resources(this.daemonPid) });
    this.samples.director.push({ tMs, ...resources(this.director.pid!) });
    for (const s of this.servers.value ?? []) this.maxOpen.set(s.kind, Math.max(this.maxOpen.get(s.kind) ?? 0, s.open));
    const peer = await this.cl.status(2);
    if (peer) {
      this.peerEpochs.push(peer.view.epoch);
      if (!peer.view.live.includes(1)) this.node1DroppedByPeer++;
    }
  }

  /** What `ldirectord run` writes every second (src/lvs/supervisor.ts statusFile). */
  get statusFile(): string {
    return join(this.cl.dir, 'run', 'ldirectord.ldirectord.cf.json');
  }

  rounds(): number | undefined {
    try {
      return JSON.parse(readFileSync(this.statusFile, 'utf8')).rounds;
    } catch {
      return undefined;
    }
  }
}

/** Reloads every second and samples every few, until the duration is over; each tick on the clock, not after the last. */
async function drive(soak: Soak): Promise<void> {
  const t0 = Date.now();
  soak.t0 = t0;
  let nextSample = t0;
  let nextProgress = t0;
  for (let tick = 0; Date.now() - t0 < DURATION_MS && tick < DURATION_MS / 1000 + 5; tick++) {
    const due = t0 + tick * 1000;
    if (Date.now() > due + 1000) {
      soak.lateTicks++;
      continue;
    }
    await sleep(Math.max(0, due - Date.now()));
    await soak.reload(tick);
    if (Date.now() >= nextSample) {
      await soak.sample(Date.now() - t0);
      while (nextSample <= Date.now()) nextSample += SAMPLE_EVERY_S * 1000;
    }
    if (Date.now() >= nextProgress) {
      nextProgress += 30_000;
      const d = soak.samples.daemon.at(-1)!;
      const r = soak.samples.director.at(-1)!;
      progress(
        `${Math.round((Date.now() - t0) / 1000)} s: daemon ${d.fds} fds ${Math.round(d.rssKiB / 1024)} MiB, role ${r.fds} fds ${Math.round(r.rssKiB / 1024)} MiB, ` +
          `reloads ${soak.cluster.accepted + soak.ldirectord.accepted}/${soak.cluster.refused + soak.ldirectord.refused} accepted/refused, ` +
          `rounds ${soak.rounds()}, max heartbeat gap node 1 ${soak.capture.value?.[soak.cl.lab.nodeAddress(1)]?.largest[0]?.gapMs} ms, node 3 ${soak.capture.value?.[soak.cl.lab.nodeAddress(3)]?.largest[0]?.gapMs} ms`,
      );
    }
  }
  await soak.settleLdirectord();
  await soak.sample(Date.now() - t0);
}

/** The reloads begun during a gap (or within a second before it, still running when it began). */
function reloadsDuring(reloads: { at: number; what: string }[], gap: { gapMs: number; at: string }): string[] {
  const end = Date.parse(gap.at);
  return reloads.filter((r) => r.at <= end && r.at >= end - gap.gapMs - 1000).map((r) => r.what);
}

/** One node's heartbeats as node 2 received them, the largest gaps lined up with the reloads. */
function stream(soak: Soak, address: string) {
  const hb = soak.capture.value?.[address];
  return {
    datagrams: hb?.datagrams,
    maxGapMs: hb?.largest[0]?.gapMs,
    largestGaps: (hb?.largest ?? []).map((g) => ({ ...g, reloadsDuring: reloadsDuring(soak.reloadsAt, g) })),
  };
}

/** A daemon's own reports of being held up (its timer late: the machine, GC or its own work). */
function heldUp(lines: string[]): { count: number; maxMs: number } {
  let count = 0;
  let maxMs = 0;
  for (const l of lines) {
    if (!l.includes('"the daemon was held up"')) continue;
    count++;
    maxMs = Math.max(maxMs, JSON.parse(l).ms ?? 0);
  }
  return { count, maxMs };
}

function report(soak: Soak) {
  const trends = { daemon: resourceTrends(soak.samples.daemon, DURATION_MS), role: resourceTrends(soak.samples.director, DURATION_MS) };
  const epochs = soak.peerEpochs;
  return {
    command: `node dist/bench/soak.js ${process.argv.slice(2).join(' ')}`.trim(),
    durationMs: DURATION_MS,
    ...windowsOf(DURATION_MS),
    heartbeat: {
      intervalMs: INTERVAL_MS,
      deadtimeMs: DEADTIME_MS,
      atPeer: 'node2',
      node1: stream(soak, soak.cl.lab.nodeAddress(1)),
      control: { node: 'node3 (not reloaded, no checks)', ...stream(soak, soak.cl.lab.nodeAddress(3)) },
    },
    heldUp: soak.cl.lab.nodeIds.map((i) => ({ node: nodeName(i), ...heldUp(soak.cl.logs.get(i) ?? []) })),
    peerView: { epochFirst: epochs[0], epochLast: epochs.at(-1), samplesWithNode1NotLive: soak.node1DroppedByPeer },
    resources: {
      daemon: { pid: soak.daemonPid, ...trends.daemon, heapAfterFullGcKiB: trend(soak.heapAfterGc.daemon, DURATION_MS, rssMarginKiB) },
      ldirectordRole: { pid: soak.director.pid, ...trends.role, heapAfterFullGcKiB: trend(soak.heapAfterGc.director, DURATION_MS, rssMarginKiB) },
    },
    reloads: {
      clusterYaml: soak.cluster,
      ldirectordCf: soak.ldirectord,
      ldirectordCfLatencyMs: { median: percentile(soak.ldirectordLatencyMs, 0.5), max: percentile(soak.ldirectordLatencyMs, 1) },
      ticksSkippedLate: soak.lateTicks,
    },
    checks: {
      rounds: soak.rounds(),
      servers: (soak.servers.value ?? []).map((s) => ({ ...s, maxOpenSampled: soak.maxOpen.get(s.kind) })),
    },
    flat: [trends.daemon.fds, trends.daemon.rssKiB, trends.role.fds, trends.role.rssKiB].every((t) => t.flat),
    samples: soak.samples,
  };
}

function printText(r: ReturnType<typeof report>, out: NodeJS.WritableStream): void {
  const line = (name: string, t: ReturnType<typeof resourceTrends>['fds'], unit: string, scale = 1) =>
    `  ${name.padEnd(22)} start ${Math.round(t.start / scale)}${unit}, after warm-up ${Math.round(t.afterWarmup / scale)}${unit}, end ${Math.round(t.end / scale)}${unit}, ` +
    `slope ${(t.slopePerMin / scale).toFixed(2)}${unit}/min, margin ${Math.round(t.margin / scale)}${unit}: ${t.flat ? 'flat' : 'GROWS'}`;
  const { daemon, ldirectordRole } = r.resources;
  const tallyLine = (name: string, t: ReloadTally) =>
    `  ${name.padEnd(15)} valid ${t.valid} (accepted ${t.accepted}), broken ${t.broken} (refused ${t.refused}, running configuration verified kept ${t.keptVerified}), unexpected ${t.unexpected.length}`;
  out.write(
    [
      `soak of ${r.durationMs / 1000} s (warm-up ${r.warmupMs / 1000} s, windows ${r.windowMs / 1000} s)`,
      line('daemon fds', daemon.fds, ''),
      line('daemon RSS', daemon.rssKiB, ' MiB', 1024),
      line('daemon heap after full GC', daemon.heapAfterFullGcKiB, ' MiB', 1024),
      line('ldirectord role fds', ldirectordRole.fds, ''),
      line('ldirectord role RSS', ldirectordRole.rssKiB, ' MiB', 1024),
      line('role heap after full GC', ldirectordRole.heapAfterFullGcKiB, ' MiB', 1024),
      ...(['node1', 'control'] as const).map((k) => {
        const h = r.heartbeat[k];
        return (
          `  ${k === 'node1' ? 'node 1' : 'node 3 (control)'} heartbeats at node 2: ${h.datagrams} datagrams, max gap ${h.maxGapMs} ms (interval ${INTERVAL_MS} ms, deadtime ${DEADTIME_MS} ms); ` +
          `largest: ${h.largestGaps
            .slice(0, 4)
            .map((g) => `${g.gapMs} ms (${g.reloadsDuring.join(', ') || 'no reload'})`)
            .join('; ')}`
        );
      }),
      `  node 2's view epoch ${r.peerView.epochFirst} → ${r.peerView.epochLast}, node 1 not live in ${r.peerView.samplesWithNode1NotLive} samples; ` +
        `held up (the daemons' own log): ${r.heldUp.map((h) => `${h.node} ${h.count}× (max ${h.maxMs} ms)`).join(', ')}`,
      tallyLine('cluster.yaml', r.reloads.clusterYaml),
      tallyLine('ldirectord.cf', r.reloads.ldirectordCf),
      `  ldirectord.cf reload (SIGHUP to its log line) median ${r.reloads.ldirectordCfLatencyMs.median} ms, max ${r.reloads.ldirectordCfLatencyMs.max} ms; ticks skipped (late) ${r.reloads.ticksSkippedLate}`,
      ...[...r.reloads.clusterYaml.unexpected, ...r.reloads.ldirectordCf.unexpected].slice(0, 10).map((u) => `    ${u}`),
      `  check rounds ${r.checks.rounds}; servers: ${r.checks.servers.map((s) => `${s.kind} ${s.accepted} accepted, ${s.open} open at end (max ${s.maxOpenSampled})`).join('; ')}`,
      `  ${r.flat ? 'flat' : 'NOT flat'}`,
      '',
    ].join('\n'),
  );
}

const cl = await ClusterLab.create({ prefix: PREFIX, intervalMs: INTERVAL_MS, deadtimeMs: DEADTIME_MS, copies: 2 });
const stop = () => void cl.destroy().finally(() => process.exit(130));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
try {
  const soak = new Soak(cl);
  progress(`lab up; starting three daemons, the real servers and the ldirectord role for ${DURATION_MS / 1000} s`);
  await soak.start();
  await drive(soak);
  const r = report(soak);
  // With --json the summary goes to stderr, after the progress, so one run gives both.
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(r)}\n`);
  printText(r, JSON_OUT ? process.stderr : process.stdout);
} finally {
  await cl.destroy();
}
