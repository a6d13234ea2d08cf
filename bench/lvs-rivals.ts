// The real ldirectord and keepalived, run on the same real servers as aavip's ldirectord role for
// bench/lvs-checks.ts. Neither may touch the host's IPVS (which this kernel may not even have):
//  - ldirectord runs with -d from a scratch directory holding a stand-in ./ipvsadm (ldirectord
//    uses ./ipvsadm when debugging), which logs its arguments and lists a table holding the
//    virtual service and the server the bench will stop (so ldirectord has something to quiesce);
//  - keepalived runs its checker only (-C, foreground), with bench/ipvs-stand-in.c preloaded to
//    answer its IPVS socket options and log its changes.
// Each tool is one process tree started here and stopped by its PIDs.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LDIRECTORD = '/usr/sbin/ldirectord';
export const KEEPALIVED = '/usr/sbin/keepalived';

/** The servers and check settings every tool gets. */
export interface BenchSetup {
  host: string;
  basePort: number;
  n: number;
  vip: string;
  vport: number;
  /** Indexes of the servers the bench stops, one after the other. */
  victims: number[];
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds used by `root` and its descendants, living or reaped (utime+stime+cutime+cstime). */
export function treeCpuSeconds(root: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      /* gone meanwhile */
    }
  }
  let ticks = 0;
  const todo = [root];
  const seen = new Set<number>();
  // Bounded by the number of processes read above.
  while (todo.length && seen.size <= stats.size) {
    const pid = todo.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [p, s] of stats) if (s.ppid === pid) todo.push(p);
  }
  return ticks / CLK_TCK;
}

/** A rival under test: its PID, whether it has quiesced/removed a server yet, and how to stop it. */
export interface Rival {
  name: 'ldirectord' | 'keepalived';
  pid: number;
  /** Last lines it wrote (for a failure report). */
  tail(): string;
  exited(): boolean;
  /** Whether the server at index `i` has been set to weight 0 (or removed). */
  removed(i: number): boolean;
  /** IPVS changes it has made so far (through its stand-in). */
  changes(): number;
  stop(): Promise<void>;
}

/** Stops a process we started: SIGTERM, then SIGKILL after `graceMs` (also to `extra`, e.g. a forked checker). */
async function stopPid(child: ChildProcess, graceMs: number, extra: () => number[] = () => []): Promise<void> {
  const pids = [child.pid!, ...extra()];
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    await Promise.race([gone, new Promise((r) => setTimeout(r, graceMs))]);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 0);
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function keepTail(child: ChildProcess): () => string {
  let tail = '';
  const take = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return () => tail;
}

/**
 * A tool's IPVS change log, read as it grows: how many changes so far, and which reals were
 * taken out (`removalOf` names the real a line takes out, if any).
 */
function changeLog(file: string, removalOf: (line: string) => string | undefined) {
  let offset = 0;
  let changes = 0;
  const removed = new Set<string>();
  const poll = () => {
    if (!existsSync(file)) return;
    const size = statSync(file).size;
    if (size <= offset) return;
    const text = readFileSync(file, 'utf8').slice(offset);
    offset = size;
    for (const l of text.split('\n')) {
      if (!l) continue;
      changes++;
      const real = removalOf(l);
      if (real) removed.add(real);
    }
  };
  return {
    removed: (real: string) => {
      poll();
      return removed.has(real);
    },
    changes: () => {
      poll();
      return changes;
    },
  };
}

/** ldirectord.cf as aavip reads it too: one virtual, N reals, an HTTP GET of / expecting "OK", every second. */
export function ldirectordConfig(s: BenchSetup): string {
  const reals = Array.from({ length: s.n }, (_, i) => `\treal=${s.host}:${s.basePort + i} masq`).join('\n');
  return `checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nquiescent=yes\nvirtual=${s.vip}:${s.vport}\n${reals}\n\tservice=http\n\trequest="/"\n\treceive="OK"\n`;
}

export function startLdirectord(s: BenchSetup): Rival {
  const dir = mkdtempSync(join(tmpdir(), 'aavip-bench-ld-'));
  const victims = s.victims.map((i) => `${s.host}:${s.basePort + i}`);
  // The pid file is /var/run/ldirectord.<file name>.pid: a name of our own keeps clear of other runs.
  const cf = join(dir, `aavip-bench-${process.pid}-${s.n}.cf`);
  writeFileSync(cf, ldirectordConfig(s));
  const head = 'IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n';
  writeFileSync(
    join(dir, 'table.txt'),
    `${head}  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\nTCP  ${s.vip}:${s.vport} wrr\n${victims.map((v) => `  -> ${v.padEnd(28)}Masq    1      0          0\n`).join('')}`,
  );
  writeFileSync(
    join(dir, 'table-t.txt'),
    `${head}  -> RemoteAddress:Port            Uthreshold Lthreshold ActiveConn InActConn\nTCP  ${s.vip}:${s.vport} wrr\n${victims.map((v) => `  -> ${v.padEnd(29)}0          0          0          0\n`).join('')}`,
  );
  writeFileSync(
    join(dir, 'ipvsadm'),
    '#!/bin/sh\n# Stand-in for ipvsadm: lists a fixed table, logs every change.\ncase "$*" in\n  *--thresholds*) exec cat "${0%/*}/table-t.txt";;\n  -L*|-l*) exec cat "${0%/*}/table.txt";;\nesac\necho "$*" >> "${0%/*}/ipvsadm.log"\n',
  );
  chmodSync(join(dir, 'ipvsadm'), 0o755);
  const child = spawn(LDIRECTORD, ['-d', cf, 'start'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  // Its debug output is a few lines per check: drained, only the tail kept.
  const tail = keepTail(child);
  // Quiescent: "-e -t VIP -r REAL -m -w 0"; without quiescent it would be "-d -t VIP -r REAL".
  const log = changeLog(join(dir, 'ipvsadm.log'), (l) => {
    const real = / -r (\S+)/.exec(l)?.[1];
    return real && ((l.startsWith('-e ') && l.endsWith(' -w 0')) || l.startsWith('-d ')) ? real : undefined;
  });
  return {
    name: 'ldirectord',
    pid: child.pid!,
    tail,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    removed: (i) => log.removed(`${s.host}:${s.basePort + i}`),
    changes: log.changes,
    stop: async () => {
      await stopPid(child, 10_000);
      rmSync(`/var/run/ldirectord.${cf.split('/').pop()}.pid`, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** keepalived.conf with the same checks: HTTP GET / expecting 200 and "OK", every second, 1 s timeout, no retry, weight 0 on failure. */
export function keepalivedConfig(s: BenchSetup): string {
  const reals = Array.from(
    { length: s.n },
    (_, i) => `  real_server ${s.host} ${s.basePort + i} {
    weight 1
    inhibit_on_failure
    HTTP_GET {
      url {
        path /
        status_code 200
        regex "OK"
      }
      connect_timeout 1
      retry 0
    }
  }
`,
  ).join('');
  return `global_defs {\n  router_id aavip_bench\n}\nvirtual_server ${s.vip} ${s.vport} {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n${reals}}\n`;
}

/** Builds the IPVS stand-in (bench/ipvs-stand-in.c) into `dir`; undefined with the reason when it cannot. */
function buildStandIn(dir: string): { so?: string; why?: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const source = [join(here, 'ipvs-stand-in.c'), join(here, '../../bench/ipvs-stand-in.c')].find((p) => existsSync(p));
  if (!source) return { why: 'bench/ipvs-stand-in.c not found' };
  const so = join(dir, 'ipvs-stand-in.so');
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', so, source, '-ldl'], { stdio: 'pipe', timeout: 60_000 });
    return { so };
  } catch (e) {
    return { why: `cannot build the IPVS stand-in with cc: ${(e as Error).message.split('\n')[0]}` };
  }
}

export function startKeepalived(s: BenchSetup): Rival | { why: string } {
  const dir = mkdtempSync(join(tmpdir(), 'aavip-bench-ka-'));
  const { so, why } = buildStandIn(dir);
  if (!so) {
    rmSync(dir, { recursive: true, force: true });
    return { why: why! };
  }
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, keepalivedConfig(s));
  const log = join(dir, 'ipvs.log');
  const child = spawn(
    KEEPALIVED,
    ['-n', '-G', '-C', '-f', conf, '-p', join(dir, 'keepalived.pid'), '-c', join(dir, 'checkers.pid'), '-r', join(dir, 'vrrp.pid')],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LD_PRELOAD: so, AAVIP_IPVS_LOG: log },
    },
  );
  const tail = keepTail(child);
  // "<time> editdest REAL 0" (inhibit_on_failure), or "<time> deldest REAL <weight>".
  const changes = changeLog(log, (l) => {
    const [, op, real, weight] = l.split(' ');
    return (op === 'editdest' && weight === '0') || op === 'deldest' ? real : undefined;
  });
  // The checker is a child keepalived forks: its PID file names it.
  const checker = () => {
    try {
      return [Number(readFileSync(join(dir, 'checkers.pid'), 'utf8').trim())].filter((p) => p > 0);
    } catch {
      return [];
    }
  };
  return {
    name: 'keepalived',
    pid: child.pid!,
    tail,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    removed: (i) => changes.removed(`${s.host}:${s.basePort + i}`),
    changes: changes.changes,
    stop: async () => {
      await stopPid(child, 10_000, checker);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
