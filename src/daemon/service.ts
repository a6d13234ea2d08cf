// What runs when you type `aavip up`: everything is loaded and validated first, then this node
// is locked (one daemon per node), the heartbeat port bound, the control socket opened, the
// ldirectord role and the IPVS connection sync started and the daemon (daemon.ts) wired to the
// real clock, UDP and kernel.
// Whatever fails on the way is undone, so a failed start leaves no socket or lock behind.
import { resolve as resolvePath } from 'node:path';
import { loadClusterConfig, type ClusterConfig, type LoadOptions } from '../config/cluster.js';
import { createDataplane } from '../dataplane/index.js';
import { InputError, InputErrors } from '../errors.js';
import type { Logger } from '../log.js';
import type { LdirectordConfig } from '../lvs/config/model.js';
import { loadLdirectordConfig } from '../lvs/config/parse.js';
import { defaultRunner, Director } from '../lvs/director.js';
import { tracksOf } from '../track/settings.js';
import { NotifyEvents } from './notifying.js';
import { reloadTracking, startTracking, stopTracking } from './tracking.js';
import { openIpvs } from '../lvs/ipvs/index.js';
import { factsOf } from '../membership/agreement.js';
import { systemClock } from './clock.js';
import { startupFindings, startupRefusal } from '../doctor/doctor.js';
import { openFlows } from './conntrack.js';
import { openControlServer, type ControlServer } from './control-server.js';
import type { ControlRequest, DaemonStatus } from './control-protocol.js';
import { Daemon } from './daemon.js';
import { MAX_BODY, worstCaseBody } from './heartbeat.js';
import { takeIncarnation } from './incarnation.js';
import { lockInstance, type InstanceLock } from './instance-lock.js';
import { planReload } from './reload.js';
import { openUdpTransport } from './transport.js';
import { formatAddress } from '../hash/flow.js';
import { NetlinkIpvs } from '../lvs/ipvs/netlink.js';
import type { SyncSettings } from '../appliance/settings.js';
import { ConnectionSync } from '../appliance/sync.js';
import { vipCidr } from '../dataplane/vipspec.js';
import { allEvents, countingSends } from '../metrics/events.js';
import { MetricsExporter } from '../metrics/exporter.js';
import { timedChecks } from '../metrics/lvs.js';
import { validateAppliance, type ApplianceFinding } from '../appliance/validate.js';

const describe = (e: unknown) => (e instanceof InputError ? e.describe() : (e as Error).message);

interface Loaded {
  config: ClusterConfig;
  ldirectord?: LdirectordConfig;
  /** What the appliance serves but the log should say (validate.ts). */
  warnings: ApplianceFinding[];
}

const logFindings = (log: Logger, warnings: ApplianceFinding[]) => {
  for (const w of warnings) log.warn({ file: w.file, line: w.line }, w.message);
};

/** Reads the configuration and the ldirectord.cf it names; throws InputError(s) on a broken one. */
async function loadAll(file: string, opts: LoadOptions): Promise<Loaded> {
  const config = loadClusterConfig(file, opts);
  const ldirectord = config.lvs ? await loadLdirectordConfig(config.lvs.config) : undefined;
  const vips = config.vips.map((s) => ({ key: formatAddress(s.address), buckets: s.buckets }));
  const bytes = worstCaseBody(
    config.name,
    config.nodes.map((n) => n.id),
    vips,
    factsOf(config.nodes, Object.fromEntries(vips.map((v) => [v.key, 'x'.repeat(16)]))),
    ldirectord?.virtualServices.reduce((n, v) => n + v.realServers.length, 0),
    tracksOf(config).map((t) => t.name),
  );
  if (bytes > MAX_BODY) {
    throw new InputError(
      `the VIPs' buckets and real servers make a heartbeat of up to ${bytes} bytes, more than one datagram carries (${MAX_BODY}): use fewer VIPs, buckets or real servers`,
      { file, field: 'vips' },
    );
  }
  if (!config.lvs || !ldirectord) return { config, warnings: [] };
  // The combination, before anything starts: a refused one fails the start or the reload whole.
  const { errors, warnings } = validateAppliance(config, ldirectord);
  if (errors.length) throw errors.length === 1 ? errors[0] : new InputErrors(errors);
  return { config, ldirectord, warnings };
}

/** The ldirectord role beside the VIP: same process, its own IPVS table; a verdict of its own goes out in a heartbeat at once. */
const newDirector = async (d: Daemon, config: LdirectordConfig, log: Logger, notify?: NotifyEvents, metrics?: MetricsExporter) =>
  new Director(config, await openIpvs('netlink'), {
    log: log.child({ role: 'ldirectord' }),
    onVerdict: () => d.sendHeartbeats(),
    onReal: notify?.real,
    runCheck: metrics ? timedChecks(defaultRunner, metrics.m) : undefined,
  });

/** The IPVS sync daemons as configured (opened here, so a kernel without IPVS fails the start). */
async function startSync(settings: SyncSettings, log: Logger): Promise<ConnectionSync> {
  const sync = new ConnectionSync(await NetlinkIpvs.open(), settings, log.child({ role: 'sync' }));
  try {
    await sync.start();
  } catch (e) {
    await sync.stop().catch(() => undefined);
    throw new Error(`IPVS connection sync on ${settings.interface} (syncid ${settings.syncId}) could not start: ${(e as Error).message}`);
  }
  return sync;
}

export class DaemonService {
  private control?: ControlServer;
  private lock?: InstanceLock;
  private sync?: ConnectionSync;
  /** The notify hooks (also the daemon's `events`). */
  private notify?: NotifyEvents;
  private metrics?: MetricsExporter;

  private constructor(
    readonly daemon: Daemon,
    private readonly opts: LoadOptions,
    private ldirectord: LdirectordConfig | undefined,
    private readonly log: Logger,
  ) {}

  /** Validates everything, then starts; nothing is touched when the configuration is broken. */
  static async start(file: string, opts: LoadOptions, baseLog: Logger): Promise<DaemonService> {
    const { config, ldirectord, warnings } = await loadAll(file, opts);
    const local = config.nodes.find((n) => n.id === config.local)!;
    const log = baseLog.child({ node: local.name });
    logFindings(log, warnings);
    // What `aavip doctor` finds: an error refuses the start before anything is touched.
    const findings = await startupFindings(config, ldirectord);
    const refusal = startupRefusal(findings, file);
    if (refusal) throw refusal;
    for (const f of findings) log.warn({ finding: f.id, setting: f.setting, fix: f.fix }, f.breaks);
    const { intervalMs, deadtimeMs } = config.heartbeat;
    if (deadtimeMs < 5 * intervalMs) {
      log.warn(
        { intervalMs, deadtimeMs },
        `deadtime below five heartbeat intervals: a lost heartbeat or two can let this node's bucket leases run out (briefly unserved); use interval ${Math.floor(deadtimeMs / 5)}ms or less`,
      );
    }
    const undo: (() => Promise<void> | void)[] = [];
    try {
      const lock = await lockInstance(config.controlSocket);
      undo.push(() => lock.release());
      const clock = systemClock();
      const metrics = new MetricsExporter(clock.now, log.child({ role: 'metrics' }));
      const udp = await openUdpTransport(local.address, config.heartbeat.port, (e) => log.error({ err: e.message }, 'heartbeat socket error'));
      undo.push(() => udp.close());
      const transport = countingSends(udp, metrics.m);
      const incarnation = takeIncarnation(config.name, local.name, clock.wall(), (msg) => log.warn({}, msg));
      const events = new NotifyEvents(config, log);
      const daemon = new Daemon(config, {
        clock,
        transport,
        dataplane: (s) => createDataplane(s.backend),
        openFlows,
        incarnation,
        log,
        events: allEvents([events, metrics.events]),
      });
      const vips = [];
      for (const spec of config.vips) vips.push(await daemon.addVip(spec));
      const service = new DaemonService(daemon, opts, ldirectord, log);
      service.notify = events;
      service.lock = lock;
      service.control = await openControlServer(config.controlSocket, (r) => service.handle(r));
      undo.push(() => service.control!.close());
      metrics.source = daemon;
      service.metrics = metrics;
      await metrics.start(config.metrics);
      undo.push(() => metrics.stop());
      if (ldirectord) {
        // The director role runs beside the VIP: same process, its own checks and IPVS table.
        daemon.director = await newDirector(daemon, ldirectord, log, events, metrics);
        undo.push(() => daemon.director?.stop());
        await daemon.director.start();
      }
      // Before the buckets are served, so this node's backup learns its peers' connections first.
      if (config.lvs?.sync.enabled) {
        service.sync = await startSync(config.lvs.sync, log);
        undo.push(() => service.sync?.stop());
      }
      startTracking(daemon, log);
      undo.push(() => stopTracking(daemon));
      await daemon.start(vips);
      log.info({ incarnation, vips: daemon.vips.map((v) => vipCidr(v.spec)) }, 'started; learning who is alive');
      return service;
    } catch (e) {
      for (const u of undo.reverse()) await Promise.resolve(u()).catch(() => undefined);
      throw e;
    }
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'status':
        return { ...this.daemon.status(), ...(await this.syncStatus()) };
      case 'drain':
        return { ok: true, ...this.daemon.setWeight(req.node, 0) };
      case 'undrain':
        return { ok: true, ...this.daemon.setWeight(req.node, null) };
      case 'reload':
        return this.reload(req.file);
      default:
        return { error: `unknown command ${(req as { cmd: string }).cmd}` };
    }
  }

  /**
   * Re-reads the configuration. Everything is validated and every new part built first; a
   * broken file changes nothing and the daemon goes on with what it has.
   */
  async reload(file?: string): Promise<{ ok: true; changes: string[] } | { error: string }> {
    const d = this.daemon;
    if (file !== undefined && resolvePath(file) !== resolvePath(d.config.file)) {
      return { error: `the daemon runs with ${d.config.file}, not ${file}: it re-reads its own file (restart it to use another)` };
    }
    let next: Loaded;
    try {
      next = await loadAll(d.config.file, this.opts);
    } catch (e) {
      const error = e instanceof InputErrors ? e.message : describe(e);
      this.log.error({ err: error }, 'configuration not reloaded: the file is broken; running on unchanged');
      return { error };
    }
    logFindings(this.log, next.warnings);
    const plan = planReload(
      d.config,
      next.config,
      d.vips.map((v) => v.spec),
    );
    if (plan.needRestart.length) {
      this.log.error({ fields: plan.needRestart }, 'configuration not reloaded: changes need a restart');
      return { error: `${next.config.file}: ${plan.needRestart.join(', ')} changed: restart the daemon to apply that (nothing was reloaded)` };
    }
    try {
      // Build before touching anything: a VIP whose data plane cannot be had fails the reload whole.
      const added = [];
      for (const spec of plan.added) added.push(await d.addVip(spec));
      // The listener first: a new address that cannot be bound fails the reload before anything changed.
      const changes = [...plan.changes, ...((await this.metrics?.reconfigure(next.config.metrics)) ?? [])];
      const tracks = tracksOf(d.config);
      d.reconfigure(next.config, plan.heartbeatChanged);
      for (const v of d.vips.filter((x) => plan.removed.includes(x.spec))) {
        await v.applier.settled();
        v.applier.stopped = true;
        await v.dataplane.remove(v.spec);
        this.log.info({ vip: v.key }, 'VIP removed by reload');
      }
      d.vips = [...d.vips.filter((x) => !plan.removed.includes(x.spec)), ...added];
      d.refreshFacts();
      for (const v of added) await d.joinVip(v);
      changes.push(...(await this.reloadDirector(next.ldirectord)));
      changes.push(...(await this.reloadSync(next.config.lvs?.sync)));
      changes.push(...reloadTracking(d, tracks, this.log));
      changes.push(...(this.notify?.reconfigure(next.config) ?? []));
      d.tick();
      this.log.info({ changes }, 'configuration reloaded');
      return { ok: true, changes };
    } catch (e) {
      this.log.error({ err: describe(e) }, 'reload failed part-way');
      return { error: describe(e) };
    }
  }

  private async reloadDirector(next: LdirectordConfig | undefined): Promise<string[]> {
    const d = this.daemon;
    const director = d.director as Director | undefined;
    let change: string[] = [];
    if (next && director) {
      await director.reload(next);
      change = ['ldirectord role reloaded'];
    } else if (next) {
      d.director = await newDirector(d, next, this.log, this.notify, this.metrics);
      await d.director.start();
      change = ['ldirectord role started'];
    } else if (director) {
      await director.stop();
      d.director = undefined;
      change = ['ldirectord role stopped'];
    }
    this.ldirectord = next;
    return change;
  }

  private async reloadSync(next: SyncSettings | undefined): Promise<string[]> {
    const want = next?.enabled ? next : undefined;
    if (want && this.sync) return (await this.sync.reconfigure(want)) ? [`IPVS connection sync moved to ${want.interface} syncid ${want.syncId}`] : [];
    if (want) {
      this.sync = await startSync(want, this.log);
      return ['IPVS connection sync started'];
    }
    if (!this.sync) return [];
    await this.sync.stop();
    this.sync = undefined;
    return ['IPVS connection sync stopped'];
  }

  private async syncStatus(): Promise<Pick<DaemonStatus, 'sync'>> {
    if (this.sync) return { sync: await this.sync.status() };
    const lvs = this.daemon.config.lvs;
    return lvs ? { sync: { enabled: false, interface: lvs.sync.interface, syncId: lvs.sync.syncId, running: [] } } : {};
  }

  async stop(o: { remove?: boolean } = {}): Promise<void> {
    stopTracking(this.daemon);
    await this.daemon.stop(o);
    this.notify?.notifier.stop();
    await this.sync?.stop();
    this.sync = undefined;
    await this.metrics?.stop();
    await this.control?.close();
    await this.lock?.release();
  }
}
