// `aavip up | status | drain | undrain | reload | down`: the cluster daemon and its local control socket.
import { setPriority } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { controlSocketOf, loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import { createDataplane } from '../dataplane/index.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { InputError } from '../errors.js';
import { log } from '../log.js';
import { askDaemon as ask } from '../daemon/control-client.js';
import type { DaemonStatus } from '../daemon/control-protocol.js';
import { runningDaemon } from '../daemon/instance-lock.js';
import { DaemonService } from '../daemon/service.js';
import { removeLeftoverSync } from '../appliance/sync.js';
import { table } from './progress.js';

const DEFAULT_CONFIG = '/etc/aavip/cluster.yaml';

function niceValue(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < -20 || n > 19) throw new InvalidArgumentError('a whole number -20..19');
  return n;
}

export interface ConfigOptions {
  config: string;
  node?: string;
}

export const withConfig = (cmd: Command) =>
  cmd
    .option('-c, --config <file>', 'cluster configuration', DEFAULT_CONFIG)
    .option('--node <name>', "which configured node this is (default: the config's `local`)");

const load = (o: ConfigOptions): ClusterConfig => loadClusterConfig(o.config, { local: o.node });
const socketOf = (o: ConfigOptions): string => controlSocketOf(o.config, { local: o.node });

interface LvsStatus {
  virtualService: string;
  realServers: { address: string; state: string; weight?: number }[];
}

/** The IPVS connection sync in one line: configured, and what the kernel runs. */
function syncLine(sync: NonNullable<DaemonStatus['sync']>): string {
  if (!sync.enabled) return "IPVS connection sync: off (lvs.sync: false): a dead director's connections break";
  const running = sync.running.map((d) => `${d.state} on ${d.interface} (syncid ${d.syncId})`).join(', ') || 'NOT RUNNING';
  return `IPVS connection sync: ${running}${sync.error ? `; error: ${sync.error}` : ''}`;
}

function printStatus(s: DaemonStatus): void {
  const lines = [
    `Cluster ${s.cluster}: node ${s.local.name} (id ${s.local.id}), view epoch ${s.view.epoch} since ${s.view.since}, ${s.view.quorate ? 'quorate' : 'NO QUORUM'}${s.joined ? '' : ' (joining)'}`,
    `Nodes: ${s.nodes.map((n) => `${n.name}${n.live ? '' : ' (OFFLINE)'}${n.tracksDown?.length ? ` (service down: ${n.tracksDown.join(', ')})` : n.weight === 0 ? ' (drained)' : ''}`).join(', ')}`,
    ...(s.disagreeing.length
      ? [`CONFIGURATION DIFFERS on ${s.disagreeing.join(', ')}: owners follow what most nodes have; reload every node with the same cluster.yaml`]
      : []),
    ...(s.splitBrain?.duplicates ?? []).map((d) => `SPLIT BRAIN: bucket ${d.bucket} of ${d.vip} is taken by ${d.nodes.join(' and ')} at once`),
    '',
    table(
      ['VIP', 'backend', 'hashmode', 'seed', ...s.nodes.map((n) => n.name), 'here: owned/incoming/draining', 'lease'],
      s.vips.map((v) => [
        v.vip,
        v.backend,
        v.hashmode,
        `0x${v.seed.toString(16)}`,
        ...s.nodes.map((n) => v.perNode[n.name] ?? 0),
        `${v.local.owned.length}/${v.local.incoming.length}/${v.local.draining.length}${v.excluded.length ? ` (left out: ${v.excluded.join(', ')})` : ''}${v.kernelApplied === false ? ' (kernel update pending)' : ''}`,
        v.leaseMs === undefined ? '-' : `${v.leaseMs} ms`,
      ]),
    ),
    '',
    ...(s.lvs
      ? [
          '',
          table(
            ['virtual service', 'real server', 'state', 'weight'],
            (s.lvs as LvsStatus[]).flatMap((v) => v.realServers.map((r) => [v.virtualService, r.address, r.state, r.weight ?? '-'])),
          ),
          '',
        ]
      : []),
    ...(s.tracks?.length
      ? [
          table(
            ['tracked service', 'check', 'state', 'since', 'on failure', 'last result'],
            s.tracks.map((t) => [t.name, t.kind, t.up === null ? 'unknown' : t.up ? 'up' : 'DOWN', t.since, t.onFailure, t.lastMessage]),
          ),
          '',
        ]
      : []),
    ...(s.sync ? [syncLine(s.sync), ''] : []),
    `Heartbeats: ${s.counters.accepted} accepted, ${s.counters.forged} forged, ${s.counters.replayed} replayed, ${s.counters.truncated} truncated, ${s.counters.malformed} malformed, ${s.counters.unknownSender} from unknown senders`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function register(program: Command): void {
  registerUp(program);
  registerControl(program);
}

function registerUp(program: Command): void {
  withConfig(program.command('up').description('run this node of the cluster in the foreground: membership, bucket assignment, data plane'))
    .option(
      '--remove-on-stop',
      "on SIGTERM/SIGINT remove this node's VIPs and let the peers take its buckets over at once (default: leave the rules serving, so a restart keeps the VIP up)",
    )
    .option(
      '--nice <n>',
      "the daemon's nice value: heartbeats must keep time on a busy machine (corosync runs real-time for the same reason); 0 leaves it as it is",
      niceValue,
      -10,
    )
    .action(async (o: ConfigOptions & { removeOnStop?: boolean; nice: number }) => {
      if (o.nice !== 0) {
        try {
          setPriority(o.nice);
        } catch (e) {
          log.warn({ nice: o.nice, err: (e as Error).message }, "could not raise the daemon's priority");
        }
      }
      const daemon = await DaemonService.start(o.config, { local: o.node }, log);
      // SIGHUP re-reads the configuration; a broken file is logged (by reload) and changes nothing.
      const onHup = () => {
        daemon.reload().catch((e: Error) => log.error({ err: e.message }, 'reload failed'));
      };
      process.on('SIGHUP', onHup);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGHUP', onHup);
          void daemon.stop({ remove: o.removeOnStop }).then(resolve);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });
}

/** The commands that talk to a running daemon (or refuse to act beside one). */
function registerControl(program: Command): void {
  withConfig(program.command('status').description("this node's view of the cluster: nodes, epoch, quorum, buckets per node, VIPs"))
    .option('--json', 'print as JSON')
    .action(async (o: ConfigOptions & { json?: boolean }) => {
      const s = (await ask(socketOf(o), { cmd: 'status' })) as DaemonStatus;
      if (o.json) process.stdout.write(JSON.stringify(s) + '\n');
      else printStatus(s);
    });

  const verbs = [
    ['drain', "hand a node's buckets over to the others (weight 0) without resetting connections; default: this node"],
    ['undrain', 'give a node its configured weight back (it takes its share back without resets); default: this node'],
  ] as const;
  for (const [verb, description] of verbs) {
    withConfig(program.command(`${verb} [node]`).description(description)).action(async (node: string | undefined, o: ConfigOptions) => {
      const r = await ask(socketOf(o), { cmd: verb, node });
      if (r.error) throw new Error(r.error);
      process.stderr.write(`${r.node}: weight ${r.weight}\n`);
    });
  }

  withConfig(program.command('reload').description('make the running daemon re-read its configuration (as SIGHUP does); a broken file changes nothing')).action(
    async (o: ConfigOptions) => {
      // Validate here too, so that the mistakes are printed with their lines.
      const r = await ask(load(o).controlSocket, { cmd: 'reload', file: o.config });
      if (r.error) throw new Error(r.error);
      process.stderr.write(r.changes.length ? `reloaded: ${r.changes.join('; ')}\n` : 'reloaded: nothing changed\n');
    },
  );

  withConfig(program.command('down').description("remove this node's VIPs from the kernel (the daemon leaves them in place when it stops)")).action(
    async (o: ConfigOptions) => {
      const config = load(o);
      // Taking the rules from under a running daemon would leave its buckets unserved until it
      // re-adds them: the daemon must stop first (or hand its buckets over with drain).
      const pid = await runningDaemon(config.controlSocket);
      if (pid !== undefined) {
        throw new InputError(
          `the daemon is running for this node${pid > 0 ? ` (pid ${pid})` : ''}: stop it with --remove-on-stop (its peers take its buckets at once), or \`aavip drain\` first`,
        );
      }
      for (const vip of config.vips) {
        const dp = await createDataplane(vip.backend);
        await dp.remove(vip);
        log.info({ vip: vipCidr(vip) }, 'removed');
      }
      if (config.lvs?.sync.enabled) {
        for (const d of await removeLeftoverSync()) log.info({ state: d.state, interface: d.interface, syncId: d.syncId }, 'IPVS sync daemon removed');
      }
    },
  );
}
