// conf/cluster.yaml: the cluster, its nodes and its VIPs. Loaded and validated completely before
// anything is touched; every error names the file, the line and the field, all at once.
import { existsSync, readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isAbsolute, dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { Member } from '../assignment/assign.js';
import { InputError, InputErrors } from '../errors.js';
import { parseAddress, formatAddress } from '../hash/flow.js';
import type { VipSpec } from '../dataplane/types.js';
import { parseVipSpec } from '../dataplane/vipspec.js';
import type { Quorum } from '../membership/membership.js';
import { readAuthkey } from './authkey.js';
import { interfaceCheckHere } from './interfaces.js';
import { readYaml, type FieldPath } from './yaml.js';
import { runDir } from '../paths.js';
import { parseLvsSection, type LvsSettings } from '../appliance/settings.js';
import { parseTrackList, type TrackSpec } from '../track/settings.js';
import { parseNotifyList, type NotifySpec } from '../notify/settings.js';
import { parseMetricsSection, type MetricsSettings } from '../metrics/settings.js';

export interface NodeConfig extends Member {
  name: string;
  address: string;
  /** This node's own tracked services, in place of the cluster's `track:` (src/track/settings.ts). */
  track?: TrackSpec[];
}

/** What every node reads alike from the file: nothing here depends on the node reading it. */
export interface SharedConfig {
  file: string;
  name: string;
  nodes: NodeConfig[];
  heartbeat: { port: number; intervalMs: number; deadtimeMs: number; copies: number; restartGraceMs: number };
  quorum: Quorum;
  /** How long a handed-over bucket keeps its old connections at most. */
  drainTimeoutMs: number;
  vips: VipSpec[];
  /** `aavip up` as the appliance (ldirectord role, connection sync): src/appliance/settings.ts. */
  lvs?: LvsSettings;
  /** The local services every node tracks, unless a node has its own list. */
  track: TrackSpec[];
  /** Commands run on view, quorum, ownership, track and real-server events (src/notify). */
  notify: NotifySpec[];
  metrics?: MetricsSettings; // where `GET /metrics` is served (src/metrics/settings.ts); absent: off
}

export interface ClusterConfig extends SharedConfig {
  /** The local node's id. */
  local: number;
  authkeyFile: string;
  authkey: Buffer;
  /** Unix socket for `aavip status` / `aavip drain`. */
  controlSocket: string;
}

/** The longest delay Node's timers take (a longer one fires at once, with a warning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Weights are relative shares; the bound keeps the share arithmetic exact. */
export const MAX_WEIGHT = 65535;

/** `100ms`, `2s`, `1m`, or a bare number of milliseconds. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value !== 'string') return undefined;
  const m = value.trim().match(/^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/);
  if (!m) return undefined;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 'ms'] ?? 1);
}

export interface LoadOptions {
  /** Overrides `cluster.local` (a node name or id): labs run several nodes from one file. */
  local?: string;
  /** The local addresses to match `local: auto` against (default: this host's). */
  localAddresses?: string[];
  /** Whether this node has a network interface of that name (default: this network namespace's list). */
  interfaceExists?: (ifname: string) => boolean;
}

export function loadClusterConfig(file: string, opts: LoadOptions = {}): ClusterConfig {
  return parseClusterConfig(readConfigFile(file), file, opts);
}

/**
 * Only what every node shares (no local node, key or interfaces are looked at): for tools that
 * read the file anywhere, such as `aavip hash owner --config`.
 */
export function loadSharedConfig(file: string): SharedConfig {
  const c = new Checker(readConfigFile(file), file);
  const { shared } = parseShared(c);
  c.done();
  return shared;
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read: ${(e as Error).message}`, { file });
  }
}

export function parseClusterConfig(text: string, file: string, opts: LoadOptions = {}): ClusterConfig {
  const c = new Checker(text, file);
  const { shared, vipFields } = parseShared(c);
  const cluster = c.section(c.root.cluster);

  let authkeyFile = '';
  let authkey = Buffer.alloc(0);
  if (typeof cluster.authkey !== 'string') c.fail(['cluster', 'authkey'], 'authkey (a key file path) is required');
  else {
    authkeyFile = isAbsolute(cluster.authkey) ? cluster.authkey : resolve(dirname(file), cluster.authkey);
    const key = readAuthkey(authkeyFile);
    if (typeof key === 'string') c.fail(['cluster', 'authkey'], key);
    else authkey = key;
  }

  let local = 0;
  if (shared.nodes.length) {
    const found = findLocal(shared.nodes, opts.local ?? cluster.local ?? 'auto', opts.localAddresses);
    if (typeof found === 'string') c.fail(['cluster', 'local'], found);
    else local = found;
  }

  const exists = opts.interfaceExists ?? interfaceCheckHere();
  shared.vips.forEach((v, i) => {
    if (!exists(v.interface)) c.fail([...vipFields[i], 'interface'], `no such interface '${v.interface}' on this node`);
  });
  const sync = shared.lvs?.sync;
  if (sync?.enabled && !shared.vips.some((v) => v.interface === sync.interface) && !exists(sync.interface)) {
    c.fail(['lvs', 'sync', 'interface'], `no such interface '${sync.interface}' on this node`);
  }
  c.done();
  const controlSocket = controlSocketFor(cluster.controlSocket, shared.name, shared.nodes.find((n) => n.id === local)!.name);
  return { ...shared, local, authkeyFile, authkey, controlSocket };
}

/** Collects every mistake with its line and field; `done` throws them all at once. */
class Checker {
  readonly errors: InputError[] = [];
  readonly root: Record<string, any>;
  private readonly lineOf: (path: FieldPath) => number | undefined;

  constructor(
    text: string,
    readonly file: string,
  ) {
    const yaml = readYaml(text, file);
    if (!yaml.data || typeof yaml.data !== 'object' || Array.isArray(yaml.data)) throw new InputError('the file is empty or not a mapping', { file, line: 1 });
    this.root = yaml.data as Record<string, any>;
    this.lineOf = yaml.lineOf;
  }

  fail(path: FieldPath, message: string): void {
    this.errors.push(new InputError(message, { file: this.file, line: this.lineOf(path), field: path.join('.') }));
  }

  /** A mapping of the file, or an empty one (its absence is reported where it is required). */
  section(value: unknown): Record<string, any> {
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, any>) : {};
  }

  /** A duration at `path` in [min, MAX_TIMER_MS], or undefined after reporting why not. */
  duration(path: FieldPath, value: unknown, min: number, wanted: string): number | undefined {
    const field = String(path[path.length - 1]);
    const ms = parseDuration(value);
    if (ms === undefined || ms < min) {
      this.fail(path, `${field} must be ${wanted}`);
      return undefined;
    }
    if (ms > MAX_TIMER_MS) {
      this.fail(path, `${field} must be at most ${MAX_TIMER_MS}ms (24.8 days): Node's timers cannot wait longer`);
      return undefined;
    }
    return ms;
  }

  done(): void {
    if (this.errors.length) throw this.errors.length === 1 ? this.errors[0] : new InputErrors(this.errors);
  }
}

/** Everything but the node-local parts; `vipFields[i]`: the path of vips[i] in the file. */
function parseShared(c: Checker): { shared: SharedConfig; vipFields: FieldPath[] } {
  const root = c.root;
  if (!root.cluster) c.fail(['cluster'], 'a cluster section is required');
  const cluster = c.section(root.cluster);
  const name =
    typeof cluster.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(cluster.name)
      ? cluster.name
      : (c.fail(['cluster', 'name'], 'a name of letters, digits, _ . - is required'), '');
  const nodes = parseNodes(c, cluster.nodes);
  const heartbeat = parseHeartbeat(c, c.section(cluster.heartbeat));
  const drainTimeoutMs = c.duration(['cluster', 'drainTimeout'], cluster.drainTimeout ?? '60s', 0, 'a duration (e.g. 60s)');
  const quorum = cluster.quorum ?? 'majority';
  if (quorum !== 'majority' && quorum !== 'ignore') c.fail(['cluster', 'quorum'], "quorum must be 'majority' or 'ignore'");
  const { vips, vipFields } = parseVips(c, root.vips);

  const at = { file: c.file, clusterName: name, vips: vips.map((v, i) => ({ interface: v.interface, backend: v.backend, field: vipFields[i] })) };
  const lvs = root.lvs === undefined || root.lvs === null ? undefined : parseLvsSection(root.lvs, at, (p, m) => c.fail(p, m));
  if (cluster.controlSocket !== undefined && (typeof cluster.controlSocket !== 'string' || !isAbsolute(cluster.controlSocket))) {
    c.fail(['cluster', 'controlSocket'], 'controlSocket must be an absolute path');
  }
  const [track, notify] = [parseTrackList(root.track, ['track'], c), parseNotifyList(root.notify, ['notify'], c)];
  const metrics = parseMetricsSection(root.metrics, ['metrics'], c);
  checkUnknownFields(c);
  return {
    shared: { file: c.file, name, nodes, heartbeat: heartbeat!, quorum: quorum as Quorum, drainTimeoutMs: drainTimeoutMs!, vips, lvs, track, notify, metrics },
    vipFields,
  };
}

function parseNodes(c: Checker, list: unknown): NodeConfig[] {
  const nodes: NodeConfig[] = [];
  if (!Array.isArray(list) || list.length === 0) c.fail(['cluster', 'nodes'], 'at least one node is required');
  (Array.isArray(list) ? list : []).forEach((n: any, i: number) => {
    const p = ['cluster', 'nodes', i];
    if (!Number.isInteger(n?.id) || n.id < 1 || n.id > 255) return c.fail([...p, 'id'], 'id must be a whole number 1..255');
    if (typeof n.name !== 'string' || n.name === '') return c.fail([...p, 'name'], 'name is required');
    const addr = typeof n.address === 'string' ? parseAddress(n.address) : undefined;
    if (!addr) return c.fail([...p, 'address'], `'${n.address}' is not an IP address`);
    const weight = n.weight ?? 1;
    // NaN or Infinity would make every node compute owners nobody can agree on.
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0 || weight > MAX_WEIGHT) {
      return c.fail([...p, 'weight'], `weight must be a number ≥ 0 and ≤ ${MAX_WEIGHT} (got ${yamlText(weight)})`);
    }
    if (nodes.some((m) => m.id === n.id)) return c.fail([...p, 'id'], `id ${n.id} is used twice`);
    if (nodes.some((m) => m.name === n.name)) return c.fail([...p, 'name'], `name ${n.name} is used twice`);
    const track = n.track === undefined ? undefined : parseTrackList(n.track, [...p, 'track'], c);
    nodes.push({ id: n.id, name: n.name, address: formatAddress(addr), weight, ...(track ? { track } : {}) });
  });
  return nodes;
}

/** A value as YAML writes it (.nan, .inf), for messages. */
const yamlText = (v: unknown) =>
  typeof v === 'number' && !Number.isFinite(v) ? (Number.isNaN(v) ? '.nan' : v > 0 ? '.inf' : '-.inf') : typeof v === 'string' ? `'${v}'` : String(v);

function parseHeartbeat(c: Checker, hb: Record<string, unknown>): SharedConfig['heartbeat'] | undefined {
  const at = (field: string) => ['cluster', 'heartbeat', field];
  const port = hb.port ?? 5405;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) c.fail(at('port'), 'port must be 1..65535');
  const intervalMs = c.duration(at('interval'), hb.interval ?? '100ms', 10, 'a duration of at least 10ms (e.g. 100ms)');
  const deadtimeMs = c.duration(at('deadtime'), hb.deadtime ?? '500ms', 2 * (intervalMs ?? 0), 'a duration of at least twice the interval');
  const restartGraceMs = c.duration(at('restartGrace'), hb.restartGrace ?? '10s', 0, 'a duration (e.g. 10s)');
  const copies = hb.copies ?? 2;
  if (!Number.isInteger(copies) || (copies as number) < 1 || (copies as number) > 5) c.fail(at('copies'), 'copies must be 1..5');
  return { port: port as number, intervalMs: intervalMs!, deadtimeMs: deadtimeMs!, copies: copies as number, restartGraceMs: restartGraceMs! };
}

function parseVips(c: Checker, list: unknown): { vips: VipSpec[]; vipFields: FieldPath[] } {
  const vips: VipSpec[] = [];
  const vipFields: FieldPath[] = [];
  if (!Array.isArray(list) || list.length === 0) c.fail(['vips'], 'at least one VIP is required');
  (Array.isArray(list) ? list : []).forEach((v: any, i: number) => {
    try {
      const spec = parseVipSpec(
        {
          address: v?.address,
          interface: v?.interface,
          mac: v?.mac,
          hashmode: v?.hashmode,
          seed: v?.seed,
          buckets: v?.buckets,
          backend: v?.backend,
          fwmark: v?.fwmark,
        },
        {},
      );
      if (vips.some((o) => formatAddress(o.address) === formatAddress(spec.address))) c.fail(['vips', i, 'address'], 'this VIP is listed twice');
      vips.push(spec);
      vipFields.push(['vips', i]);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const field = e.where.field ?? '';
      c.fail(['vips', i, ...(field ? [field] : [])], e.message);
    }
  });
  return { vips, vipFields };
}

/** A misspelt key would otherwise be silently ignored (and its default used). */
function checkUnknownFields(c: Checker): void {
  const { root } = c;
  const cluster = c.section(root.cluster);
  const unknown = (obj: unknown, path: FieldPath, known: string[]) => {
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
      for (const key of Object.keys(obj)) if (!known.includes(key)) c.fail([...path, key], `unknown field '${key}' (known: ${known.join(', ')})`);
    }
  };
  unknown(root, [], ['cluster', 'vips', 'lvs', 'track', 'notify', 'metrics']);
  unknown(cluster, ['cluster'], ['name', 'nodes', 'local', 'heartbeat', 'authkey', 'quorum', 'drainTimeout', 'controlSocket']);
  unknown(cluster.heartbeat, ['cluster', 'heartbeat'], ['port', 'interval', 'deadtime', 'copies', 'restartGrace']);
  (Array.isArray(cluster.nodes) ? cluster.nodes : []).forEach((n: unknown, i: number) =>
    unknown(n, ['cluster', 'nodes', i], ['id', 'name', 'address', 'weight', 'track']),
  );
  (Array.isArray(root.vips) ? root.vips : []).forEach((v: unknown, i: number) =>
    unknown(v, ['vips', i], ['address', 'interface', 'mac', 'hashmode', 'seed', 'buckets', 'backend', 'fwmark']),
  );
  // lvs: its own fields are checked by parseLvsSection.
}

/** The local node's id, or why it cannot be found. `wanted`: a node name or id, or 'auto'. */
function findLocal(nodes: { id: number; name: string; address: string }[], wanted: unknown, localAddresses?: string[]): number | string {
  if (wanted === 'auto') {
    const mine = new Set(
      localAddresses ??
        Object.values(networkInterfaces())
          .flat()
          .map((a) => a!.address),
    );
    return (
      nodes.find((n) => mine.has(n.address))?.id ??
      nodes.find((n) => n.name === hostname())?.id ??
      `no configured node has an address of this host or its hostname (an interface that is down hides its addresses): pass --node NAME or set local to one of ${nodes.map((n) => n.name).join(', ')}`
    );
  }
  return nodes.find((n) => n.name === String(wanted) || n.id === Number(wanted))?.id ?? `'${wanted}' is not a configured node`;
}

const controlSocketFor = (given: unknown, cluster: string, node: string) => (typeof given === 'string' ? given : `${runDir()}/${cluster}-${node}.sock`);

/**
 * The running daemon's control socket, even when the file has been broken since it started
 * (`aavip status` must still answer then): a full load first, else the few fields it needs.
 */
export function controlSocketOf(file: string, opts: LoadOptions = {}): string {
  try {
    return loadClusterConfig(file, opts).controlSocket;
  } catch (e) {
    try {
      const cluster = (parseDocument(readFileSync(file, 'utf8')).toJS() as any)?.cluster;
      const nodes = (cluster.nodes as any[]).map((n) => ({ id: n.id, name: n.name, address: formatAddress(parseAddress(n.address)!) }));
      const wanted = opts.local ?? cluster.local ?? 'auto';
      const local = findLocal(nodes, wanted, opts.localAddresses);
      if (typeof local === 'number' && typeof cluster.name === 'string')
        return controlSocketFor(cluster.controlSocket, cluster.name, nodes.find((n) => n.id === local)!.name);
      // `local: auto` finds nothing while this node's interface is down, which is just when an
      // operator asks the daemon: the one running daemon of this cluster here is the answer.
      if (wanted === 'auto' && typeof cluster.name === 'string') {
        const running = nodes.map((n) => controlSocketFor(cluster.controlSocket, cluster.name, n.name)).filter((f) => existsSync(f));
        if (new Set(running).size === 1) return running[0];
      }
    } catch {
      /* too broken: report the full load's errors */
    }
    throw e;
  }
}
