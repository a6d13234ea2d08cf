// A lab of network namespaces on this machine: a "switch" namespace holding a bridge, N node
// namespaces and a client namespace, all on 198.18.0.0/16 (the benchmarking range; 2001:db8::/64 for
// IPv6 when asked), nothing in the root namespace and no route out. Every process it starts is
// tracked by PID and killed on destroy; a leftover lab with the same prefix is removed first.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { run, type RunOptions, type RunResult } from '../exec.js';

export interface LabOptions {
  /** Namespace name prefix, so several labs can coexist: `${prefix}-sw`, `${prefix}-n1`, `${prefix}-c`. */
  prefix: string;
  /** Node namespaces (default 3). */
  nodes?: number;
  /** Source addresses on the client (198.18.1.1 ...; default 200). */
  clientAddresses?: number;
  /** Also give every node and the client IPv6 addresses in 2001:db8::/64 (the documentation range, RFC 3849). */
  ipv6?: boolean;
}

export const LAB_PREFIX_LENGTH = 16;
export const LAB_PREFIX_LENGTH6 = 64;
/** Most client addresses a lab holds: 198.18.1.1 .. 198.18.200.250 stays inside 198.18.0.0/16. */
export const MAX_CLIENT_ADDRESSES = 50_000;

/** Names must fit IFNAMSIZ for the switch ports and stay readable in `ip netns list`. */
const PREFIX_PATTERN = /^[a-z][a-z0-9]{0,7}$/;

export class NetnsLab {
  private readonly children = new Set<ChildProcess>();
  readonly switchNs: string;
  readonly clientNs: string;
  readonly opts: Required<LabOptions>;

  private constructor(options: LabOptions) {
    this.opts = { nodes: 3, clientAddresses: 200, ipv6: false, ...options };
    this.switchNs = `${this.opts.prefix}-sw`;
    this.clientNs = `${this.opts.prefix}-c`;
  }

  nodeNs(i: number): string {
    return `${this.opts.prefix}-n${i}`;
  }
  /** Node i's own address (1-based i): 198.18.0.(10+i). */
  nodeAddress(i: number): string {
    return `198.18.0.${10 + i}`;
  }
  /** Node i's own IPv6 address (labs built with ipv6): 2001:db8::(10+i) in hex. */
  nodeAddress6(i: number): string {
    return `2001:db8::${(10 + i).toString(16)}`;
  }
  get nodeIds(): number[] {
    return Array.from({ length: this.opts.nodes }, (_, i) => i + 1);
  }
  get clientSources(): string[] {
    return Array.from({ length: this.opts.clientAddresses }, (_, i) => `198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
  }
  /** The client's IPv6 source addresses (labs built with ipv6): 2001:db8::1:1 .... */
  get clientSources6(): string[] {
    return this.opts.ipv6 ? Array.from({ length: this.opts.clientAddresses }, (_, i) => `2001:db8::1:${(i + 1).toString(16)}`) : [];
  }
  /** The switch-side port of node i (or 'c' for the client). */
  port(i: number | 'c'): string {
    return `${this.opts.prefix}-p${i}`.slice(-15);
  }

  static async create(options: LabOptions): Promise<NetnsLab> {
    if (!PREFIX_PATTERN.test(options.prefix)) throw new Error(`lab prefix '${options.prefix}': 1-8 lower-case letters or digits, starting with a letter`);
    const lab = new NetnsLab(options);
    if (lab.opts.nodes < 1 || lab.opts.nodes > 200) throw new Error(`a lab has 1..200 nodes, not ${lab.opts.nodes}`);
    if (lab.opts.clientAddresses < 1 || lab.opts.clientAddresses > MAX_CLIENT_ADDRESSES)
      throw new Error(`a lab's client has 1..${MAX_CLIENT_ADDRESSES} addresses`);
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
    // The veth pair is created with its ends already in the two namespaces: nothing ever appears in
    // the root namespace, even for a moment.
    const attach = async (ns: string, port: string) => {
      await run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', switchNs]);
      await this.exec(switchNs, ['ip', 'link', 'set', port, 'master', 'br0', 'up']);
      await this.exec(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    };
    for (const i of this.nodeIds) {
      await attach(this.nodeNs(i), this.port(i));
      const cmds = [`addr add ${this.nodeAddress(i)}/${LAB_PREFIX_LENGTH} dev eth0`];
      if (this.opts.ipv6) cmds.push(`addr add ${this.nodeAddress6(i)}/${LAB_PREFIX_LENGTH6} dev eth0 nodad`);
      await this.exec(this.nodeNs(i), ['ip', '-batch', '-'], { input: cmds.join('\n') + '\n' });
    }
    await attach(clientNs, this.port('c'));
    const adds = this.clientSources.map((a) => `addr add ${a}/${LAB_PREFIX_LENGTH} dev eth0`);
    // nodad: duplicate address detection would hold each address back for a second or more.
    adds.push(...this.clientSources6.map((a) => `addr add ${a}/${LAB_PREFIX_LENGTH6} dev eth0 nodad`));
    await this.exec(clientNs, ['ip', '-batch', '-'], { input: adds.join('\n') + '\n' });
  }

  exec(ns: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run('ip', ['netns', 'exec', ns, ...argv], opts);
  }

  /** Node i's namespace, for exec/spawn. */
  execNode(i: number, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(this.nodeNs(i), argv, opts);
  }
  execClient(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec(this.clientNs, argv, opts);
  }

  /**
   * Starts a long-running process in a namespace; destroy() kills it by PID. (`ip netns exec`
   * execs the command in place, so the PID is the command's own.)
   */
  spawn(ns: string, argv: string[], env: NodeJS.ProcessEnv = process.env, stdio: ('ignore' | 'pipe')[] = ['ignore', 'pipe', 'pipe']): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: stdio as ['ignore' | 'pipe', 'ignore' | 'pipe', 'ignore' | 'pipe'], env });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    // A spawn failure must not crash the caller; the child simply counts as exited.
    child.on('error', () => this.children.delete(child));
    return child;
  }

  async kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', waitMs = 5_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
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
  linkDown(i: number | 'c'): Promise<void> {
    return this.setLink(i, false);
  }
  linkUp(i: number | 'c'): Promise<void> {
    return this.setLink(i, true);
  }

  /** Lets the tracked processes outlive this one; returns their PIDs (for a later `lab down`). */
  detachAll(): number[] {
    const pids = [...this.children].map((c) => c.pid!).filter(Boolean);
    for (const c of this.children) {
      c.stdout?.destroy();
      c.stderr?.destroy();
      c.unref();
    }
    this.children.clear();
    return pids;
  }

  /** The lab's namespaces that exist now. */
  async namespaces(): Promise<string[]> {
    return NetnsLab.namespacesOf(this.opts.prefix);
  }

  static async namespacesOf(prefix: string): Promise<string[]> {
    const list = await run('ip', ['netns', 'list']);
    // Only names this lab makes (sw, c, nN): prefix "dp" must not take "dp-x-..." of another lab "dp-x".
    const own = new RegExp(`^${prefix}-(sw|c|n\\d+)$`);
    return list.stdout
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => own.test(n))
      .sort();
  }

  /** Removes every namespace of a lab by its prefix (and the processes inside them). */
  static async remove(prefix: string): Promise<void> {
    await new NetnsLab({ prefix, nodes: 0, clientAddresses: 0, ipv6: false }).removeNamespaces();
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.children].map((c) => this.kill(c, 'SIGTERM', 2_000)));
    await this.removeNamespaces();
  }

  private async removeNamespaces(): Promise<void> {
    for (const ns of await this.namespaces()) await removeNamespace(ns);
  }
}

/** Deletes a namespace, first killing what still runs in it (from a crashed run, say), which would keep its devices alive. */
export async function removeNamespace(ns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', ns], { allowFailure: true })).stdout
    .split('\n')
    .map(Number)
    .filter((p) => p > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  // A killed process takes a moment to exit (more under load): wait, so "down" means gone.
  for (let k = 0; k < 100 && pids.some(isRunning); k++) await new Promise((r) => setTimeout(r, 50));
  await run('ip', ['netns', 'del', ns], { allowFailure: true });
}

/** Whether a process exists and has not exited (a zombie waiting for its parent has). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Builds a lab (removing a leftover one with the same prefix first). */
export function createLab(options: LabOptions): Promise<NetnsLab> {
  return NetnsLab.create(options);
}
