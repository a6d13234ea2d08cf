// The CLUSTERIP backend, for kernels before 6.3: what IPaddr2 does with a cloned VIP. One
// iptables-legacy rule per VIP creates the kernel's cluster config (MAC, total nodes, hashmode,
// hash_init); the buckets ("local nodes") this node serves are then added and removed through
// /proc/net/ipt_CLUSTERIP/<VIP>. CLUSTERIP joins the MAC and mangles ARP itself.
import { readFile, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { InputError } from '../errors.js';
import { formatAddress } from '../hash/flow.js';
import { run } from '../exec.js';
import type { Ownership, VipSpec } from './types.js';

export const IPTABLES_LEGACY = 'iptables-legacy';

/** Buckets this node accepts: CLUSTERIP cannot drain, so incoming counts as owned and draining does not. */
export const servedBuckets = (o: Ownership): number[] => [...o.owned, ...o.incoming].sort((a, b) => a - b);

export function clusteripRuleSpec(vip: VipSpec, firstLocal?: number): string[] {
  const base = ['INPUT', '-d', `${formatAddress(vip.address)}/32`, '-i', vip.interface, '-j', 'CLUSTERIP'];
  if (firstLocal === undefined) return base;
  return [
    ...base,
    '--new',
    '--hashmode',
    vip.hashmode,
    '--clustermac',
    vip.mac.toUpperCase(),
    '--total-nodes',
    String(vip.buckets),
    '--local-node',
    String(firstLocal),
    '--hash-init',
    String(vip.seed),
  ];
}

export const procPath = (vip: VipSpec) => `/proc/net/ipt_CLUSTERIP/${formatAddress(vip.address)}`;

export interface ClusteripState {
  /** The rule as `iptables -S` prints it, if present. */
  rule?: string;
  /** The rule's --total-nodes: the bucket count the kernel hashes into. */
  totalNodes?: number;
  localNodes: number[];
}

export interface ClusteripPlan {
  /** iptables-legacy argument lists, in order. */
  commands: string[][];
  /** Writes to the proc file, in order ("+N" / "-N"). */
  procWrites: string[];
}

/** Which rule changes and proc writes take the kernel from `current` to serving `served`. */
export function planClusterip(vip: VipSpec, served: number[], current: ClusteripState): ClusteripPlan {
  const plan: ClusteripPlan = { commands: [], procWrites: [] };
  const wanted = new Set(served);
  if (current.rule !== undefined && !ruleMatches(vip, current.rule)) {
    // Another hashmode/MAC/bucket count: the kernel keeps one config per VIP, so start again.
    plan.commands.push(deleteCommand(current.rule));
    current = { localNodes: [] };
  }
  if (current.rule === undefined || !ruleMatches(vip, current.rule)) {
    if (served.length === 0) return plan;
    plan.commands.push(['-I', ...clusteripRuleSpec(vip, served[0])]);
    current = { rule: 'new', localNodes: [served[0]] };
  }
  const have = new Set(current.localNodes);
  for (const b of served) if (!have.has(b)) plan.procWrites.push(`+${b}`);
  for (const b of current.localNodes) if (!wanted.has(b)) plan.procWrites.push(`-${b}`);
  return plan;
}

/**
 * An `iptables -S` line as its options: `-A INPUT ! -i eth0 -j CLUSTERIP --new` →
 * { -A: [INPUT], !-i: [eth0], -j: [CLUSTERIP], --new: [] }. Fields are compared whole, never as
 * substrings (`--total-nodes 1` is not `--total-nodes 16`, `eth1` not `eth10`).
 */
export function ruleFields(rule: string): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  let current: string[] | undefined;
  let negate = false;
  for (const token of rule.trim().split(/\s+/)) {
    if (token === '!') {
      negate = true;
      continue;
    }
    if (/^--?[A-Za-z]/.test(token)) {
      current = [];
      fields.set(negate ? `!${token}` : token, current);
      negate = false;
    } else current?.push(token);
  }
  return fields;
}

const only = (fields: Map<string, string[]>, name: string): string | undefined => {
  const v = fields.get(name);
  return v?.length === 1 ? v[0] : undefined;
};

/** Whether an `iptables -S INPUT` line is a CLUSTERIP rule for this VIP on its interface (whatever its parameters). */
export function isVipRule(vip: VipSpec, rule: string): boolean {
  const f = ruleFields(rule);
  return only(f, '-A') === 'INPUT' && only(f, '-d') === `${formatAddress(vip.address)}/32` && only(f, '-i') === vip.interface && only(f, '-j') === 'CLUSTERIP';
}

/** The VIP's CLUSTERIP rule among the lines of `iptables -S INPUT`. */
export function findClusteripRule(vip: VipSpec, listing: string): string | undefined {
  return listing.split('\n').find((l) => isVipRule(vip, l));
}

/** The --total-nodes of a CLUSTERIP rule line. */
export function ruleTotalNodes(rule: string): number | undefined {
  const t = only(ruleFields(rule), '--total-nodes');
  return t !== undefined && /^\d+$/.test(t) ? Number(t) : undefined;
}

/** Whether an `iptables -S` line is the rule this VIP spec asks for. */
export function ruleMatches(vip: VipSpec, rule: string): boolean {
  if (rule === 'new') return true;
  const f = ruleFields(rule);
  const seed = only(f, '--hash-init');
  return (
    only(f, '--hashmode') === vip.hashmode &&
    only(f, '--clustermac')?.toUpperCase() === vip.mac.toUpperCase() &&
    ruleTotalNodes(rule) === vip.buckets &&
    seed !== undefined &&
    /^(0x[0-9a-f]+|\d+)$/i.test(seed) &&
    Number(seed) === vip.seed
  );
}

export function planClusteripRemove(_vip: VipSpec, current: ClusteripState): ClusteripPlan {
  return { commands: current.rule === undefined ? [] : [deleteCommand(current.rule)], procWrites: [] };
}

/** `-A INPUT ...` as printed by `iptables -S` → the same rule with `-D`: deletion must match the target's options too. */
function deleteCommand(rule: string): string[] {
  return ['-D', ...rule.trim().split(/\s+/).slice(1)];
}

const TARGETS = '/proc/net/ip_tables_targets';
const hasTarget = async () => (await readFile(TARGETS, 'utf8').catch(() => '')).split('\n').includes('CLUSTERIP');

/**
 * Refuses, before anything is changed, a kernel without the CLUSTERIP target (removed in Linux
 * 6.3). Loads the module first if it is there but not loaded, as iptables would.
 */
export async function requireClusterip(): Promise<void> {
  if (await hasTarget()) return;
  await run('modprobe', ['-q', 'ipt_CLUSTERIP'], { allowFailure: true }).catch(() => undefined);
  if (await hasTarget()) return;
  const r = await run(IPTABLES_LEGACY, ['--version'], { allowFailure: true }).catch(() => undefined);
  if (r?.status !== 0)
    throw new InputError(`${IPTABLES_LEGACY} is not installed (Debian package iptables); the clusterip backend needs it`, { field: 'backend' });
  throw new InputError(`this kernel (${release()}) has no CLUSTERIP target (it was removed in Linux 6.3): use backend nft`, { field: 'backend' });
}

export async function readClusterip(vip: VipSpec): Promise<ClusteripState> {
  // Without the target loaded no CLUSTERIP rule can exist; and asking iptables-legacy would create
  // the legacy filter table in this namespace, which is more than a read should do.
  if (!(await hasTarget())) return { localNodes: [] };
  const rule = findClusteripRule(vip, (await run(IPTABLES_LEGACY, ['-S', 'INPUT'])).stdout);
  if (rule === undefined) return { localNodes: [] };
  const text = await readFile(procPath(vip), 'utf8').catch(() => '');
  const localNodes = text.trim() === '' ? [] : text.trim().split(',').map(Number);
  return { rule, totalNodes: ruleTotalNodes(rule), localNodes };
}

export async function executeClusterip(vip: VipSpec, plan: ClusteripPlan): Promise<void> {
  for (const args of plan.commands) await run(IPTABLES_LEGACY, args);
  for (const w of plan.procWrites) await writeFile(procPath(vip), `${w}\n`);
}
