// What every OCF resource agent shares: exit codes, parameters from OCF_RESKEY_* with the
// defaults its meta-data declares, the clone instance Pacemaker runs, meta-data XML, and logging
// the way the cluster expects it (exit reasons Pacemaker shows, HA_LOGFILE, syslog).
// Pure except for `clusterLogger` and `exitReason`.
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { stderrDestination } from '../log.js';

/** The OCF exit codes (resource-agent API 1.0), as Pacemaker reads them. */
export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  /** Hard error on this node: parameters not valid here (an interface this node lacks). */
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  /** Hard error on this node: something the agent needs is not installed here. */
  ERR_INSTALLED: 5,
  /** Fatal, cluster-wide: the configuration itself is wrong. */
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
} as const;
export type OcfCode = (typeof OCF)[keyof typeof OCF];

/** An action's outcome other than success, with the reason Pacemaker shows (crm_mon's exit-reason). */
export class OcfError extends Error {
  constructor(
    readonly code: OcfCode,
    message: string,
  ) {
    super(message);
    this.name = 'OcfError';
  }
}

export interface ParameterDoc {
  name: string;
  shortdesc: string;
  longdesc: string;
  type: 'string' | 'integer' | 'boolean';
  /** The value used when OCF_RESKEY_<name> is unset or empty ('' = none). */
  default: string;
  required?: boolean;
  unique?: boolean;
}

export interface ActionDoc {
  name: string;
  timeout: string;
  interval?: string;
  depth?: string;
}

export interface AgentDoc {
  name: string;
  shortdesc: string;
  longdesc: string;
  parameters: ParameterDoc[];
  actions: ActionDoc[];
}

/** The actions every aavip agent implements, with the timeouts it advertises. */
export const STANDARD_ACTIONS: ActionDoc[] = [
  { name: 'start', timeout: '20s' },
  { name: 'stop', timeout: '20s' },
  { name: 'monitor', timeout: '20s', interval: '10s', depth: '0' },
  { name: 'meta-data', timeout: '5s' },
  { name: 'validate-all', timeout: '20s' },
];

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The agent's meta-data, valid against the OCF RA API DTD (ra-api-1.dtd). */
export function renderMetaData(doc: AgentDoc): string {
  const params = doc.parameters.map((p) => {
    const attrs = [`name="${xml(p.name)}"`, p.unique ? 'unique="1"' : '', p.required ? 'required="1"' : ''].filter(Boolean).join(' ');
    return `<parameter ${attrs}>
<longdesc lang="en">${xml(p.longdesc)}</longdesc>
<shortdesc lang="en">${xml(p.shortdesc)}</shortdesc>
<content type="${p.type}" default="${xml(p.default)}" />
</parameter>`;
  });
  const actions = doc.actions.map(
    (a) => `<action name="${a.name}" timeout="${a.timeout}"${a.interval ? ` interval="${a.interval}"` : ''}${a.depth ? ` depth="${a.depth}"` : ''} />`,
  );
  return `<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="${xml(doc.name)}" version="1.0">
<version>1.0</version>
<longdesc lang="en">
${xml(doc.longdesc)}
</longdesc>
<shortdesc lang="en">${xml(doc.shortdesc)}</shortdesc>
<parameters>
${params.join('\n')}
</parameters>
<actions>
${actions.join('\n')}
</actions>
</resource-agent>
`;
}

/**
 * A whole-number parameter in min..max, or an OcfError(ERR_CONFIGURED) naming it: a value that
 * is out of range is a configuration error, never a crash of the agent (exit 1).
 */
export function wholeNumber(name: string, text: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new OcfError(OCF.ERR_CONFIGURED, `${name}: '${text}' is not a whole number`);
  const n = Number(t);
  if (n < min || n > max) throw new OcfError(OCF.ERR_CONFIGURED, `${name}: ${t} is out of range ${min}..${max}`);
  return n;
}

/** More clone instances than anyone runs; the bound keeps instance numbers exact. */
export const MAX_CLONES = 65536;

/** ocf_is_true: the spellings resource-agents accepts for a true boolean. */
export function isTrue(value: string | undefined): boolean {
  return ['yes', 'true', '1', 'on'].includes((value ?? '').trim().toLowerCase());
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Every declared parameter's value: OCF_RESKEY_<name>, or its default when unset or empty. */
export function readParameters(doc: AgentDoc, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of doc.parameters) {
    const v = env[`OCF_RESKEY_${p.name}`]?.trim();
    out[p.name] = v === undefined || v === '' ? p.default : v;
  }
  return out;
}

/** The clone instance Pacemaker is running, if the resource is cloned. */
export interface CloneInstance {
  /** 0-based, stable when the instance moves to another node. */
  clone: number;
  cloneMax: number;
  cloneNodeMax?: number;
  globallyUnique: boolean;
}

export function cloneInstance(env: Env): CloneInstance | undefined {
  const clone = env.OCF_RESKEY_CRM_meta_clone;
  const max = env.OCF_RESKEY_CRM_meta_clone_max;
  if (clone === undefined || clone === '' || max === undefined || max === '') return undefined;
  const m = wholeNumber('clone-max', max, 1, MAX_CLONES);
  const c = wholeNumber('clone', clone, 0, MAX_CLONES - 1);
  if (c >= m) throw new OcfError(OCF.ERR_CONFIGURED, `clone instance ${clone} of ${max} is not a valid clone number`);
  const nodeMax = env.OCF_RESKEY_CRM_meta_clone_node_max;
  return {
    clone: c,
    cloneMax: m,
    cloneNodeMax: nodeMax ? wholeNumber('clone-node-max', nodeMax, 1, MAX_CLONES) : undefined,
    globallyUnique: isTrue(env.OCF_RESKEY_CRM_meta_globally_unique),
  };
}

/** Whether Pacemaker is probing (a monitor with interval 0: "is it running here at all?"). */
export const isProbe = (action: string, env: Env) => action === 'monitor' && Number(env.OCF_RESKEY_CRM_meta_interval ?? 0) === 0;

/** The pino levels as syslog priorities (logger -p facility.priority). */
const SYSLOG_PRIORITY: Record<number, string> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warning', 50: 'err', 60: 'crit' };

/**
 * A pino logger for an agent, to where the cluster looks: JSON lines on stderr (pacemaker-execd
 * records an action's output), appended to HA_LOGFILE and HA_DEBUGLOG when set, and to syslog
 * through logger(1) when HA_LOGFACILITY names a facility — the places ocf_log writes to.
 * HA_debug=1 turns on debug messages, as for shell agents.
 */
export function clusterLogger(agent: string, env: Env): Logger {
  const instance = env.OCF_RESOURCE_INSTANCE;
  const tag = `${agent}(${instance ?? '-'})[${process.pid}]`;
  const facility = env.HA_LOGFACILITY && env.HA_LOGFACILITY !== 'none' ? env.HA_LOGFACILITY : undefined;
  const files = [...new Set([env.HA_LOGFILE, env.HA_DEBUGLOG].filter((f): f is string => !!f))];
  const stderr = stderrDestination(); // a full disk or a closed pipe loses lines, not the action
  const stream = {
    write(line: string) {
      stderr.write(line);
      for (const f of files) {
        try {
          appendFileSync(f, line);
        } catch {
          /* a log file we cannot write must not fail the action */
        }
      }
      if (facility) {
        try {
          const rec = JSON.parse(line) as { level: number; msg?: string };
          if (rec.level >= 30) execFile('logger', ['-t', tag, '-p', `${facility}.${SYSLOG_PRIORITY[rec.level] ?? 'notice'}`, line.trim()], () => {});
        } catch {
          /* not JSON: nothing to forward */
        }
      }
    },
  };
  return pino({ name: `ocf:aavip:${agent}`, level: env.HA_debug === '1' ? 'debug' : 'info', base: { pid: process.pid, resource: instance } }, stream);
}

/** Writes the exit reason the way ocf_exit_reason does: Pacemaker shows it with the failed action. */
export function exitReason(message: string): void {
  process.stderr.write(`ocf-exit-reason:${message.replace(/\n/g, ' ')}\n`);
}
