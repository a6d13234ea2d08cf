// The ldirectord role: check every real server of every virtual service and keep IPVS in line
// with what their states ask for. The decisions (failure counts, quiescent, fallback,
// maintenance, fallbackcommand) are realserver.ts's pure functions; this class schedules the
// checks, feeds their results through them and writes the table. A service the kernel refuses
// is logged, reported in status() and retried on every round; the others are managed regardless.
import { existsSync } from 'node:fs';
import type { Logger } from '../log.js';
import { checkTarget } from './check-target.js';
import type { RealId } from './check-share.js';
import { connectCheck, externalCheck, negotiateCheck, pingCheck, type CheckResult, type CheckTarget } from './checks/checks.js';
import { logRealEvent, type RealEventSink, runFallbackCommand } from './director-effects.js';
import { desiredService, type IpvsServiceState } from './config/desired.js';
import { effective, hostPort, virtualId, type LdirectordConfig, type RealServer, type VirtualService } from './config/model.js';
import { applyByService, type ServiceRefusal } from './ipvs/apply.js';
import { planIpvs, serviceKey } from './ipvs/plan.js';
import type { Ipvs } from './ipvs/types.js';
import { Pacer } from './pacer.js';
import {
  adopt,
  checkToRun,
  fallbackCommandDue,
  initialRealState,
  observe,
  realKey,
  realPolicy,
  virtualTable,
  type CheckHow,
  type FallbackVerb,
  type Observation,
  type RealState,
} from './realserver.js';

export type { RealState } from './realserver.js';

export type CheckRunner = (kind: CheckHow, target: CheckTarget) => Promise<CheckResult>;

export const defaultRunner: CheckRunner = (kind, t) =>
  kind === 'connect' ? connectCheck(t) : kind === 'ping' ? pingCheck(t) : kind === 'external' ? externalCheck(t) : negotiateCheck(t);

export interface DirectorOptions {
  log: Logger;
  /** Checks in flight at once. */
  concurrency?: number;
  runCheck?: CheckRunner;
  /** Runs fallbackcommand within timeoutMs (default: through the shell, its process group killed at the bound). */
  runCommand?: (command: string, timeoutMs: number) => Promise<void>;
  /** A real this node checks went up or down (shared checks: the peers are told at once). */
  onVerdict?: () => void;
  onReal?: RealEventSink['onReal']; // a real went down or came back (notify hooks)
}

interface Job {
  v: VirtualService;
  r: RealServer;
}

const idOf = (v: VirtualService, r: RealServer): RealId => `${virtualId(v)} ${realKey(v, r)}`;

/** A virtual's kernel identity, whatever its reals' states. */
const keyOf = (v: VirtualService, config: LdirectordConfig) => serviceKey(desiredService(v, config, () => undefined));

export class Director {
  private readonly states = new Map<string, Map<string, RealState>>();
  private readonly fallbackCommandState = new Map<string, FallbackVerb>();
  private inTable = new Map<string, Set<string>>();
  /** Services the kernel refused at the last reconcile, by serviceKey. */
  private refused = new Map<string, ServiceRefusal>();
  private applied = '';
  private queue: Promise<void> = Promise.resolve();
  private readonly pacer: Pacer<Job>;
  /** Which reals this node checks itself (shared checks: its share; otherwise all). */
  private here: (id: RealId) => boolean = () => true;
  /** The up state of each real this node checks, once checked here: what it tells its peers. */
  private readonly vouched = new Map<RealId, boolean>();
  rounds = 0;
  /** Checks completed, over all rounds. */
  get checks(): number {
    return this.pacer.checks;
  }

  constructor(
    private config: LdirectordConfig,
    private readonly ipvs: Ipvs,
    private readonly opts: DirectorOptions,
  ) {
    this.pacer = new Pacer({
      concurrency: opts.concurrency ?? 1000,
      jobs: () => this.jobs(),
      key: (j) => idOf(j.v, j.r),
      run: (j) => this.checkReal(j.v, j.r),
      // Each pass reads the live table: the last fingerprint would be stale for a change landing mid-write.
      settle: () => {
        this.applied = '';
        return this.reconcile();
      },
      endRound: () => this.endRound(),
      interval: () => this.config.globals.checkinterval * 1000,
      log: opts.log,
    });
  }

  get currentConfig(): LdirectordConfig {
    return this.config;
  }

  private stateOf(v: VirtualService, r: RealServer): RealState {
    const vs = this.states.get(virtualId(v)) ?? this.states.set(virtualId(v), new Map()).get(virtualId(v))!;
    const s = vs.get(realKey(v, r)) ?? initialRealState();
    vs.set(realKey(v, r), s);
    return s;
  }

  private setState(v: VirtualService, r: RealServer, s: RealState): void {
    this.states.get(virtualId(v))!.set(realKey(v, r), s);
  }

  /** Start: adopt what the table holds, bring the table in line, then check. */
  async start(): Promise<void> {
    const live = await this.ipvs.read();
    this.rememberTable(live);
    for (const v of this.config.virtualServices) {
      // At start-up ldirectord puts every real server of a quiescent service in the table, the
      // down ones at weight 0 (through add/remove churn aavip skips): the same end state.
      if (effective(v, this.config.globals).quiescent && v.checktype.kind !== 'off') {
        for (const r of v.realServers) this.inTable.get(virtualId(v))!.add(realKey(v, r));
      }
      const cur = live.find((s) => serviceKey(s) === keyOf(v, this.config));
      const liveWeight = new Map(cur?.realServers.map((d) => [d.address, d.weight]) ?? []);
      for (const r of v.realServers) this.setState(v, r, adopt(this.stateOf(v, r), liveWeight.get(realKey(v, r)), v.checktype));
    }
    await this.reconcile();
    await this.round();
    this.pacer.schedule();
  }

  /** Every real that is checked (its checktype is not off), in configuration order. */
  private checked(): Job[] {
    return this.config.virtualServices.filter((v) => v.checktype.kind !== 'off').flatMap((v) => v.realServers.map((r) => ({ v, r })));
  }

  /** The checks of one round: the reals this node checks, in configuration order (a real's place gives its slot). */
  private jobs(): Job[] {
    return this.checked().filter((j) => this.here(idOf(j.v, j.r)));
  }

  /** The ids of the checked reals, sorted: the same list on every node with the same ldirectord.cf (the same array until a reload). */
  realIds(): readonly RealId[] {
    if (this.ids?.config !== this.config) this.ids = { config: this.config, ids: [...new Set(this.checked().map((j) => idOf(j.v, j.r)))].sort() };
    return this.ids.ids;
  }
  private ids?: { config: LdirectordConfig; ids: RealId[] };

  /** Shared checks: which reals this node checks from now on; it stops vouching for the others. */
  setShare(here: (id: RealId) => boolean): void {
    this.here = here;
    for (const id of [...this.vouched.keys()]) if (!here(id)) this.vouched.delete(id);
  }

  /** The verdicts this node vouches for (reals it checks, once checked here). */
  verdicts(): ReadonlyMap<RealId, boolean> {
    return this.vouched;
  }

  /** A peer's verdicts on reals it checks: adopted as they are (its state machine ran there), then the table follows. */
  adopt(verdicts: ReadonlyMap<RealId, boolean>, by: string): Promise<void> | undefined {
    let changed = false;
    for (const { v, r } of this.checked()) {
      const up = verdicts.get(idOf(v, r));
      const prev = this.stateOf(v, r);
      if (up === undefined || up === prev.up || this.here(idOf(v, r))) continue;
      const message = `${up ? 'up' : 'down'} as checked by ${by}`;
      this.setState(v, r, { ...prev, up, failcount: 0, message, checkedAt: new Date().toISOString() });
      logRealEvent(this.opts, v, r, up ? { kind: 'restored' } : { kind: 'down', forced: false }, message, this.config.globals.alerts.emailalert);
      changed = true;
    }
    return changed ? this.reconcile() : undefined;
  }

  /** One round: every real of every virtual checked at once (bounded), then the table brought in line. */
  round(): Promise<void> {
    return this.pacer.round();
  }

  private async endRound(): Promise<void> {
    this.rounds++;
    for (const v of this.config.virtualServices) await this.fallbackCommand(v);
    // A refused service is retried every round, with no state change to prompt it.
    if (this.refused.size) this.applied = '';
    await this.pacer.settle();
    if (this.refused.size) await this.reconcile();
    await this.queue;
  }

  private inMaintenance(r: RealServer): boolean {
    const dir = this.config.globals.maintenancedir;
    return !!dir && (existsSync(`${dir}/${hostPort(r.address, r.port)}`) || existsSync(`${dir}/${r.address}`));
  }

  /** Checks one real and feeds the result through the state machine; true when it went up or down. */
  private async checkReal(v: VirtualService, r: RealServer): Promise<boolean> {
    const e = effective(v, this.config.globals);
    const prev = this.stateOf(v, r);
    const how = checkToRun(prev, v.checktype, v.protocol);
    if (how === 'off') return false;
    let obs: Observation;
    if (this.inMaintenance(r)) obs = { kind: 'maintenance' };
    else if (how === 'on') obs = { kind: 'checked', how, result: { up: true, message: 'checktype on' } };
    else {
      const target = checkTarget(v, r, how === 'negotiate' ? e.negotiatetimeout : e.checktimeout, e.checkcount);
      obs = { kind: 'checked', how, result: await (this.opts.runCheck ?? defaultRunner)(how, target) };
    }
    // The real may have left the configuration (a reload) while its check was out.
    if (this.stateOf(v, r) !== prev) return false;
    const t = observe(prev, obs, realPolicy(v, e, r), new Date());
    this.setState(v, r, t.state);
    if (this.here(idOf(v, r))) {
      this.vouched.set(idOf(v, r), t.state.up);
      if (t.state.up !== prev.up) this.opts.onVerdict?.();
    }
    if (t.event) logRealEvent(this.opts, v, r, t.event, t.state.message, this.config.globals.alerts.emailalert);
    return t.effect.kind !== 'none';
  }

  private async fallbackCommand(v: VirtualService): Promise<void> {
    if (!effective(v, this.config.globals).fallbackcommand || v.checktype.kind === 'off') return;
    const verb = fallbackCommandDue(
      this.fallbackCommandState.get(virtualId(v)),
      v.realServers.some((r) => this.stateOf(v, r).up),
    );
    if (!verb) return;
    this.fallbackCommandState.set(virtualId(v), verb);
    await runFallbackCommand(v, this.config, verb, this.opts);
  }

  /** The table the current states ask for, in configuration order. */
  desired(): IpvsServiceState[] {
    return this.config.virtualServices.map((v) => virtualTable(v, this.config, (r) => this.stateOf(v, r), this.inTable.get(virtualId(v)) ?? new Set<string>()));
  }

  private rememberTable(live: IpvsServiceState[]): void {
    this.inTable = new Map();
    const byKey = new Map(live.map((s) => [serviceKey(s), s]));
    for (const v of this.config.virtualServices) {
      this.inTable.set(virtualId(v), new Set(byKey.get(keyOf(v, this.config))?.realServers.map((d) => d.address) ?? []));
    }
  }

  /** Reads the live table and applies the difference, service by service; serialised. */
  reconcile(previousKeys: Set<string> = new Set()): Promise<void> {
    this.queue = this.queue.then(async () => {
      const desired = this.desired();
      const fingerprint = JSON.stringify(desired);
      if (fingerprint === this.applied && previousKeys.size === 0) return;
      const live = await this.ipvs.read();
      const managed = new Set([...desired.map(serviceKey), ...previousKeys]);
      const { applied, refused } = await applyByService(this.ipvs, planIpvs(desired, live, managed));
      for (const o of applied)
        this.opts.log.info(
          { op: o.op, service: o.service.address, dest: 'dest' in o ? o.dest.address : undefined, weight: 'dest' in o ? o.dest.weight : undefined },
          'ipvs',
        );
      this.noteRefusals(refused);
      this.rememberTable(await this.ipvs.read());
      this.applied = refused.length ? '' : JSON.stringify(this.desired());
    });
    return this.queue;
  }

  private noteRefusals(refused: ServiceRefusal[]): void {
    const next = new Map(refused.map((r) => [r.key, r]));
    for (const v of this.config.virtualServices) {
      const key = keyOf(v, this.config);
      const now = next.get(key);
      const before = this.refused.get(key);
      // Logged when it starts or its reason changes, not on every retry.
      if (now && now.reason !== before?.reason)
        this.opts.log.error(
          { virtualService: virtualId(v), op: now.op, reason: now.reason },
          `IPVS refused virtual service ${virtualId(v)}: ${now.reason}; the others are managed, it is retried every round`,
        );
      if (!now && before) this.opts.log.info({ virtualService: virtualId(v) }, `IPVS accepted virtual service ${virtualId(v)}`);
    }
    // A service left out by a reload whose removal the kernel refused.
    const configured = new Set(this.config.virtualServices.map((v) => keyOf(v, this.config)));
    for (const r of refused)
      if (!configured.has(r.key)) this.opts.log.error({ service: r.key, op: r.op, reason: r.reason }, `IPVS refused to ${r.op} ${r.key}: ${r.reason}`);
    this.refused = next;
  }

  /** A new configuration: states of unchanged reals carry over; removed services are deleted. */
  async reload(config: LdirectordConfig): Promise<void> {
    const before = new Set(this.config.virtualServices.map((v) => keyOf(v, this.config)));
    this.config = config;
    for (const vid of [...this.states.keys()]) if (!config.virtualServices.some((v) => virtualId(v) === vid)) this.states.delete(vid);
    for (const v of config.virtualServices) {
      const vs = this.states.get(virtualId(v));
      if (!vs) continue;
      const keep = new Set(v.realServers.map((r) => realKey(v, r)));
      for (const k of [...vs.keys()]) if (!keep.has(k)) vs.delete(k);
    }
    this.applied = '';
    await this.reconcile(before);
    this.opts.log.info({ virtualServices: config.virtualServices.length }, 'configuration reloaded');
  }

  /** Stop: with cleanstop, remove this director's real servers and services. */
  async stop(): Promise<void> {
    this.pacer.stop();
    await this.queue;
    const live = await this.ipvs.read();
    const ops = [];
    for (const v of this.config.virtualServices) {
      if (!effective(v, this.config.globals).cleanstop) continue;
      const cur = live.find((s) => serviceKey(s) === keyOf(v, this.config));
      if (!cur) continue;
      for (const d of cur.realServers) ops.push({ op: 'delete-dest' as const, service: cur, dest: d });
      ops.push({ op: 'delete-service' as const, service: cur });
    }
    await applyByService(this.ipvs, ops);
  }

  status() {
    // The table computed once (status is polled every second); desired() lists the services in
    // configuration order, so service i is virtual i's.
    const desired = this.desired();
    return this.config.virtualServices.map((v, i) => {
      const inTable = new Map(desired[i].realServers.map((d) => [d.address, d]));
      const refused = this.refused.get(serviceKey(desired[i]));
      return {
        virtualService: virtualId(v),
        /** Why the kernel refused this service at the last reconcile, or null. */
        ipvsError: refused ? refused.reason : null,
        realServers: v.realServers.map((r) => {
          const st = this.stateOf(v, r);
          const d = refused ? undefined : inTable.get(realKey(v, r));
          return {
            address: hostPort(r.address, r.port),
            state: st.up ? 'up' : 'down',
            weight: d?.weight ?? null,
            failcount: st.failcount,
            message: st.message,
            checkedAt: st.checkedAt ?? null,
          };
        }),
      };
    });
  }
}
