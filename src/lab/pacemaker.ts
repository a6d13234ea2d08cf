// A real Corosync + Pacemaker cluster on this machine: each node in its own network, mount and UTS
// namespace, with a private /run, /etc/corosync and /var/lib/{corosync,pacemaker}, so the daemons
// and the resource agents' state never mix. Used to run aavip's OCF agents for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../dataplane/exec.js';
import { NetnsLab } from './netns.js';

export interface PacemakerLabOptions { prefix: string; nodes?: number; tokenMs?: number }

export class PacemakerLab {
  private holders = new Map<number, ChildProcess>();
  private daemons = new Map<number, ChildProcess[]>();

  private constructor(readonly lab: NetnsLab, readonly dir: string, private readonly tokenMs: number) {}

  static async create(o: PacemakerLabOptions): Promise<PacemakerLab> {
    const lab = await NetnsLab.create({ prefix: o.prefix, nodes: o.nodes ?? 3, clientAddresses: 60 });
    const dir = mkdtempSync(join(tmpdir(), `aavip-${o.prefix}-`));
    const pl = new PacemakerLab(lab, dir, o.tokenMs ?? 1000);
    try {
      writeFileSync(join(dir, 'authkey'), randomBytes(256));
      chmodSync(join(dir, 'authkey'), 0o400);
      writeFileSync(join(dir, 'corosync.conf'), pl.corosyncConf());
      for (const i of lab.nodeIds) await pl.startNode(i);
      return pl;
    } catch (e) {
      await pl.destroy();
      throw e;
    }
  }

  nodeName(i: number): string { return `node${i}`; }

  private corosyncConf(): string {
    const nodes = this.lab.nodeIds.map((i) => `  node {\n    ring0_addr: ${this.lab.nodeAddress(i)}\n    nodeid: ${i}\n    name: ${this.nodeName(i)}\n  }`).join('\n');
    return `totem {
  version: 2
  cluster_name: aavip-lab
  transport: knet
  token: ${this.tokenMs}
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
  to_logfile: no
  to_stderr: yes
  to_syslog: no
}
`;
  }

  /** A holder process: private mounts and hostname for node i; the daemons run inside it. */
  private async startNode(i: number): Promise<void> {
    const state = join(this.dir, `node${i}`);
    for (const d of ['etc-corosync', 'lib-corosync', 'lib-pacemaker/cib', 'lib-pacemaker/pengine', 'lib-pacemaker/blackbox', 'lib-pacemaker/cores', 'log-pacemaker', 'log-corosync']) {
      mkdirSync(join(state, d), { recursive: true });
    }
    const setup = [
      `hostname ${this.nodeName(i)}`,
      'mount -n -t tmpfs tmpfs /run', 'mount -n -t tmpfs tmpfs /dev/shm', 'mkdir -p /run/crm /run/aavip',
      `cp ${this.dir}/corosync.conf ${this.dir}/authkey ${state}/etc-corosync/`,
      `mount -n --bind ${state}/etc-corosync /etc/corosync`,
      `mount -n --bind ${state}/lib-corosync /var/lib/corosync`,
      `chown -R hacluster:haclient ${state}/lib-pacemaker ${state}/log-pacemaker`,
      `mount -n --bind ${state}/lib-pacemaker /var/lib/pacemaker`,
      `mount -n --bind ${state}/log-pacemaker /var/log/pacemaker`,
      `mount -n --bind ${state}/log-corosync /var/log/corosync`,
      'echo ready', 'exec sleep infinity',
    ].join(' && ');
    const holder = spawn('setsid', ['ip', 'netns', 'exec', this.lab.nodeNs(i), 'unshare', '-m', '-u', '--propagation', 'private', 'sh', '-c', setup], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.once('data', () => resolve());
      holder.once('exit', (code) => reject(new Error(`node ${i} holder exited ${code}`)));
    });
    this.holders.set(i, holder);
    const corosync = this.inNode(i, ['corosync', '-f']);
    await new Promise((r) => setTimeout(r, 500));
    const pacemakerd = this.inNode(i, ['pacemakerd']);
    this.daemons.set(i, [corosync, pacemakerd]);
  }

  /**
   * nsenter arguments for node i. setsid, ip netns exec, unshare and `exec sleep` all exec in
   * place, so the holder's PID is the process that carries the node's namespaces.
   */
  private nsenter(i: number): string[] {
    const pid = this.holders.get(i)?.pid;
    if (!pid) throw new Error(`node ${i} is not running`);
    return ['-t', String(pid), '-n', '-m', '-u', '--'];
  }

  private inNode(i: number, argv: string[]): ChildProcess {
    return spawn('nsenter', [...this.nsenter(i), ...argv], { stdio: 'ignore' });
  }

  /** Runs a command inside node i (its network, mounts and hostname). */
  exec(i: number, argv: string[], allowFailure = false): Promise<RunResult> {
    return run('nsenter', [...this.nsenter(i), ...argv], { allowFailure, timeoutMs: 60_000 });
  }

  /** Waits until node i sees every listed node online with a DC elected. */
  async waitOnline(i: number, online: number[], timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.exec(i, ['crm_mon', '-1', '-X'], true);
      const onlineNames = [...r.stdout.matchAll(/<node name="(\w+)"[^>]*online="true"/g)].map((m) => m[1]).sort();
      if (r.stdout.includes('<current_dc present="true"') && onlineNames.join() === online.map((n) => this.nodeName(n)).join()) return;
      await new Promise((res) => setTimeout(res, 1000));
    }
    throw new Error(`node ${i} did not see ${online.join(',')} online`);
  }

  /** Kills everything of node i (daemons, agents, anything in its namespace) and cuts its cable. */
  async crash(i: number): Promise<void> {
    await this.lab.setLink(i, false);
    const pids = await run('ip', ['netns', 'pids', this.lab.nodeNs(i)], { allowFailure: true });
    for (const pid of pids.stdout.split('\n').map(Number).filter((p) => p > 0)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    this.holders.delete(i);
    this.daemons.delete(i);
  }

  /** Brings node i back as after a reboot: empty kernel rules and /run, its own address only, fresh daemons. */
  async restart(i: number): Promise<void> {
    const ns = this.lab.nodeNs(i);
    await this.lab.exec(ns, ['nft', 'flush', 'ruleset']);
    await this.lab.exec(ns, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    await this.lab.exec(ns, ['ip', 'addr', 'add', `${this.lab.nodeAddress(i)}/16`, 'dev', 'eth0']);
    await this.lab.setLink(i, true);
    await this.startNode(i);
  }

  async destroy(): Promise<void> {
    for (const i of this.lab.nodeIds) {
      const pids = await run('ip', ['netns', 'pids', this.lab.nodeNs(i)], { allowFailure: true });
      for (const pid of pids.stdout.split('\n').map(Number).filter((p) => p > 0)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    for (const h of this.holders.values()) h.kill('SIGKILL');
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
