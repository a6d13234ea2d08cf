// `aavip up | status | drain | undrain | down`: the cluster daemon and its local control socket.
import { connect } from 'node:net';
import type { Command } from 'commander';
import { loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import { createDataplane } from '../dataplane/index.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { log } from '../log.js';
import { Daemon, type DaemonStatus } from '../membership/daemon.js';
import { table } from './progress.js';

const DEFAULT_CONFIG = '/etc/aavip/cluster.yaml';

interface ConfigOptions { config: string; node?: string }

const withConfig = (cmd: Command) => cmd
  .option('-c, --config <file>', 'cluster configuration', DEFAULT_CONFIG)
  .option('--node <name>', 'which configured node this is (default: the config\'s `local`)');

const load = (o: ConfigOptions): ClusterConfig => loadClusterConfig(o.config, { local: o.node });

async function ask(socketPath: string, request: object): Promise<any> {
  return new Promise((resolve, reject) => {
    const conn = connect(socketPath);
    let buf = '';
    const timer = setTimeout(() => { conn.destroy(); reject(new Error(`no answer from ${socketPath}`)); }, 5000);
    conn.on('connect', () => conn.write(JSON.stringify(request) + '\n'));
    conn.on('data', (d) => { buf += d; });
    conn.on('end', () => { clearTimeout(timer); try { resolve(JSON.parse(buf)); } catch (e) { reject(e); } });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `aavip is not running here (no ${socketPath})` : e.message));
    });
  });
}

function printStatus(s: DaemonStatus): void {
  const lines = [
    `Cluster ${s.cluster}: node ${s.local.name} (id ${s.local.id}), view epoch ${s.view.epoch} since ${s.view.since}, ${s.view.quorate ? 'quorate' : 'NO QUORUM'}${s.joined ? '' : ' (joining)'}`,
    `Nodes: ${s.nodes.map((n) => `${n.name}${n.live ? '' : ' (OFFLINE)'}${n.weight === 0 ? ' (drained)' : ''}`).join(', ')}`,
    '',
    table(['VIP', 'backend', ...s.nodes.map((n) => n.name), 'here: owned/incoming/draining'],
      s.vips.map((v) => [v.vip, v.backend, ...s.nodes.map((n) => v.perNode[n.name] ?? 0), `${v.local.owned.length}/${v.local.incoming.length}/${v.local.draining.length}`])),
    '',
    ...(s.lvs ? ['', table(['virtual service', 'real server', 'state', 'weight'], s.lvs.flatMap((v) => v.realServers.map((r) => [v.virtualService, r.address, r.state, r.weight ?? '-']))), ''] : []),
    `Heartbeats: ${s.counters.accepted} accepted, ${s.counters.forged} forged, ${s.counters.replayed} replayed, ${s.counters.truncated} truncated, ${s.counters.malformed} malformed, ${s.counters.unknownSender} from unknown senders`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function register(program: Command): void {
  withConfig(program.command('up').description('run this node of the cluster in the foreground: membership, bucket assignment, data plane'))
    .action(async (o: ConfigOptions) => {
      const config = load(o);
      const daemon = new Daemon(config, log.child({ node: config.nodes.find((n) => n.id === config.local)!.name }));
      await daemon.start();
      await new Promise<void>((resolve) => {
        const stop = () => { void daemon.stop().then(resolve); };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  withConfig(program.command('status').description('this node\'s view of the cluster: nodes, epoch, quorum, buckets per node, VIPs'))
    .option('--json', 'print as JSON')
    .action(async (o: ConfigOptions & { json?: boolean }) => {
      const s = (await ask(load(o).controlSocket, { cmd: 'status' })) as DaemonStatus;
      if (o.json) process.stdout.write(JSON.stringify(s) + '\n');
      else printStatus(s);
    });

  for (const [verb, description] of [['drain', 'hand this node\'s buckets over to the others (weight 0), without resetting connections'], ['undrain', 'take this node\'s share back']] as const) {
    withConfig(program.command(verb).description(description))
      .action(async (o: ConfigOptions) => {
        const r = await ask(load(o).controlSocket, { cmd: verb });
        if (r.error) throw new Error(r.error);
      });
  }

  withConfig(program.command('down').description('remove this node\'s VIPs from the kernel (the daemon leaves them in place when it stops)'))
    .action(async (o: ConfigOptions) => {
      const config = load(o);
      for (const vip of config.vips) {
        const dp = await createDataplane(vip.backend);
        await dp.remove(vip);
        log.info({ vip: vipCidr(vip) }, 'removed');
      }
    });
}
