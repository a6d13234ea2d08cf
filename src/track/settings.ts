// `track:` in cluster.yaml: the local services a node serves the VIP with (HAProxy, nginx, a
// database proxy), checked where they run. A node whose tracked service fails gives its buckets
// to the others (or, with `weight: -N`, a share of them), as keepalived's track_script and a
// Pacemaker colocation do. The list is the cluster's; a node's own `track:` replaces it there.
import { isAbsolute } from 'node:path';
import { parseCommandLine } from '../config/command-line.js';
import type { FieldChecker, FieldPath } from '../config/yaml.js';

export type Probe =
  | { kind: 'tcp'; host: string; port: number }
  /** GET `url` (http or https): `status` (default: any 2xx, redirects followed) and, when given, a body matching `body`. */
  | { kind: 'http'; url: string; body?: string; status?: number }
  /** Exit 0 = up; run without a shell. */
  | { kind: 'command'; argv: string[] }
  /** A process by its name (`/proc/PID/comm`), or the pid in a pid file. */
  | { kind: 'process'; name?: string; pidfile?: string }
  /** A systemd unit whose ActiveState is `active`. */
  | { kind: 'systemd'; unit: string };

export const PROBE_KINDS = ['tcp', 'http', 'command', 'process', 'systemd'] as const;

export interface TrackSpec {
  name: string;
  probe: Probe;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive results needed to change state: a flapping service does not flap the buckets. */
  rise: number;
  fall: number;
  /** While failing: lower the node's weight by this much; undefined = the node is out (weight 0). */
  weightDrop?: number;
}

/** The tracks of the local node: its own list, else the cluster's. */
export const tracksOf = (c: { local: number; nodes: readonly { id: number; track?: TrackSpec[] }[]; track: TrackSpec[] }): TrackSpec[] =>
  c.nodes.find((n) => n.id === c.local)?.track ?? c.track;

export const TRACK_DEFAULTS = { intervalMs: 1000, timeoutMs: 1000, rise: 2, fall: 2 } as const;
const FIELDS = ['name', ...PROBE_KINDS, 'interval', 'timeout', 'rise', 'fall', 'weight'];

/** A `track:` list at `path`; every mistake is reported with its field, nothing is half-taken. */
export function parseTrackList(list: unknown, path: FieldPath, c: FieldChecker): TrackSpec[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    c.fail(path, 'track must be a list of checks');
    return [];
  }
  const names = new Set<string>();
  const out: TrackSpec[] = [];
  list.forEach((item: unknown, i) => {
    const at = [...path, i];
    if (!item || typeof item !== 'object' || Array.isArray(item))
      return c.fail(at, 'a track is a mapping (name, one of tcp/http/command/process/systemd, ...)');
    const t = item as Record<string, unknown>;
    for (const key of Object.keys(t)) if (!FIELDS.includes(key)) c.fail([...at, key], `unknown field '${key}' (known: ${FIELDS.join(', ')})`);
    const name = typeof t.name === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(t.name) ? t.name : undefined;
    if (!name) c.fail([...at, 'name'], 'a name of letters, digits, _ . - is required');
    else if (names.has(name)) c.fail([...at, 'name'], `track '${name}' is named twice`);
    else names.add(name);
    const kinds = PROBE_KINDS.filter((k) => t[k] !== undefined);
    if (kinds.length !== 1) c.fail(at, `a track needs exactly one of ${PROBE_KINDS.join(', ')} (found ${kinds.length ? kinds.join(', ') : 'none'})`);
    const probe = kinds.length === 1 ? parseProbe(kinds[0], t[kinds[0]], [...at, kinds[0]], c) : undefined;
    const intervalMs = c.duration([...at, 'interval'], t.interval ?? TRACK_DEFAULTS.intervalMs, 10, 'a duration of at least 10ms');
    const timeoutMs = c.duration([...at, 'timeout'], t.timeout ?? TRACK_DEFAULTS.timeoutMs, 1, 'a duration of at least 1ms');
    const count = (f: 'rise' | 'fall') => {
      const v = t[f] ?? TRACK_DEFAULTS[f];
      if (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1000) return v as number;
      c.fail([...at, f], `${f} must be a whole number from 1 to 1000`);
      return undefined;
    };
    const rise = count('rise');
    const fall = count('fall');
    let weightDrop: number | undefined;
    if (t.weight !== undefined) {
      if (Number.isInteger(t.weight) && (t.weight as number) < 0 && (t.weight as number) >= -65535) weightDrop = -(t.weight as number);
      else
        c.fail(
          [...at, 'weight'],
          'weight must be a negative whole number (-N: the node weighs N less while the check fails); leave it out for the node to go out',
        );
    }
    if (name && probe && intervalMs && timeoutMs && rise && fall) out.push({ name, probe, intervalMs, timeoutMs, rise, fall, weightDrop });
  });
  return out;
}

function parseProbe(kind: Probe['kind'], v: unknown, at: FieldPath, c: FieldChecker): Probe | undefined {
  const bad = (m: string) => (c.fail(at, m), undefined);
  switch (kind) {
    case 'tcp': {
      const m = typeof v === 'string' ? /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(v) : null;
      const port = m ? Number(m[2]) : 0;
      return m && port >= 1 && port <= 65535 ? { kind, host: m[1], port } : bad('tcp must be HOST:PORT (e.g. 127.0.0.1:80, [::1]:80)');
    }
    case 'http': {
      const o = typeof v === 'string' ? { url: v } : (v as Record<string, unknown> | null);
      const url = o && typeof o === 'object' ? o.url : undefined;
      if (typeof url !== 'string' || !/^https?:\/\/[^/]+/.test(url)) return bad('http must be a URL (http:// or https://), or { url, body, status }');
      const { body, status, ...rest } = o as Record<string, unknown>;
      const extra = Object.keys(rest).filter((k) => k !== 'url');
      if (extra.length) return bad(`http has url, body and status only (not ${extra.join(', ')})`);
      if (body !== undefined && typeof body !== 'string') return bad('http.body must be a regular expression, as a string');
      if (body !== undefined && !validRegExp(body)) return bad(`http.body is not a valid regular expression: ${body}`);
      if (status !== undefined && !(Number.isInteger(status) && (status as number) >= 100 && (status as number) <= 599))
        return bad('http.status must be an HTTP status code (100..599)');
      return { kind, url, ...(body !== undefined ? { body } : {}), ...(status !== undefined ? { status: status as number } : {}) };
    }
    case 'command': {
      const r = parseCommandLine(v);
      return 'argv' in r ? { kind, argv: r.argv } : bad(`command ${r.error}`);
    }
    case 'process': {
      if (typeof v === 'string' && /^[^/\s]{1,15}$/.test(v)) return { kind, name: v };
      const pidfile = v && typeof v === 'object' ? (v as Record<string, unknown>).pidfile : undefined;
      if (typeof pidfile === 'string' && isAbsolute(pidfile)) return { kind, pidfile };
      return bad('process must be a process name (as in /proc/PID/comm: 15 characters at most) or { pidfile: /absolute/path }');
    }
    case 'systemd':
      return typeof v === 'string' && /^[\w@:.\\-]+$/.test(v) ? { kind, unit: v } : bad('systemd must be a unit name (e.g. haproxy.service)');
  }
}

function validRegExp(s: string): boolean {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}
