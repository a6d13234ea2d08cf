// A three-node cluster of real `aavip up` daemons in a namespace lab: what `aavip lab failover` and
// the membership tests run against.
import { once } from 'node:events';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { assign, type Owners } from '../assignment/assign.js';
import { controlSocketOf, loadClusterConfig, type ClusterConfig } from '../config/cluster.js';
import { askDaemon } from '../daemon/control-client.js';
import type { DaemonStatus } from '../daemon/control-protocol.js';
import { bucketOf } from '../hash/mechanisms.js';
import { parseAddress } from '../hash/flow.js';
import { built } from '../paths.js';
import { LAB_PREFIX_LENGTH, NetnsLab } from './netns.js';
import { nodeName, SERVICE_PORT, VIP_ADDRESS } from './vip-lab.js';
import type { Attempt } from './client.js';
import type { LoadOptions, TimedAttempt } from './load.js';

const CLI = built('cli/main.js');

export interface ClusterLabOptions {
  prefix: string;
  intervalMs?: number;
  deadtimeMs?: number;
  copies?: number;
  buckets?: number;
  drainTimeoutMs?: number;
  quorum?: 'majority' | 'ignore';
  /** The `lvs` section written into cluster.yaml as given (the appliance lab: `{ config: ldirectord.cf, sync: ... }`). */
  lvs?: Record<string, unknown>;
  /** The VIP's fwmark (directors that are also real servers). */
  fwmark?: number;
  /** `track:` as written into cluster.yaml, and nodes' own lists (node id → list). */
  track?: unknown[];
  nodeTrack?: Record<number, unknown[]>;
  /** `notify:` as written into cluster.yaml. */
  notify?: unknown[];
  /** `metrics:` as written into cluster.yaml (every node listens on its own namespace's address). */
  metrics?: Record<string, unknown>;
  /** Whether each node runs the lab's responder on the service port (default: yes). */
  responders?: boolean;
  /** The VIP's backend (default nft; xt_cluster hashes the source address only). */
  backend?: 'nft' | 'xt_cluster';
}

/** A tuple the lab connected from, in which phase and how it went (for explaining a failure). */
export interface TriedTuple {
  src: string;
  sport: number;
  phase: string;
  at: number;
  node?: string;
  error?: string;
}

export class ClusterLab {
  readonly daemons = new Map<number, ChildProcess>();
  readonly tried: TriedTuple[] = [];
  readonly logs = new Map<number, string[]>();
  readonly config: ClusterConfig;
  private readonly sockets = new Map<number, string>();

  private constructor(
    readonly lab: NetnsLab,
    readonly dir: string,
    readonly configFile: string,
  ) {
    // Read on the host, where the nodes' interfaces (inside their namespaces) do not exist.
    this.config = loadClusterConfig(configFile, { local: nodeName(1), interfaceExists: () => true });
  }

  /**
   * A fresh lab (what a crashed run left under the prefix removed first) with its three daemons
   * started, in one view and settled; torn down again if they do not get there.
   */
  static async running(o: ClusterLabOptions, timeoutMs = 20_000): Promise<ClusterLab> {
    await NetnsLab.remove(o.prefix);
    const cl = await ClusterLab.create(o);
    try {
      for (const i of [1, 2, 3]) cl.startDaemon(i);
      await cl.waitForView([1, 2, 3], [1, 2, 3], timeoutMs);
      await cl.waitForSettled([1, 2, 3]);
      return cl;
    } catch (e) {
      for (const i of [1, 2, 3]) await cl.stopDaemon(i, 'SIGKILL');
      await cl.destroy();
      throw e;
    }
  }

  static async create(o: ClusterLabOptions): Promise<ClusterLab> {
    const lab = await NetnsLab.create({ prefix: o.prefix, nodes: 3, clientAddresses: 200 });
    const dir = mkdtempSync(join(tmpdir(), `aavip-${o.prefix}-`));
    try {
      const key = join(dir, 'authkey');
      writeFileSync(key, randomBytes(32));
      chmodSync(key, 0o600);
      const configFile = join(dir, 'cluster.yaml');
      writeFileSync(
        configFile,
        stringify({
          cluster: {
            name: o.prefix,
            local: 'auto',
            authkey: key,
            quorum: o.quorum ?? 'majority',
            drainTimeout: `${o.drainTimeoutMs ?? 30000}ms`,
            heartbeat: {
              port: 5405,
              interval: `${o.intervalMs ?? Math.max(20, Math.round((o.deadtimeMs ?? 300) / 5))}ms`,
              deadtime: `${o.deadtimeMs ?? 300}ms`,
              copies: o.copies ?? 2,
            },
            nodes: lab.nodeIds.map((i) => ({ id: i, name: nodeName(i), address: lab.nodeAddress(i), ...(o.nodeTrack?.[i] ? { track: o.nodeTrack[i] } : {}) })),
          },
          vips: [
            {
              address: `${VIP_ADDRESS}/${LAB_PREFIX_LENGTH}`,
              interface: 'eth0',
              hashmode: o.backend === 'xt_cluster' ? 'sourceip' : 'sourceip-sourceport',
              buckets: o.buckets ?? 256,
              seed: 0x5eed,
              backend: o.backend ?? 'nft',
              ...(o.fwmark !== undefined ? { fwmark: o.fwmark } : {}),
            },
          ],
          ...(o.lvs ? { lvs: o.lvs } : {}),
          ...(o.track ? { track: o.track } : {}),
          ...(o.notify ? { notify: o.notify } : {}),
          ...(o.metrics ? { metrics: o.metrics } : {}),
        }),
      );
      const cl = new ClusterLab(lab, dir, configFile);
      for (const i of o.responders === false ? [] : lab.nodeIds) {
        const r = lab.spawn(lab.nodeNs(i), [process.execPath, built('lab/responder.js'), nodeName(i), String(SERVICE_PORT)]);
        await once(r.stdout!, 'data');
      }
      return cl;
    } catch (e) {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** `nodeArgs`: flags for node itself (a bench's --trace-gc, which NODE_OPTIONS refuses). */
  startDaemon(i: number, extraArgs: string[] = [], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): ChildProcess {
    const child = this.lab.spawn(
      this.lab.nodeNs(i),
      [process.execPath, ...nodeArgs, CLI, 'up', '--config', this.configFile, '--node', nodeName(i), ...extraArgs],
      {
        ...process.env,
        AAVIP_LOG_LEVEL: 'info',
        ...env,
      },
    );
    const lines: string[] = [];
    this.logs.set(i, lines);
    child.stderr!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
    // AAVIP_LAB_LOG_DIR keeps every daemon's log (pino JSON) after the lab is gone, for a post-mortem.
    const keep = process.env.AAVIP_LAB_LOG_DIR;
    if (keep) child.stderr!.on('data', (d: Buffer) => appendFileSync(join(keep, `${this.lab.opts.prefix}-${nodeName(i)}.log`), d));
    this.daemons.set(i, child);
    return child;
  }

  async stopDaemon(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.daemons.get(i);
    if (child) await this.lab.kill(child, signal);
    this.daemons.delete(i);
  }

  /**
   * Node i's daemon's status, asked on its control socket directly (a unix socket is reachable
   * from any network namespace): polling through `aavip status` would start a program each time,
   * and that load alone can hold the daemons up on a small machine.
   */
  async status(i: number): Promise<DaemonStatus | undefined> {
    if (!this.sockets.has(i)) this.sockets.set(i, controlSocketOf(this.configFile, { local: nodeName(i), interfaceExists: () => true }));
    return askDaemon(this.sockets.get(i)!, { cmd: 'status' }, 2000).catch(() => undefined) as Promise<DaemonStatus | undefined>;
  }

  /** The configuration file as data, to change it (then `writeConfig`) for reload tests. */
  readConfig(): Record<string, any> {
    return parse(readFileSync(this.configFile, 'utf8')) as Record<string, any>;
  }

  /** Rewrites the configuration file: as data, or as text (e.g. a broken one). */
  writeConfig(config: Record<string, any> | string): void {
    writeFileSync(this.configFile, typeof config === 'string' ? config : stringify(config));
  }

  /** Runs an `aavip` command on node i (e.g. ['drain', 'node3']) with the lab's configuration. */
  cli(i: number, args: string[]) {
    return this.lab.exec(this.lab.nodeNs(i), [process.execPath, CLI, ...args, '--config', this.configFile, '--node', nodeName(i)], { allowFailure: true });
  }

  /** Waits until the given nodes all run, have joined and see exactly `live`. */
  async waitForView(nodes: number[], live: number[], timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = await Promise.all(nodes.map((i) => this.status(i)));
      if (st.every((s) => s?.joined && s.view.live.join() === live.join())) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`nodes ${nodes.join(',')} did not agree on live=${live.join(',')} within ${timeoutMs} ms`);
  }

  /** Waits until no node has buckets in handover. */
  async waitForSettled(nodes: number[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const st = await Promise.all(nodes.map((i) => this.status(i)));
      if (st.every((s) => s?.vips.every((v) => v.local.incoming.length === 0 && v.local.draining.length === 0))) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('handover did not settle');
  }

  owners(live: number[]): Owners {
    return assign(this.config.nodes, new Set(live), this.config.vips[0].buckets);
  }

  bucketOf(src: string, sport: number): number {
    const v = this.config.vips[0];
    return bucketOf(
      { mechanism: 'nft', hashmode: v.hashmode, seed: v.seed, buckets: v.buckets },
      { src: parseAddress(src)!, srcPort: sport, dst: v.address, dstPort: SERVICE_PORT, proto: 6 },
    );
  }

  /**
   * `count` distinct (source address, source port) tuples: `perRound` of each round fall in the
   * given buckets in turn, the rest anywhere — so every bucket of interest is probed often.
   */
  tuples(count: number, probe: number[], seed = 1): { src: string; sport: number }[] {
    const sources = this.lab.clientSources;
    let x = seed;
    const rand = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x;
    };
    const used = new Set<string>();
    const pick = (bucket?: number) => {
      for (let tries = 0; tries < 100_000; tries++) {
        const src = sources[rand() % sources.length];
        const sport = 20_000 + (rand() % 40_000);
        const key = `${src}:${sport}`;
        if (used.has(key) || (bucket !== undefined && this.bucketOf(src, sport) !== bucket)) continue;
        used.add(key);
        return { src, sport };
      }
      throw new Error(`no free tuple for bucket ${bucket}`);
    };
    const out: { src: string; sport: number }[] = [];
    for (let _i = 0; out.length < count; _i++) {
      for (const b of probe) if (out.length < count) out.push(pick(b));
      if (out.length < count) out.push(pick());
    }
    return out;
  }

  /** Runs continuous load in the client namespace in the background; resolves with every attempt. */
  load(o: Partial<LoadOptions> & { durationMs: number; tuples: LoadOptions['tuples'] }): Promise<TimedAttempt[]> {
    const opts: LoadOptions = { target: VIP_ADDRESS, port: SERVICE_PORT, everyMs: 2, concurrency: 200, timeoutMs: 250, ...o };
    const file = join(this.dir, `load-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(opts));
    return this.lab
      .exec(this.lab.clientNs, [process.execPath, built('lab/load.js'), file], { timeoutMs: o.durationMs + 30_000 })
      .then((r) => JSON.parse(r.stdout) as TimedAttempt[]);
  }

  async burst(count: number): Promise<Attempt[]> {
    const opts = { target: VIP_ADDRESS, port: SERVICE_PORT, sources: this.lab.clientSources, count, concurrency: 32, timeoutMs: 2000 };
    const r = await this.lab.exec(this.lab.clientNs, [process.execPath, built('lab/client.js'), JSON.stringify(opts)], { timeoutMs: 120_000 });
    return JSON.parse(r.stdout) as Attempt[];
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
