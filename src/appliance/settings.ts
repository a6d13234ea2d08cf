// The `lvs` section of cluster.yaml: the ldirectord.cf that makes `aavip up` the appliance, the
// IPVS connection sync between the nodes and how real servers are checked. Pure: the caller
// (config/cluster.ts) reports the mistakes with their lines.
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { FieldPath } from '../config/yaml.js';

export type ChecksMode = 'shared' | 'local';
export const CHECKS_MODES: readonly ChecksMode[] = ['shared', 'local'];

/** The IPVS sync daemon every node runs as master and backup (sync.ts). */
export interface SyncSettings {
  enabled: boolean;
  /** Where the sync multicast goes out and comes in: the cluster's own link (it is unauthenticated). */
  interface: string;
  /** 0..255; only messages with this id are taken in, so clusters sharing a link keep apart. */
  syncId: number;
}

export interface LvsSettings {
  /** The ldirectord.cf, an absolute path. */
  config: string;
  sync: SyncSettings;
  /** `shared`: the live nodes share the checking (lvs/check-share.ts); `local`: every node checks every real, as ldirectord does. */
  checks: ChecksMode;
}

/** Linux interface names: at most 15 bytes (IFNAMSIZ), no slash or blank. */
const IFNAME = /^[^\s/:]{1,15}$/;

/** The default syncid: the same on every node, and different for most pairs of clusters. */
export function syncIdOf(clusterName: string): number {
  return createHash('sha256').update(clusterName).digest()[0];
}

export interface LvsContext {
  /** cluster.yaml, for resolving a relative `lvs.config`. */
  file: string;
  clusterName: string;
  /** The VIPs: the first one's interface is the default sync interface; backends as written, and where each VIP sits in the file. */
  vips: { interface: string; backend?: string; field: FieldPath }[];
}

/**
 * A director sees only the client's half of each flow, so conntrack has no entry for its FIN or
 * RST: nft hashes such a packet on its headers, but xt_cluster and CLUSTERIP hash conntrack's
 * tuple only, and drop it (the close never reaches IPVS, whose entry then outlives the flow).
 */
const APPLIANCE_REFUSED_BACKENDS = ['xt_cluster', 'clusterip'];

export type Report = (path: FieldPath, message: string) => void;

/** `lvs:` as written → settings, or undefined (after reporting why) when it is unusable. */
export function parseLvsSection(raw: unknown, ctx: LvsContext, fail: Report): LvsSettings | undefined {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(['lvs'], 'lvs must be a mapping with config: (the path of an ldirectord.cf)');
    return undefined;
  }
  const lvs = raw as Record<string, unknown>;
  for (const key of Object.keys(lvs))
    if (!['config', 'sync', 'checks'].includes(key)) fail(['lvs', key], `unknown field '${key}' (known: config, sync, checks)`);
  let config: string | undefined;
  if (typeof lvs.config !== 'string' || lvs.config === '') fail(['lvs', 'config'], 'config must be the path of an ldirectord.cf');
  else config = isAbsolute(lvs.config) ? lvs.config : resolve(dirname(ctx.file), lvs.config);
  const checks = lvs.checks ?? 'shared';
  if (!CHECKS_MODES.includes(checks as ChecksMode)) fail(['lvs', 'checks'], `checks must be 'shared' or 'local' (got ${show(checks)})`);
  for (const v of ctx.vips)
    if (v.backend && APPLIANCE_REFUSED_BACKENDS.includes(v.backend))
      fail(
        [...v.field, 'backend'],
        `backend ${v.backend} cannot serve lvs.config: conntrack has no entry for the FIN of a flow a director forwards, and ${v.backend} drops what conntrack does not know; use backend nft (or auto)`,
      );
  const sync = parseSync(lvs.sync, ctx, fail);
  return config !== undefined && sync ? { config, sync, checks: checks as ChecksMode } : undefined;
}

function parseSync(raw: unknown, ctx: LvsContext, fail: Report): SyncSettings | undefined {
  const at = (field?: string): FieldPath => (field ? ['lvs', 'sync', field] : ['lvs', 'sync']);
  const defaults = { interface: ctx.vips[0]?.interface ?? '', syncId: syncIdOf(ctx.clusterName) };
  if (raw === false) return { enabled: false, ...defaults };
  if (raw === undefined || raw === null || raw === true) return { enabled: true, ...defaults };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    fail(at(), `sync must be false or a mapping of enabled, interface, syncid (got ${show(raw)})`);
    return undefined;
  }
  const s = raw as Record<string, unknown>;
  let ok = true;
  const bad = (field: string, message: string) => {
    fail(at(field), message);
    ok = false;
  };
  for (const key of Object.keys(s))
    if (!['enabled', 'interface', 'syncid'].includes(key)) bad(key, `unknown field '${key}' (known: enabled, interface, syncid)`);
  const enabled = s.enabled ?? true;
  if (typeof enabled !== 'boolean') bad('enabled', `enabled must be true or false (got ${show(enabled)})`);
  const ifname = s.interface ?? defaults.interface;
  if (typeof ifname !== 'string' || !IFNAME.test(ifname))
    bad('interface', `interface must be a network interface name of 1..15 characters (got ${show(s.interface)})`);
  const syncId = s.syncid ?? defaults.syncId;
  if (!Number.isInteger(syncId) || (syncId as number) < 0 || (syncId as number) > 255)
    bad('syncid', `syncid must be a whole number 0..255 (got ${show(s.syncid)})`);
  return ok ? { enabled: enabled as boolean, interface: ifname as string, syncId: syncId as number } : undefined;
}

const show = (v: unknown) => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));
