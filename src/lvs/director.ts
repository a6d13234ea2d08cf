// The ldirectord role: check every real server of every virtual service, keep a state per real
// (up/down, consecutive failures), and reconcile IPVS to the weights those states ask for.
// The state machine follows ldirectord (failurecount, quiescent, readdquiescent, fallback,
// fallbackcommand); the checks run concurrently with a bound instead of one after another.
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import type { Logger } from '../log.js';
import { desiredService, destinationAddress, type IpvsServiceState } from './config/desired.js';
import { effective, hostPort, virtualId, type LdirectordConfig, type RealServer, type Service, type VirtualService } from './config/model.js';
import { connectCheck, externalCheck, negotiateCheck, pingCheck, type CheckResult, type CheckTarget } from './checks/checks.js';
import { planIpvs, serviceKey } from './ipvs/plan.js';
import type { Ipvs } from './ipvs/types.js';

const DEFAULT_PORT: Partial<Record<Service, number>> = {
  ftp: 21, smtp: 25, dns: 53, http: 80, pop: 110, nntp: 119, imap: 143, ldap: 389, https: 443, submission: 587, ldaps: 636, imaps: 993,
  pops: 995, oracle: 1521, radius: 1812, http_proxy: 3128, mysql: 3306, sip: 5060, pgsql: 5432,
};

export interface RealState {
  up: boolean;
  failcount: number;
  /** Rounds of plain connect left before the next negotiate (combined checktype). */
  connectRoundsLeft: number;
  message: string;
  checkedAt?: string;
}

export type CheckRunner = (kind: 'connect' | 'ping' | 'external' | 'negotiate', target: CheckTarget) => Promise<CheckResult>;

const defaultRunner: CheckRunner = (kind, t) =>
  kind === 'connect' ? connectCheck(t) : kind === 'ping' ? pingCheck(t) : kind === 'external' ? externalCheck(t) : negotiateCheck(t);

export interface DirectorOptions {
  log: Logger;
  /** Checks in flight at once. */
  concurrency?: number;
  runCheck?: CheckRunner;
  /** Runs fallbackcommand (default: through the shell). */
  runCommand?: (command: string) => Promise<void>;
}

/** A real's key within its virtual: its kernel address. */
const realKey = (v: VirtualService, r: RealServer) => destinationAddress(v, r.address, r.port, r.forwarding);

/** A scheduled round spreads its checks over this share of checkinterval. */
const SPREAD = 0.8;
/** The pacer starts checks in batches at most this often (one timer wake per batch). */
const PACE_MS = 4;

interface Job { v: VirtualService; r: RealServer; e: ReturnType<typeof effective> }

export class Director {
  private readonly states = new Map<string, Map<string, RealState>>();
  private readonly fallbackCommandState = new Map<string, 'start' | 'stop'>();
  private inTable = new Map<string, Set<string>>();
  private applied = '';
  private queue: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Checks out now, and the reals they are for: a real is never checked twice at once. */
  private inFlight = 0;
  private readonly running = new Set<RealState>();
  /** Bumped when a real goes up or down; the table is settled when `settledGen` catches up. */
  private stateGen = 0;
  private settledGen = 0;
  private settling?: Promise<void>;
  rounds = 0;
  /** Checks completed, over all rounds. */
  checks = 0;

  constructor(private config: LdirectordConfig, private readonly ipvs: Ipvs, private readonly opts: DirectorOptions) {}

  get currentConfig(): LdirectordConfig { return this.config; }

  private stateOf(v: VirtualService, r: RealServer): RealState {
    const vs = this.states.get(virtualId(v)) ?? new Map<string, RealState>();
    this.states.set(virtualId(v), vs);
    let s = vs.get(realKey(v, r));
    if (!s) { s = { up: false, failcount: 0, connectRoundsLeft: 0, message: 'not checked yet' }; vs.set(realKey(v, r), s); }
    return s;
  }

  /**
   * Start: adopt what the table holds (reals present with weight > 0 are up, as ldirectord does —
   * without its add/remove churn), bring the table in line, then check.
   */
  async start(): Promise<void> {
    const live = await this.ipvs.read();
    this.rememberTable(live);
    for (const v of this.config.virtualServices) {
      // At start-up ldirectord puts every real server of a quiescent service in the table, the
      // down ones at weight 0 (through add/remove churn aavip skips): the same end state.
      if (effective(v, this.config.globals).quiescent && v.checktype.kind !== 'off') {
        for (const r of v.realServers) this.inTable.get(virtualId(v))!.add(realKey(v, r));
      }
      const cur = live.find((s) => serviceKey(s) === serviceKey(desiredService(v, this.config, () => undefined)));
      for (const r of v.realServers) {
        const d = cur?.realServers.find((x) => x.address === realKey(v, r));
        const st = this.stateOf(v, r);
        st.up = v.checktype.kind !== 'off' && !!d && d.weight > 0;
        if (st.up) st.message = 'adopted from the IPVS table';
      }
    }
    await this.reconcile();
    await this.round();
    this.schedule();
  }

  /**
   * Rounds start every checkinterval (ldirectord sleeps checkinterval *after* each round, so its
   * period grows with the time its sequential checks take). A scheduled round spreads its checks
   * evenly over most of the interval rather than starting them in one burst (thousands of connects
   * at once queue behind each other and load both ends in spikes); each real keeps its slot, so
   * it is checked once per interval. The next round waits only for this one's checks to be
   * started, not answered: a hung server, skipped while its check is out, delays no other.
   */
  private schedule(lastStart = performance.now()): void {
    if (this.stopped) return;
    const interval = this.config.globals.checkinterval * 1000;
    const wait = Math.max(0, interval - (performance.now() - lastStart));
    this.timer = setTimeout(() => {
      const start = performance.now();
      void this.pacedRound(interval * SPREAD).finally(() => this.schedule(start));
    }, wait);
  }

  /** The checks of one round, in configuration order (a real's place gives its slot). */
  private jobs(): Job[] {
    const jobs: Job[] = [];
    for (const v of this.config.virtualServices) {
      if (v.checktype.kind === 'off') continue;
      const e = effective(v, this.config.globals);
      for (const r of v.realServers) jobs.push({ v, r, e });
    }
    return jobs;
  }

  /** One round: every real of every virtual checked at once (bounded), then the table brought in line. */
  async round(): Promise<void> {
    const jobs = this.jobs();
    let next = 0;
    const workers = Array.from({ length: Math.min(this.opts.concurrency ?? 1000, jobs.length) }, async () => {
      for (let i = next++; i < jobs.length && !this.stopped; i = next++) await this.runJob(jobs[i], false);
    });
    await Promise.all(workers);
    await this.endRound();
  }

  /**
   * A scheduled round: real i of n starts at i/n of the window, in batches every few ms, within
   * the concurrency bound. Resolves once every check is started; the round ends (count,
   * fallbackcommand, table) when they are all back. A state change reaches IPVS at once.
   */
  private async pacedRound(windowMs: number): Promise<void> {
    const jobs = this.jobs();
    const n = jobs.length;
    const limit = this.opts.concurrency ?? 1000;
    const start = performance.now();
    const out: Promise<void>[] = [];
    // Each pass starts at least one check or waits for a slot or a free place: n passes plus waits bounded by the window and the checks' timeouts.
    for (let i = 0; i < n && !this.stopped;) {
      const due = Math.min(n, Math.floor(((performance.now() - start) / windowMs) * n) + 1);
      while (i < due && this.inFlight < limit) {
        out.push(this.runJob(jobs[i++], true).catch((e: unknown) => this.opts.log.error({ err: (e as Error).message }, 'check failed to run')));
      }
      if (i >= n) break;
      const wait = this.inFlight >= limit ? PACE_MS : Math.max(PACE_MS, start + (i / n) * windowMs - performance.now());
      await new Promise<void>((r) => { this.timer = setTimeout(r, wait); });
    }
    void Promise.all(out).then(() => this.endRound()).catch((e: unknown) => this.opts.log.error({ err: (e as Error).message }, 'end of round failed'));
  }

  private async runJob(j: Job, paced: boolean): Promise<void> {
    const st = this.stateOf(j.v, j.r);
    if (this.running.has(st)) return;
    this.running.add(st);
    this.inFlight++;
    const was = st.up;
    try {
      await this.checkReal(j.v, j.r, j.e.checktimeout, j.e.negotiatetimeout, j.e.checkcount, j.e.failurecount);
      this.checks++;
    } finally {
      this.running.delete(st);
      this.inFlight--;
      if (st.up !== was) {
        this.stateGen++;
        if (paced) this.settleInBackground();
      }
    }
  }

  private async endRound(): Promise<void> {
    if (this.stopped) return;
    this.rounds++;
    for (const v of this.config.virtualServices) await this.fallbackCommand(v);
    await this.settle();
  }

  /**
   * Brings IPVS in line with the states, once per batch of changes: changes that arrive while it
   * writes are taken by its next pass. Each pass reads the live table (no shortcut through the
   * last fingerprint, which a change landing mid-write would make stale).
   */
  private settle(): Promise<void> {
    if (this.settledGen === this.stateGen) return this.settling ?? this.queue;
    if (this.settling) return this.settling;
    const settling = (async () => {
      // Each pass takes every change made before it; the bound only yields now and then under constant change.
      for (let pass = 0; pass < 100 && this.settledGen !== this.stateGen && !this.stopped; pass++) {
        const gen = this.stateGen;
        this.applied = '';
        await this.reconcile();
        this.settledGen = gen;
      }
    })();
    this.settling = settling;
    // A change that came just as the last pass ended (or past the bound) gets its own; a failed write waits for the next round.
    settling.then(() => {
      this.settling = undefined;
      if (this.settledGen !== this.stateGen && !this.stopped) this.settleInBackground();
    }, () => { this.settling = undefined; });
    return settling;
  }

  private settleInBackground(): void {
    this.settle().catch((e: unknown) => this.opts.log.error({ err: (e as Error).message }, 'IPVS update failed'));
  }

  private target(v: VirtualService, r: RealServer, timeoutS: number, checkcount: number): CheckTarget {
    const port = v.checkport ?? (r.port > 0 ? r.port : DEFAULT_PORT[v.service] ?? 0);
    return {
      host: r.address, port, realPort: r.port, virtualHost: v.protocol === 'fwm' ? String(v.fwmark) : v.address!, virtualPort: v.port ?? 0,
      protocol: v.protocol, service: v.service, request: r.request ?? v.request, receive: r.receive ?? v.receive, httpmethod: v.httpmethod,
      virtualhost: v.virtualhost, login: v.login, passwd: v.passwd, database: v.database, secret: v.secret, checkcommand: v.checkcommand,
      timeoutMs: timeoutS * 1000, checkcount,
    };
  }

  private inMaintenance(r: RealServer): boolean {
    const dir = this.config.globals.maintenancedir;
    return !!dir && (existsSync(`${dir}/${hostPort(r.address, r.port)}`) || existsSync(`${dir}/${r.address}`));
  }

  private async checkReal(v: VirtualService, r: RealServer, checktimeout: number, negotiatetimeout: number, checkcount: number, failurecount: number): Promise<void> {
    const st = this.stateOf(v, r);
    const kind = v.checktype.kind;
    if (kind === 'off') return;
    let result: CheckResult;
    if (this.inMaintenance(r)) result = { up: false, message: 'Server in maintenance' };
    else if (kind === 'on') result = { up: true, message: 'checktype on' };
    else {
      const run = this.opts.runCheck ?? defaultRunner;
      let how: 'connect' | 'ping' | 'external' | 'negotiate';
      if (kind === 'combined') {
        how = st.connectRoundsLeft > 0 && st.up ? 'connect' : 'negotiate';
      } else if (kind === 'connect') how = v.protocol === 'udp' ? 'ping' : 'connect';
      else if (kind === 'external-perl') how = 'external';
      else how = kind;
      result = await run(how, this.target(v, r, how === 'negotiate' ? negotiatetimeout : checktimeout, checkcount));
      if (v.checktype.kind === 'combined') st.connectRoundsLeft = how === 'negotiate' ? (result.up ? v.checktype.connectRounds : 0) : result.up ? st.connectRoundsLeft - 1 : 0;
    }
    st.checkedAt = new Date().toISOString();
    st.message = result.message;
    const id = `${hostPort(r.address, r.port)} (${virtualId(v)})`;
    if (result.up) {
      if (st.failcount > 0 && st.up) this.opts.log.info(`Resetting soft failure count: ${id}`);
      st.failcount = 0;
      if (!st.up) { st.up = true; this.opts.log.info({ real: id, check: result.message }, `Restored real server: ${id}`); }
      return;
    }
    if (!st.up) return;
    st.failcount++;
    const forced = result.message === 'Server in maintenance';
    if (st.failcount < failurecount && !forced) {
      this.opts.log.info(`Soft failure real server: ${id} failure ${st.failcount}/${failurecount}: ${result.message}`);
      return;
    }
    st.up = false;
    this.opts.log.warn({ real: id, check: result.message, alert: v.alerts.emailalert ?? this.config.globals.alerts.emailalert }, `Real server down: ${id}`);
  }

  private async fallbackCommand(v: VirtualService): Promise<void> {
    const e = effective(v, this.config.globals);
    if (!e.fallbackcommand || v.checktype.kind === 'off') return;
    const anyUp = v.realServers.some((r) => this.stateOf(v, r).up);
    const verb = anyUp ? 'stop' : 'start';
    if (this.fallbackCommandState.get(virtualId(v)) === verb || (verb === 'stop' && !this.fallbackCommandState.has(virtualId(v)))) return;
    this.fallbackCommandState.set(virtualId(v), verb);
    const where = v.protocol === 'fwm' ? ':0 fwm' : `${hostPort(v.address!, v.port!)} ${v.protocol}`;
    const command = `${e.fallbackcommand} ${verb} ${where}`;
    this.opts.log.info({ command }, 'fallbackcommand');
    await (this.opts.runCommand ?? runShell)(command);
  }

  /** The table the current states ask for. */
  desired(): IpvsServiceState[] {
    return this.config.virtualServices.map((v) => {
      const e = effective(v, this.config.globals);
      const present = this.inTable.get(virtualId(v)) ?? new Set<string>();
      const upKeys = new Set<string>();
      const s = desiredService(v, this.config, (r) => {
        const st = this.stateOf(v, r);
        if (st.up) { upKeys.add(realKey(v, r)); return r.weight; }
        // Down: quiescent keeps it at weight 0 if it is in the table (or re-adds it with readdquiescent).
        if (e.quiescent && (present.has(realKey(v, r)) || this.config.globals.readdquiescent)) return 0;
        return undefined;
      });
      // A quiesced real has no thresholds: ldirectord quiesces (and re-adds) with `ipvsadm -e|-a ... -w 0`,
      // without -x/-y, which sets both to 0.
      for (const d of s.realServers) if (!d.fallback && !upKeys.has(d.address)) { d.lower = 0; d.upper = 0; }
      return s;
    });
  }

  private rememberTable(live: IpvsServiceState[]): void {
    this.inTable = new Map();
    for (const v of this.config.virtualServices) {
      const key = serviceKey(desiredService(v, this.config, () => undefined));
      const cur = live.find((s) => serviceKey(s) === key);
      this.inTable.set(virtualId(v), new Set(cur?.realServers.map((d) => d.address) ?? []));
    }
  }

  /** Reads the live table and applies the difference; serialised. */
  reconcile(previousKeys: Set<string> = new Set()): Promise<void> {
    this.queue = this.queue.then(async () => {
      const desired = this.desired();
      const fingerprint = JSON.stringify(desired);
      if (fingerprint === this.applied && previousKeys.size === 0) return;
      const live = await this.ipvs.read();
      const managed = new Set([...desired.map(serviceKey), ...previousKeys]);
      const ops = planIpvs(desired, live, managed);
      if (ops.length) {
        await this.ipvs.apply(ops);
        for (const o of ops) this.opts.log.info({ op: o.op, service: o.service.address, dest: 'dest' in o ? o.dest.address : undefined, weight: 'dest' in o ? o.dest.weight : undefined }, 'ipvs');
      }
      this.rememberTable(await this.ipvs.read());
      this.applied = JSON.stringify(this.desired());
    });
    return this.queue;
  }

  /** A new configuration: states of unchanged reals carry over; removed services are deleted. */
  async reload(config: LdirectordConfig): Promise<void> {
    const before = new Set(this.config.virtualServices.map((v) => serviceKey(desiredService(v, this.config, () => undefined))));
    const old = this.states;
    this.config = config;
    for (const [vid, reals] of [...old]) if (!config.virtualServices.some((v) => virtualId(v) === vid)) old.delete(vid);
    for (const v of config.virtualServices) {
      const vs = old.get(virtualId(v));
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
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.queue;
    const live = await this.ipvs.read();
    const ops = [];
    for (const v of this.config.virtualServices) {
      if (!effective(v, this.config.globals).cleanstop) continue;
      const key = serviceKey(desiredService(v, this.config, () => undefined));
      const cur = live.find((s) => serviceKey(s) === key);
      if (!cur) continue;
      for (const d of cur.realServers) ops.push({ op: 'delete-dest' as const, service: cur, dest: d });
      ops.push({ op: 'delete-service' as const, service: cur });
    }
    await this.ipvs.apply(ops);
  }

  status() {
    // The table computed once (status is polled every second); desired() lists the services in
    // configuration order, so service i is virtual i's.
    const desired = this.desired();
    return this.config.virtualServices.map((v, i) => {
      const inTable = new Map(desired[i].realServers.map((d) => [d.address, d]));
      return {
        virtualService: virtualId(v),
        realServers: v.realServers.map((r) => {
          const st = this.stateOf(v, r);
          const d = inTable?.get(realKey(v, r));
          return { address: hostPort(r.address, r.port), state: st.up ? 'up' : 'down', weight: d?.weight ?? null, failcount: st.failcount, message: st.message, checkedAt: st.checkedAt ?? null };
        }),
      };
    });
  }
}

function runShell(command: string): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore' });
    child.on('exit', () => resolve());
    child.on('error', () => resolve());
  });
}
