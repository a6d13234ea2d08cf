// The appliance lab's real servers: namespaces `${prefix}-rN` on the lab's switch, each a
// direct-routing real server — the VIP on lo, never answering ARP for it — running the lab's
// responder, which names the server in its greeting. Removed by PID and name on destroy.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { run } from '../exec.js';
import { built } from '../paths.js';
import { LAB_PREFIX_LENGTH, type NetnsLab, removeNamespace } from './netns.js';

export const REAL_PORT = 80;

export class RealServers {
  /** Each server's responder, so one can be stopped and started again. */
  private readonly responders = new Map<number, ChildProcess>();
  private constructor(
    readonly lab: NetnsLab,
    readonly count: number,
    /** Greetings name the connecting address too (servers behind a proxy on every node). */
    private readonly peerInGreeting = false,
  ) {}

  ns(i: number): string {
    return `${this.lab.opts.prefix}-r${i}`;
  }
  /** Real server i's own address (1-based): 198.18.0.(200+i), apart from the nodes' 198.18.0.(10+i). */
  address(i: number): string {
    return `198.18.0.${200 + i}`;
  }
  name(i: number): string {
    return `real${i}`;
  }
  get ids(): number[] {
    return Array.from({ length: this.count }, (_, i) => i + 1);
  }

  /** Builds `count` real servers for `vip` (a leftover set with the same prefix is removed first). */
  static async create(lab: NetnsLab, count: number, vip: string, peerInGreeting = false): Promise<RealServers> {
    if (count < 1 || count > 50) throw new Error(`the appliance lab has 1..50 real servers, not ${count}`);
    const rs = new RealServers(lab, count, peerInGreeting);
    await rs.destroy();
    try {
      for (const i of rs.ids) await rs.build(i, vip);
    } catch (e) {
      await rs.destroy();
      throw e;
    }
    return rs;
  }

  private async build(i: number, vip: string): Promise<void> {
    const ns = this.ns(i);
    const port = `${this.lab.opts.prefix}-pr${i}`.slice(-15);
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', this.lab.switchNs]);
    await this.lab.exec(this.lab.switchNs, ['ip', 'link', 'set', port, 'master', 'br0', 'up']);
    const sysctls = [
      // Direct routing: the VIP is local here, but only the directors may answer ARP for it.
      'net.ipv4.conf.all.arp_ignore=1',
      'net.ipv4.conf.all.arp_announce=2',
      // The switch floods the clients' frames to the cluster MAC here too; without this the server
      // would take every client's SYN itself (the VIP is local) beside the director's copy.
      'net.ipv4.conf.all.drop_unicast_in_l2_multicast=1',
      'net.ipv4.conf.eth0.drop_unicast_in_l2_multicast=1',
    ];
    await this.lab.exec(ns, ['sysctl', '-qw', ...sysctls]);
    const cmds = ['link set lo up', 'link set eth0 up', `addr add ${this.address(i)}/${LAB_PREFIX_LENGTH} dev eth0`, `addr add ${vip}/32 dev lo`];
    await this.lab.exec(ns, ['ip', '-batch', '-'], { input: `${cmds.join('\n')}\n` });
    await this.start(i);
  }

  /** Starts server i's responder; resolves once it listens. */
  async start(i: number): Promise<void> {
    const r = this.lab.spawn(this.ns(i), [
      process.execPath,
      built('lab/responder.js'),
      this.name(i),
      String(REAL_PORT),
      ...(this.peerInGreeting ? ['peer'] : []),
    ]);
    this.responders.set(i, r);
    await once(r.stdout!, 'data');
  }

  /** Stops server i's responder (SIGKILL, by PID): its port is closed at once, a connect is refused. */
  async stop(i: number): Promise<void> {
    const r = this.responders.get(i);
    if (r) await this.lab.kill(r, 'SIGKILL');
  }

  /** Removes every real-server namespace of this prefix and the processes in it. */
  async destroy(): Promise<void> {
    const own = new RegExp(`^${this.lab.opts.prefix}-r\\d+$`);
    const list = await run('ip', ['netns', 'list']);
    for (const ns of list.stdout.split('\n').map((l) => l.split(' ')[0])) {
      if (own.test(ns)) await removeNamespace(ns);
    }
  }
}
