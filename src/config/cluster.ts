// conf/cluster.yaml: the cluster, its nodes and its VIPs. Loaded and validated completely before
// anything is touched; every error names the file, the line and the field.
import { readFileSync, statSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { isAbsolute, dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { Member } from '../assignment/assign.js';
import { InputError, InputErrors } from '../errors.js';
import { parseAddress, formatAddress } from '../hash/flow.js';
import type { VipSpec } from '../dataplane/types.js';
import { parseVipSpec } from '../dataplane/vipspec.js';
import type { Quorum } from '../membership/membership.js';

export interface NodeConfig extends Member {
  name: string;
  address: string;
}

export interface ClusterConfig {
  file: string;
  name: string;
  nodes: NodeConfig[];
  /** The local node's id. */
  local: number;
  heartbeat: { port: number; intervalMs: number; deadtimeMs: number; copies: number; restartGraceMs: number };
  authkeyFile: string;
  authkey: Buffer;
  quorum: Quorum;
  /** How long a handed-over bucket keeps its old connections at most. */
  drainTimeoutMs: number;
  /** Unix socket for `aavip status` / `aavip drain`. */
  controlSocket: string;
  vips: VipSpec[];
  lvs?: { config: string };
}

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
}

export function loadClusterConfig(file: string, opts: LoadOptions = {}): ClusterConfig {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new InputError(`cannot read: ${(e as Error).message}`, { file }); }
  return parseClusterConfig(text, file, opts);
}

export function parseClusterConfig(text: string, file: string, opts: LoadOptions = {}): ClusterConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false });
  if (doc.errors.length) {
    throw new InputErrors(doc.errors.map((e) => new InputError(e.message.split('\n')[0], { file, line: lc.linePos(e.pos[0]).line })));
  }
  const errors: InputError[] = [];
  const where = (path: (string | number)[]) => ({ file, line: lineOf(doc, lc, path), field: path.join('.') });
  const fail = (path: (string | number)[], message: string) => { errors.push(new InputError(message, where(path))); };
  const root = doc.toJS() as Record<string, any> | null;
  if (!root || typeof root !== 'object') throw new InputError('the file is empty or not a mapping', { file, line: 1 });

  const cluster = (root.cluster ?? {}) as Record<string, any>;
  if (!root.cluster) fail(['cluster'], 'a cluster section is required');
  const name = typeof cluster.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(cluster.name) ? cluster.name : (fail(['cluster', 'name'], 'a name of letters, digits, _ . - is required'), '');

  const nodes: NodeConfig[] = [];
  if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0) fail(['cluster', 'nodes'], 'at least one node is required');
  (Array.isArray(cluster.nodes) ? cluster.nodes : []).forEach((n: any, i: number) => {
    const p = ['cluster', 'nodes', i];
    if (!Number.isInteger(n?.id) || n.id < 1 || n.id > 255) return fail([...p, 'id'], 'id must be a whole number 1..255');
    if (typeof n.name !== 'string' || n.name === '') return fail([...p, 'name'], 'name is required');
    const addr = typeof n.address === 'string' ? parseAddress(n.address) : undefined;
    if (!addr) return fail([...p, 'address'], `'${n.address}' is not an IP address`);
    const weight = n.weight ?? 1;
    if (typeof weight !== 'number' || weight < 0) return fail([...p, 'weight'], 'weight must be a number ≥ 0');
    if (nodes.some((m) => m.id === n.id)) return fail([...p, 'id'], `id ${n.id} is used twice`);
    if (nodes.some((m) => m.name === n.name)) return fail([...p, 'name'], `name ${n.name} is used twice`);
    nodes.push({ id: n.id, name: n.name, address: formatAddress(addr), weight });
  });

  const hb = (cluster.heartbeat ?? {}) as Record<string, unknown>;
  const port = hb.port ?? 5405;
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) fail(['cluster', 'heartbeat', 'port'], 'port must be 1..65535');
  const intervalMs = parseDuration(hb.interval ?? '100ms');
  const deadtimeMs = parseDuration(hb.deadtime ?? '500ms');
  if (intervalMs === undefined || intervalMs < 10) fail(['cluster', 'heartbeat', 'interval'], 'interval must be a duration of at least 10ms (e.g. 100ms)');
  if (deadtimeMs === undefined || (intervalMs !== undefined && deadtimeMs < 2 * intervalMs)) fail(['cluster', 'heartbeat', 'deadtime'], 'deadtime must be a duration of at least twice the interval');
  const restartGraceMs = parseDuration(hb.restartGrace ?? '10s');
  if (restartGraceMs === undefined) fail(['cluster', 'heartbeat', 'restartGrace'], 'restartGrace must be a duration (e.g. 10s)');
  const copies = hb.copies ?? 2;
  if (!Number.isInteger(copies) || (copies as number) < 1 || (copies as number) > 5) fail(['cluster', 'heartbeat', 'copies'], 'copies must be 1..5');
  const drainTimeoutMs = parseDuration(cluster.drainTimeout ?? '60s');
  if (drainTimeoutMs === undefined) fail(['cluster', 'drainTimeout'], 'drainTimeout must be a duration (e.g. 60s)');

  const quorum = cluster.quorum ?? 'majority';
  if (quorum !== 'majority' && quorum !== 'ignore') fail(['cluster', 'quorum'], "quorum must be 'majority' or 'ignore'");

  let authkeyFile = '';
  let authkey = Buffer.alloc(0);
  if (typeof cluster.authkey !== 'string') fail(['cluster', 'authkey'], 'authkey (a key file path) is required');
  else {
    authkeyFile = isAbsolute(cluster.authkey) ? cluster.authkey : resolve(dirname(file), cluster.authkey);
    try {
      const st = statSync(authkeyFile);
      if ((st.mode & 0o077) !== 0) fail(['cluster', 'authkey'], `${authkeyFile} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
      else {
        authkey = readFileSync(authkeyFile);
        if (authkey.length < 16) fail(['cluster', 'authkey'], `${authkeyFile} holds ${authkey.length} bytes: use at least 16 random bytes`);
      }
    } catch (e) { fail(['cluster', 'authkey'], `cannot read ${authkeyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
  }

  let local = 0;
  if (nodes.length) {
    const found = findLocal(nodes, opts.local ?? cluster.local ?? 'auto', opts.localAddresses);
    if (typeof found === 'string') fail(['cluster', 'local'], found);
    else local = found;
  }

  const vips: VipSpec[] = [];
  if (!Array.isArray(root.vips) || root.vips.length === 0) fail(['vips'], 'at least one VIP is required');
  (Array.isArray(root.vips) ? root.vips : []).forEach((v: any, i: number) => {
    try {
      const spec = parseVipSpec({ address: v?.address, interface: v?.interface, mac: v?.mac, hashmode: v?.hashmode, seed: v?.seed, buckets: v?.buckets, backend: v?.backend }, {});
      if (vips.some((o) => formatAddress(o.address) === formatAddress(spec.address))) fail(['vips', i, 'address'], 'this VIP is listed twice');
      vips.push(spec);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const field = e.where.field ?? '';
      fail(['vips', i, ...(field ? [field] : [])], e.message);
    }
  });

  let lvs: ClusterConfig['lvs'];
  if (root.lvs !== undefined && root.lvs !== null) {
    if (typeof root.lvs.config !== 'string') fail(['lvs', 'config'], 'config must be the path of an ldirectord.cf');
    else lvs = { config: isAbsolute(root.lvs.config) ? root.lvs.config : resolve(dirname(file), root.lvs.config) };
  }

  if (cluster.controlSocket !== undefined && (typeof cluster.controlSocket !== 'string' || !isAbsolute(cluster.controlSocket))) {
    fail(['cluster', 'controlSocket'], 'controlSocket must be an absolute path');
  }

  // A misspelt key would otherwise be silently ignored (and its default used).
  const unknown = (obj: unknown, path: (string | number)[], known: string[]) => {
    if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
      for (const key of Object.keys(obj)) if (!known.includes(key)) fail([...path, key], `unknown field '${key}' (known: ${known.join(', ')})`);
    }
  };
  unknown(root, [], ['cluster', 'vips', 'lvs']);
  unknown(cluster, ['cluster'], ['name', 'nodes', 'local', 'heartbeat', 'authkey', 'quorum', 'drainTimeout', 'controlSocket']);
  unknown(cluster.heartbeat, ['cluster', 'heartbeat'], ['port', 'interval', 'deadtime', 'copies', 'restartGrace']);
  (Array.isArray(cluster.nodes) ? cluster.nodes : []).forEach((n: unknown, i: number) => unknown(n, ['cluster', 'nodes', i], ['id', 'name', 'address', 'weight']));
  (Array.isArray(root.vips) ? root.vips : []).forEach((v: unknown, i: number) => unknown(v, ['vips', i], ['address', 'interface', 'mac', 'hashmode', 'seed', 'buckets', 'backend']));
  unknown(root.lvs, ['lvs'], ['config']);
  if (errors.length) throw errors.length === 1 ? errors[0] : new InputErrors(errors);
  const controlSocket = controlSocketFor(cluster.controlSocket, name, nodes.find((n) => n.id === local)!.name);
  return {
    file, name, nodes, local, heartbeat: { port: port as number, intervalMs: intervalMs!, deadtimeMs: deadtimeMs!, copies: copies as number, restartGraceMs: restartGraceMs! },
    authkeyFile, authkey, quorum: quorum as Quorum, drainTimeoutMs: drainTimeoutMs!, controlSocket, vips, lvs,
  };
}

/** The local node's id, or why it cannot be found. `wanted`: a node name or id, or 'auto'. */
function findLocal(nodes: { id: number; name: string; address: string }[], wanted: unknown, localAddresses?: string[]): number | string {
  if (wanted === 'auto') {
    const mine = new Set(localAddresses ?? Object.values(networkInterfaces()).flat().map((a) => a!.address));
    return nodes.find((n) => mine.has(n.address))?.id ?? nodes.find((n) => n.name === hostname())?.id
      ?? 'no configured node has an address of this host or its hostname: set local to a node name';
  }
  return nodes.find((n) => n.name === String(wanted) || n.id === Number(wanted))?.id ?? `'${wanted}' is not a configured node`;
}

const controlSocketFor = (given: unknown, cluster: string, node: string) =>
  typeof given === 'string' ? given : `/run/aavip/${cluster}-${node}.sock`;

/**
 * The running daemon's control socket, even when the file has been broken since it started
 * (`aavip status` must still answer then): a full load first, else the few fields it needs.
 */
export function controlSocketOf(file: string, opts: LoadOptions = {}): string {
  try { return loadClusterConfig(file, opts).controlSocket; } catch (e) {
    try {
      const cluster = (parseDocument(readFileSync(file, 'utf8')).toJS() as any)?.cluster;
      const nodes = (cluster.nodes as any[]).map((n) => ({ id: n.id, name: n.name, address: formatAddress(parseAddress(n.address)!) }));
      const local = findLocal(nodes, opts.local ?? cluster.local ?? 'auto', opts.localAddresses);
      if (typeof local === 'number' && typeof cluster.name === 'string') return controlSocketFor(cluster.controlSocket, cluster.name, nodes.find((n) => n.id === local)!.name);
    } catch { /* too broken: report the full load's errors */ }
    throw e;
  }
}

/** The line of the node at `path`, or of its nearest ancestor that exists. */
function lineOf(doc: Document, lc: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}
