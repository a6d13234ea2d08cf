// A lab of network namespaces on this machine: a "switch" namespace holding a bridge, N node
// namespaces and a client namespace, all on 198.18.0.0/16 (the benchmarking range), nothing in the
// root namespace and no route out. Every process it starts is tracked by PID and killed on destroy.
import { spawn, type ChildProcess } from 'node:child_process';
import { run, type RunOptions, type RunResult } from '../dataplane/exec.js';

export interface LabOptions {
  /** Namespace name prefix, so several labs can coexist: `${prefix}-sw`, `${prefix}-n1`, `${prefix}-c`. */
  prefix: string;
  nodes: number;
  /** Source addresses on the client (198.18.1.1 ...). */
  clientAddresses?: number;
}

export const LAB_PREFIX_LENGTH = 16;

export class NetnsLab {
  private readonly children = new Set<ChildProcess>();
  readonly switchNs: string;
  readonly clientNs: string;

  private constructor(readonly opts: Required<LabOptions>) {
    this.switchNs = `${opts.prefix}-sw`;
    this.clientNs = `${opts.prefix}-c`;
  }

  nodeNs(i: number): string { return `${this.opts.prefix}-n${i}`; }
  /** Node i's own address (1-based i): 198.18.0.(10+i). */
  nodeAddress(i: number): string { return `198.18.0.${10 + i}`; }
  get nodeIds(): number[] { return Array.from({ length: this.opts.nodes }, (_, i) => i + 1); }
  get clientSources(): string[] {
    return Array.from({ length: this.opts.clientAddresses }, (_, i) => `198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  }
  /** The switch-side port of node i (or 'c' for the client). */
  port(i: number | 'c'): string { return `${this.opts.prefix}-p${i}`.slice(-15); }

  static async create(options: LabOptions): Promise<NetnsLab> {
    const lab = new NetnsLab({ clientAddresses: 200, ...options });
    await lab.removeNamespaces();
    try {
      await lab.build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async build(): Promise<void> {
    const { switchNs, clientNs } = this;
    const all = [switchNs, ...this.nodeIds.map((i) => this.nodeNs(i)), clientNs];
    for (const ns of all) {
      await run('ip', ['netns', 'add', ns]);
      await this.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
    }
    // A dumb switch: flood multicast (no snooping) so every node sees the cluster MAC's frames.
    await this.exec(switchNs, ['ip', 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0']);
    await this.exec(switchNs, ['ip', 'link', 'set', 'br0', 'up']);
    const attach = async (ns: string, port: string) => {
      await run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', switchNs]);
      await this.exec(switchNs, ['ip', 'link', 'set', port, 'master', 'br0', 'up']);
      await this.exec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    };
    for (const i of this.nodeIds) {
      await attach(this.nodeNs(i), this.port(i));
      await this.exec(this.nodeNs(i), ['ip', 'addr', 'add', `${this.nodeAddress(i)}/${LAB_PREFIX_LENGTH}`, 'dev', 'eth0']);
    }
    await attach(clientNs, this.port('c'));
    const adds = this.clientSources.map((a) => `addr add ${a}/${LAB_PREFIX_LENGTH} dev eth0`).join('\n');
    await this.exec(clientNs, ['ip', '-batch', '-'], { input: adds + '\n' });
  }

  exec(ns: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', ns, ...argv], opts);
  }

  /** Starts a long-running process in a namespace; destroy() kills it by PID. */
  spawn(ns: string, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  async kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', waitMs = 5_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
    await exited;
    clearTimeout(timer);
  }

  /** Cuts (or restores) node i's cable at the switch. */
  async setLink(i: number | 'c', up: boolean): Promise<void> {
    await this.exec(this.switchNs, ['ip', 'link', 'set', this.port(i), up ? 'up' : 'down']);
  }

  /** Lets the tracked processes outlive this one; returns their PIDs (for a later `lab down`). */
  detachAll(): number[] {
    const pids = [...this.children].map((c) => c.pid!).filter(Boolean);
    for (const c of this.children) { c.stdout?.destroy(); c.stderr?.destroy(); c.unref(); }
    this.children.clear();
    return pids;
  }

  /** Removes every namespace of a lab by its prefix (and the processes inside them). */
  static async remove(prefix: string): Promise<void> {
    await new NetnsLab({ prefix, nodes: 0, clientAddresses: 0 }).removeNamespaces();
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.kill(c, 'SIGTERM', 2_000)));
    await this.removeNamespaces();
  }

  private async removeNamespaces(): Promise<void> {
    const list = await run('ip', ['netns', 'list']);
    const ours = list.stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(`${this.opts.prefix}-`));
    for (const ns of ours) {
      // Processes still inside (from a crashed run) would keep the namespace's devices alive.
      const pids = await run('ip', ['netns', 'pids', ns], { allowFailure: true });
      for (const pid of pids.stdout.split('\n').map(Number).filter((p) => p > 0)) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
      }
      await run('ip', ['netns', 'del', ns], { allowFailure: true });
    }
  }
}
