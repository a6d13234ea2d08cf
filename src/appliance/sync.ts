// IPVS connection synchronisation for the active/active appliance: every node runs the kernel's
// sync daemon as master (sends its connections) and as backup (learns everyone else's) at once,
// on the sync interface with the cluster's syncid, so a node that takes a dead node's bucket
// already has that bucket's connections bound to the same real servers. planSync is the pure
// core; ConnectionSync the shell over netlink and the sysctl.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Logger } from '../log.js';
import { NetlinkIpvs, type SyncDaemon } from '../lvs/ipvs/netlink.js';
import type { SyncSettings } from './settings.js';

export const SYNC_STATES: readonly SyncDaemon['state'][] = ['master', 'backup'];

/** The netlink calls sync needs (NetlinkIpvs has them). */
export interface SyncDaemonControl {
  startSyncDaemon(d: SyncDaemon): Promise<void>;
  stopSyncDaemon(state: SyncDaemon['state']): Promise<void>;
  listSyncDaemons(): Promise<SyncDaemon[]>;
  close(): void;
}

export interface SyncPlan {
  /** Daemons running with other settings: stopped first. */
  replace: SyncDaemon[];
  /** Daemons running as wanted: left alone (a daemon killed without stopping them left them). */
  keep: SyncDaemon[];
  start: SyncDaemon[];
}

const wantedDaemons = (s: SyncSettings): SyncDaemon[] => SYNC_STATES.map((state) => ({ state, interface: s.interface, syncId: s.syncId }));
// Only what aavip sets decides: group, port and maxlen are the kernel's defaults, reported back.
const same = (a: SyncDaemon, b: SyncDaemon) => a.interface === b.interface && a.syncId === b.syncId;

export function planSync(running: readonly SyncDaemon[], wanted: SyncSettings): SyncPlan {
  const plan: SyncPlan = { replace: [], keep: [], start: [] };
  for (const w of wantedDaemons(wanted)) {
    const cur = running.find((d) => d.state === w.state);
    if (cur && same(cur, w)) plan.keep.push(cur);
    else {
      if (cur) plan.replace.push(cur);
      plan.start.push(w);
    }
  }
  return plan;
}

/** net.ipv4.vs.sync_version: 1 carries IPv6, firewall marks and persistence templates. */
export interface SyncSysctl {
  read(): string;
  write(value: string): void;
}
const SYNC_VERSION = '/proc/sys/net/ipv4/vs/sync_version';
export const procSyncVersion: SyncSysctl = {
  read: () => readFileSync(SYNC_VERSION, 'utf8').trim(),
  write: (v) => writeFileSync(SYNC_VERSION, v),
};

export interface SyncStatus {
  enabled: boolean;
  interface: string;
  syncId: number;
  /** What the kernel runs now (netlink GET_DAEMON). */
  running: SyncDaemon[];
  error?: string;
}

export class ConnectionSync {
  private started = false;

  constructor(
    private readonly ipvs: SyncDaemonControl,
    private settings: SyncSettings,
    private readonly log: Logger,
    private readonly sysctl: SyncSysctl = procSyncVersion,
  ) {}

  get current(): SyncSettings {
    return this.settings;
  }

  /** Starts master and backup as configured, replacing daemons running with other settings. */
  async start(): Promise<void> {
    const version = this.sysctl.read();
    if (version !== '1') {
      this.sysctl.write('1');
      this.log.info({ was: version }, 'net.ipv4.vs.sync_version set to 1 (IPv6, firewall marks and persistence in sync messages)');
    }
    const plan = planSync(await this.ipvs.listSyncDaemons(), this.settings);
    for (const d of plan.replace) {
      await this.ipvs.stopSyncDaemon(d.state);
      this.log.warn(
        { state: d.state, was: { interface: d.interface, syncId: d.syncId }, now: { interface: this.settings.interface, syncId: this.settings.syncId } },
        'an IPVS sync daemon with other settings was running: replaced',
      );
    }
    for (const d of plan.start) await this.ipvs.startSyncDaemon(d);
    this.started = true;
    this.log.info(
      { interface: this.settings.interface, syncId: this.settings.syncId, started: plan.start.map((d) => d.state), kept: plan.keep.map((d) => d.state) },
      'IPVS connection sync running as master and backup',
    );
  }

  /** New settings (a reload): the daemons are replaced when they differ. */
  async reconfigure(next: SyncSettings): Promise<boolean> {
    const changed = !same(wantedDaemons(next)[0], wantedDaemons(this.settings)[0]);
    this.settings = next;
    if (changed) await this.start();
    return changed;
  }

  /** Removes both daemons (what is not running is not an error), and closes the socket. */
  async stop(): Promise<void> {
    const running = await this.ipvs.listSyncDaemons().catch(() => SYNC_STATES.map((state) => ({ state }) as SyncDaemon));
    for (const d of running) {
      await this.ipvs.stopSyncDaemon(d.state).catch((e: Error) => this.log.warn({ state: d.state, err: e.message }, 'could not stop the IPVS sync daemon'));
    }
    if (this.started) this.log.info({ stopped: running.map((d) => d.state) }, 'IPVS connection sync stopped');
    this.started = false;
    this.ipvs.close();
  }

  async status(): Promise<SyncStatus> {
    const base = { enabled: true, interface: this.settings.interface, syncId: this.settings.syncId };
    try {
      return { ...base, running: await this.ipvs.listSyncDaemons() };
    } catch (e) {
      return { ...base, running: [], error: (e as Error).message };
    }
  }
}

/**
 * `aavip down` (no daemon running): removes the sync daemons a daemon that was killed left behind.
 * Without IPVS there are none.
 */
export async function removeLeftoverSync(): Promise<SyncDaemon[]> {
  const ipvs = await NetlinkIpvs.open().catch(() => undefined);
  if (!ipvs) return [];
  try {
    const running = await ipvs.listSyncDaemons();
    for (const d of running) await ipvs.stopSyncDaemon(d.state);
    return running;
  } finally {
    ipvs.close();
  }
}
