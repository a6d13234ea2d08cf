// The xt_cluster backend: `-m cluster` in a chain of its own in the mangle table. xt_cluster hashes
// the conntrack original source address (sourceip only). One ACCEPT rule per served bucket, then
// a DROP; ownership changes replace the chain's contents in one iptables-restore transaction.
// (iptables 1.8.9 range-checks the value of --cluster-local-nodemask as 1..32, so one rule with a
// mask cannot say "buckets 1..32": one rule per bucket with --cluster-local-node instead.)
// xt_cluster also turns the cluster MAC's PACKET_MULTICAST frames into PACKET_HOST itself.
// ARP mangling comes from the nft arp table, as for the nft backend; for an IPv6 VIP the
// neighbour-discovery rewrite comes from an nft ip6 table holding only that (nft.ts renderNdTable).
// As for clusterip: a pure plan (readXt → planXt → executeXt), so the exact commands are testable.
import { createHash } from 'node:crypto';
import { formatAddress } from '../hash/flow.js';
import { run } from '../exec.js';
import type { VipSpec } from './types.js';

/** The iptables variants, in the order tried when neither holds the VIP's chain yet. */
export function iptablesCandidates(vip: VipSpec): string[] {
  const base = vip.address.family === 4 ? 'iptables' : 'ip6tables';
  // The plain name is whichever variant the administrator chose (Debian's alternatives).
  return [base, `${base}-nft`, `${base}-legacy`];
}

export function xtChainName(vip: VipSpec): string {
  return `AAVIP-${createHash('sha256').update(formatAddress(vip.address)).digest('hex').slice(0, 12)}`;
}

const hostPrefix = (vip: VipSpec) => `${formatAddress(vip.address)}/${vip.address.family === 4 ? 32 : 128}`;

/** The PREROUTING rule that sends the VIP's packets to its chain (also used to delete it). */
export function xtJumpRule(vip: VipSpec): string[] {
  return ['PREROUTING', '-d', hostPrefix(vip), '-i', vip.interface, '-m', 'comment', '--comment', 'aavip', '-j', xtChainName(vip)];
}

/**
 * IPv6 neighbour discovery is not tracked by conntrack, so the cluster match never matches it and
 * the chain would drop the neighbours' unicast reachability probes for the VIP: accept it first.
 * (Written as `ip6tables -S` prints it back.)
 */
function ndRules(vip: VipSpec, chain: string): string[] {
  return vip.address.family === 6 ? [135, 136].map((type) => `-A ${chain} -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`) : [];
}

/** The chain's rules for `served` buckets, as `iptables -S CHAIN` prints them back. */
export function xtRules(vip: VipSpec, served: number[]): string[] {
  const chain = xtChainName(vip);
  const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
  return [
    ...ndRules(vip, chain),
    ...served.map(
      (b) =>
        `-A ${chain} -m cluster --cluster-local-nodemask ${hex(2 ** (b - 1))} --cluster-total-nodes ${vip.buckets} --cluster-hash-seed ${hex(vip.seed)} -j ACCEPT`,
    ),
    `-A ${chain} -j DROP`,
  ];
}

/** iptables-restore input replacing the chain's contents with rules for `served` buckets. */
export function renderXtChain(vip: VipSpec, served: number[]): string {
  const chain = xtChainName(vip);
  const lines = ['*mangle', `:${chain} - [0:0]`, ...ndRules(vip, chain)];
  for (const b of served) {
    lines.push(
      `-A ${chain} -m cluster --cluster-total-nodes ${vip.buckets} --cluster-local-node ${b} --cluster-hash-seed 0x${vip.seed.toString(16)} -j ACCEPT`,
    );
  }
  lines.push(`-A ${chain} -j DROP`, 'COMMIT', '');
  return lines.join('\n');
}

export interface XtState {
  /** The iptables variant in use for this VIP (the one holding its chain, else the first available). */
  bin: string;
  chain: boolean;
  jump: boolean;
  /** The chain's rules as `iptables -S CHAIN` prints them. */
  rules: string[];
}

export interface XtPlan {
  bin: string;
  /** iptables-restore --noflush input, if the chain must be (re)written. */
  restore?: string;
  /** iptables argument lists, run in order after the restore. */
  commands: string[][];
}

/** Buckets whose ACCEPT rule is in the chain, read back from `iptables -S` (which prints masks). */
export function servedFromRules(rules: string[]): number[] {
  return rules
    .map((r) => r.match(/--cluster-local-nodemask (0x[0-9a-f]+)/i) ?? r.match(/--cluster-local-node (\d+)/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => (m[1].startsWith('0x') ? Math.log2(Number(m[1])) + 1 : Number(m[1])))
    .sort((a, b) => a - b);
}

/** The --cluster-total-nodes the chain's ACCEPT rules hash into (undefined: no such rule, or they disagree). */
export function totalFromRules(rules: string[]): number | undefined {
  const totals = new Set(
    rules
      .map((r) => r.match(/--cluster-total-nodes (\d+)(\s|$)/)?.[1])
      .filter((t) => t !== undefined)
      .map(Number),
  );
  return totals.size === 1 ? [...totals][0] : undefined;
}

/** What takes the kernel from `current` to serving `served`; no restore and no commands if nothing differs. */
export function planXt(vip: VipSpec, served: number[], current: XtState): XtPlan {
  const plan: XtPlan = { bin: current.bin, commands: [] };
  const sorted = [...served].sort((a, b) => a - b);
  const want = xtRules(vip, sorted).map((r) => r.trim().toLowerCase());
  const have = current.rules.map((r) => r.trim().toLowerCase());
  if (!current.chain || want.join('\n') !== have.join('\n')) plan.restore = renderXtChain(vip, sorted);
  if (!current.jump) plan.commands.push(['-t', 'mangle', '-I', ...xtJumpRule(vip)]);
  return plan;
}

export function planXtRemove(vip: VipSpec, current: XtState): XtPlan {
  const commands: string[][] = [];
  if (current.jump) commands.push(['-t', 'mangle', '-D', ...xtJumpRule(vip)]);
  if (current.chain) commands.push(['-t', 'mangle', '-F', xtChainName(vip)], ['-t', 'mangle', '-X', xtChainName(vip)]);
  return { bin: current.bin, commands };
}

async function readWith(bin: string, vip: VipSpec): Promise<XtState | undefined> {
  const chainRules = await run(bin, ['-t', 'mangle', '-S', xtChainName(vip)], { allowFailure: true }).catch(() => undefined);
  if (!chainRules) return undefined; // this variant is not installed
  const jump = (await run(bin, ['-t', 'mangle', '-C', ...xtJumpRule(vip)], { allowFailure: true })).status === 0;
  const chain = chainRules.status === 0;
  const rules = chain ? chainRules.stdout.split('\n').filter((l) => l.startsWith('-A ')) : [];
  return { bin, chain, jump, rules };
}

/**
 * Reads the VIP's chain from the iptables variant that holds it (legacy and nft keep separate
 * tables, so a VIP set up with one must be changed and removed with the same one).
 */
export async function readXt(vip: VipSpec): Promise<XtState> {
  let first: XtState | undefined;
  for (const bin of iptablesCandidates(vip)) {
    const s = await readWith(bin, vip);
    if (!s) continue;
    if (s.chain || s.jump) return s;
    first ??= s;
  }
  if (!first) throw new Error(`none of ${iptablesCandidates(vip).join(', ')} is installed (Debian package iptables)`);
  return first;
}

export async function executeXt(plan: XtPlan): Promise<void> {
  if (plan.restore !== undefined) await run(`${plan.bin}-restore`, ['--noflush'], { input: plan.restore });
  for (const args of plan.commands) await run(plan.bin, args);
}
