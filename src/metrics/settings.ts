// `metrics:` in cluster.yaml: where the daemon serves its Prometheus metrics (`GET /metrics`).
// Off unless set; the address is one of this node's (usually loopback, behind a node_exporter-
// style scrape), never a name: a listener must not depend on a resolver at start.
import type { FieldChecker, FieldPath } from '../config/yaml.js';
import { formatAddress, parseAddress } from '../hash/flow.js';

export interface MetricsSettings {
  /** The address to bind (an IP literal, as formatAddress writes it). */
  host: string;
  port: number;
}

const FIELDS = ['listen'];
const WANTED = 'listen must be ADDRESS:PORT (e.g. 127.0.0.1:9650 or [::1]:9650)';

/** `127.0.0.1:9650`, `[::1]:9650`: as the config writes it. */
export const listenText = (m: MetricsSettings): string => (m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`);

/** An ADDRESS:PORT to listen on, or why it is not one. */
export function parseListen(value: unknown): MetricsSettings | string {
  if (typeof value !== 'string') return WANTED;
  const m = value.trim().match(/^(?:\[([^\]]+)\]|([^\s:[\]]+)):(\d+)$/);
  if (!m) return `${WANTED}, not '${value}'`;
  const host = m[1] ?? m[2];
  const address = parseAddress(host);
  if (!address || (m[2] !== undefined && address.family === 6))
    return `'${host}' is not an IPv4 address or a bracketed IPv6 one (listen takes an address of this node, not a name)`;
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${m[3]} is not in 1..65535`;
  return { host: formatAddress(address), port };
}

/** The `metrics:` section at `path` (undefined: metrics off); mistakes are reported at their field. */
export function parseMetricsSection(value: unknown, path: FieldPath, c: Pick<FieldChecker, 'fail'>): MetricsSettings | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    c.fail(path, 'metrics must be a mapping: { listen: ADDRESS:PORT }');
    return undefined;
  }
  const section = value as Record<string, unknown>;
  for (const key of Object.keys(section)) if (!FIELDS.includes(key)) c.fail([...path, key], `unknown field '${key}' (known: ${FIELDS.join(', ')})`);
  const listen = parseListen(section.listen);
  if (typeof listen === 'string') {
    c.fail([...path, 'listen'], listen);
    return undefined;
  }
  return listen;
}
