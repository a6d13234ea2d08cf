// A real Corosync + Pacemaker cluster on this machine: each node in its own network, mount and UTS
// namespace, with a private /run, /dev/shm, /etc/corosync, /var/lib/{corosync,pacemaker} and logs,
// so the daemons and the resource agents' state never mix. Used to run OCF agents for real.
// Every process is found by PID (the holders, and whatever runs in a node's network namespace)
// and killed on destroy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../exec.js';
import { built } from '../paths.js';
import type { LoadOptions, TimedAttempt } from './load.js';
import { parseCrmMon, type ClusterState, type CrashRun } from './pacemaker-state.js';
import { NetnsLab } from './netns.js';

export interface PacemakerLabOptions {
  /** Namespace prefix (see NetnsLab). */
  prefix: string;
  nodes?: number;
  /** Corosync's token timeout; failure detection takes about token + consensus (1.2 × token). */
  tokenMs?: number;
  /** Pacemaker's dc-deadtime: how long a starting controller waits for a DC before electing one. */
  dcDeadtime?: string;
  clientAddresses?: number;
}

/** One clone instance or primitive as crm_mon shows it. */
export { outageFigures, parseCrmMon, type ClusterState, type CrashRun, type FailedAction, type OutageFigures, type ResourceState } from './pacemaker-state.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PacemakerLab {
  private holders = new Map<number, ChildProcess>();

  private constructor(
    readonly lab: NetnsLab,
    readonly dir: string,
    private readonly o: Required<PacemakerLabOptions>,
  ) {}

  static async create(options: PacemakerLabOptions): Promise<PacemakerLab> {
    const o = { nodes: 3, tokenMs: 1000, dcDeadtime: '2s', clientAddresses: 60, ...options };
    const lab = await NetnsLab.create({ prefix: o.prefix, nodes: o.nodes, clientAddresses: o.clientAddresses });
    const pl = new PacemakerLab(lab, mkdtempSync(join(tmpdir(), `aavip-${o.prefix}-`)), o);
    try {
      writeFileSync(join(pl.dir, 'authkey'), randomBytes(256));
      chmodSync(join(pl.dir, 'authkey'), 0o400);
      writeFileSync(join(pl.dir, 'corosync.conf'), pl.corosyncConf());
      for (const i of lab.nodeIds) await pl.startNode(i, true);
      return pl;
    } catch (e) {
      await pl.destroy();
      throw e;
    }
  }

  nodeName(i: number): string {
    return `node${i}`;
  }
  get nodeNames(): string[] {
    return this.lab.nodeIds.map((i) => this.nodeName(i));
  }

  private corosyncConf(): string {
    // Explicit node names: all nodes share one kernel, so uname -n cannot tell them apart.
    const nodes = this.lab.nodeIds
      .map((i) => `  node {\n    ring0_addr: ${this.lab.nodeAddress(i)}\n    nodeid: ${i}\n    name: ${this.nodeName(i)}\n  }`)
      .join('\n');
    return `totem {
  version: 2
  cluster_name: aavip-lab
  transport: knet
  token: ${this.o.tokenMs}
  crypto_cipher: aes256
  crypto_hash: sha256
}
nodelist {
${nodes}
}
quorum {
  provider: corosync_votequorum
}
logging {
  to_logfile: yes
  logfile: /var/log/corosync/corosync.log
  timestamp: hires
  to_stderr: no
  to_syslog: no
}
`;
  }

  /**
   * The CIB a node starts from: no fencing in a lab, and a short dc-deadtime (the default 20 s
   * is most of a cluster's start-up). Written only for a fresh node; a restarted node syncs
   * the cluster's.
   */
  private initialCib(): string {
    return `<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="cib-bootstrap-options-stonith-enabled" name="stonith-enabled" value="false"/>
        <nvpair id="cib-bootstrap-options-dc-deadtime" name="dc-deadtime" value="${this.o.dcDeadtime}"/>
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
`;
  }

  private stateDir(i: number): string {
    return join(this.dir, `node${i}`);
  }

  /** A holder process with node i's private mounts and hostname; then corosync and pacemakerd inside it. */
  private async startNode(i: number, fresh: boolean): Promise<void> {
    const state = this.stateDir(i);
    if (fresh) rmSync(state, { recursive: true, force: true });
    for (const d of [
      'etc-corosync',
      'lib-corosync',
      'lib-pacemaker/cib',
      'lib-pacemaker/pengine',
      'lib-pacemaker/blackbox',
      'lib-pacemaker/cores',
      'log-pacemaker',
      'log-corosync',
    ]) {
      mkdirSync(join(state, d), { recursive: true });
    }
    if (fresh) writeFileSync(join(state, 'lib-pacemaker/cib/cib.xml'), this.initialCib(), { mode: 0o600 });
    const setup = [
      `hostname ${this.nodeName(i)}`,
      'mount -n -t tmpfs tmpfs /run',
      'mount -n -t tmpfs tmpfs /dev/shm',
      'mkdir -p /run/crm /run/aavip',
      `cp ${this.dir}/corosync.conf ${this.dir}/authkey ${state}/etc-corosync/`,
      `mount -n --bind ${state}/etc-corosync /etc/corosync`,
      `mount -n --bind ${state}/lib-corosync /var/lib/corosync`,
      `chown -R hacluster:haclient ${state}/lib-pacemaker ${state}/log-pacemaker`,
      `mount -n --bind ${state}/lib-pacemaker /var/lib/pacemaker`,
      `mount -n --bind ${state}/log-pacemaker /var/log/pacemaker`,
      `mount -n --bind ${state}/log-corosync /var/log/corosync`,
      'echo ready',
      'exec sleep infinity',
    ].join(' && ');
    // setsid, ip netns exec, unshare and `exec sleep` all exec in place: the holder's PID is the
    // process that carries the node's namespaces, for nsenter.
    const holder = spawn('setsid', ['ip', 'netns', 'exec', this.lab.nodeNs(i), 'unshare', '-m', '-u', '--propagation', 'private', 'sh', '-c', setup], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    holder.stderr!.on('data', (d) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`node ${i} holder exited ${code}: ${stderr.trim()}`)));
    });
    this.holders.set(i, holder);
    this.inNode(i, ['corosync', '-f']);
    await this.waitFor(async () => (await this.exec(i, ['corosync-cfgtool', '-s'], true)).status === 0, 10_000, `corosync on node ${i}`);
    this.inNode(i, ['pacemakerd']);
  }

  private nsenter(i: number): string[] {
    const pid = this.holders.get(i)?.pid;
    if (!pid) throw new Error(`node ${i} is not running`);
    return ['-t', String(pid), '-n', '-m', '-u', '--'];
  }

  /** A daemon in node i: it lives in the node's network namespace, so crash/destroy find it by PID there. */
  private inNode(i: number, argv: string[]): void {
    spawn('nsenter', [...this.nsenter(i), ...argv], { stdio: 'ignore', detached: false }).on('error', () => {});
  }

  /** Runs a command inside node i (its network, mounts and hostname). */
  exec(i: number, argv: string[], allowFailure = false, input?: string): Promise<RunResult> {
    return run('nsenter', [...this.nsenter(i), ...argv], { allowFailure, timeoutMs: 60_000, input });
  }

  /** The cluster as node i sees it. */
  async state(i: number): Promise<ClusterState> {
    return parseCrmMon((await this.exec(i, ['crm_mon', '-1', '-X'], true)).stdout);
  }

  async waitFor(test: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 250): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await test()) return;
      await sleep(everyMs);
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** Waits until node i sees exactly the listed nodes online, with a DC elected. */
  async waitOnline(i: number, online: number[], timeoutMs = 90_000): Promise<void> {
    const want = online
      .map((n) => this.nodeName(n))
      .sort()
      .join();
    await this.waitFor(
      async () => {
        const s = await this.state(i);
        return s.dc && s.online.join() === want;
      },
      timeoutMs,
      `${want} online as node ${i} sees it`,
      500,
    );
  }

  /** Applies crmsh commands (`crm configure load update -`) on node i. */
  async crmConfigure(i: number, text: string): Promise<void> {
    await this.exec(i, ['crm', '-w', 'configure', 'load', 'update', '-'], false, text);
  }

  /**
   * Runs client load against target:port from `tuples` (one connection every `everyMs`), crashes
   * node `crash` after `beforeMs` (or does `fault` to it instead), and polls node `observer` until
   * `recovered` holds.
   */
  async crashUnderLoad(o: {
    crash: number;
    fault?: () => Promise<void>;
    observer: number;
    target: string;
    port: number;
    tuples: { src: string; sport: number }[];
    everyMs: number;
    beforeMs: number;
    recovered: (s: ClusterState) => boolean;
  }): Promise<CrashRun> {
    const durationMs = o.tuples.length * o.everyMs;
    const opts: LoadOptions = { target: o.target, port: o.port, everyMs: o.everyMs, durationMs, concurrency: 128, timeoutMs: 1000, tuples: o.tuples };
    const file = join(this.dir, 'load.json');
    writeFileSync(file, JSON.stringify(opts));
    const load = this.lab.spawn(this.lab.clientNs, [process.execPath, built('lab/load.js'), file]);
    let out = '';
    let err = '';
    load.stdout!.on('data', (d) => {
      out += d;
    });
    load.stderr!.on('data', (d) => {
      err += d;
    });
    // 'close', not 'exit': the output may still be in the pipe when the process has exited.
    const done = new Promise<void>((resolve) => load.once('close', () => resolve()));
    await sleep(o.beforeMs);
    // Losing the DC costs an election before Pacemaker acts: worth knowing beside a figure.
    const crashedDc = (await this.state(o.observer)).dcName === this.nodeName(o.crash);
    // The cable is cut when `ip link set` returns (under load, starting that command alone can
    // take a good part of a second); the processes die right after.
    let crashedAt: number;
    if (o.fault) {
      crashedAt = Date.now();
      await o.fault();
    } else {
      await this.lab.setLink(o.crash, false);
      crashedAt = Date.now();
      await this.killNode(o.crash);
    }
    await this.waitFor(async () => o.recovered(await this.state(o.observer)), 60_000, 'Pacemaker to recover', 200);
    const recoveredAt = Date.now();
    await done;
    if (!out.trim()) throw new Error(`the client load printed nothing: ${err.trim()}`);
    return { crashedAt, recoveredAt, attempts: JSON.parse(out) as TimedAttempt[], crashedDc };
  }

  /** How long an operation took in the agent (its exec-time in the CIB status), e.g. ('vip:2_start_0', 'node1'). */
  async execTimeMs(i: number, opKey: string, node: string): Promise<number | undefined> {
    const r = await this.exec(i, ['cibadmin', '-Q', '--xpath', `//node_state[@uname='${node}']//lrm_rsc_op[@operation_key='${opKey}']`], true);
    const t = r.stdout.match(/exec-time="(\d+)"/)?.[1];
    return t === undefined ? undefined : Number(t);
  }

  /** Kills everything of node i by PID (daemons, agents, anything in its namespace) and cuts its cable. */
  async crash(i: number): Promise<void> {
    await this.lab.setLink(i, false);
    await this.killNode(i);
  }

  private async killNode(i: number): Promise<void> {
    const pids = await run('ip', ['netns', 'pids', this.lab.nodeNs(i)], { allowFailure: true });
    for (const pid of pids.stdout
      .split('\n')
      .map(Number)
      .filter((p) => p > 0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    this.holders.get(i)?.kill('SIGKILL');
    this.holders.delete(i);
  }

  /**
   * Brings node i back as after a reboot: its kernel state cleared (rules, addresses, multicast
   * memberships), an empty /run, the CIB it had on disk, fresh daemons, its cable back.
   */
  async restart(i: number): Promise<void> {
    const ns = this.lab.nodeNs(i);
    await this.lab.exec(ns, ['nft', 'flush', 'ruleset']);
    for (const table of ['filter', 'nat', 'mangle', 'raw']) await this.lab.exec(ns, ['iptables-legacy', '-t', table, '-F'], { allowFailure: true });
    const maddr = await this.lab.exec(ns, ['ip', 'maddr', 'show', 'dev', 'eth0']);
    for (const m of maddr.stdout.matchAll(/link\s+([0-9a-f:]{17})\s+static/g)) await this.lab.exec(ns, ['ip', 'maddr', 'del', m[1], 'dev', 'eth0']);
    await this.lab.exec(ns, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await this.lab.exec(ns, ['ip', 'addr', 'add', `${this.lab.nodeAddress(i)}/16`, 'dev', 'eth0']);
    await this.lab.setLink(i, true);
    await this.startNode(i, false);
  }

  /** The tail of node i's Pacemaker and Corosync logs (for a failing test's message). */
  logs(i: number, lines = 40): string {
    const tail = (f: string) => {
      try {
        return readFileSync(f, 'utf8').trim().split('\n').slice(-lines).join('\n');
      } catch {
        return '(none)';
      }
    };
    return `--- node${i} pacemaker.log\n${tail(join(this.stateDir(i), 'log-pacemaker/pacemaker.log'))}\n--- node${i} corosync.log\n${tail(join(this.stateDir(i), 'log-corosync/corosync.log'))}`;
  }

  async destroy(): Promise<void> {
    for (const i of this.lab.nodeIds) await this.killNode(i);
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
