// The xt_cluster backend: `-m cluster` in a chain of its own in the mangle table. xt_cluster hashes
// the conntrack original source address (sourceip only). One ACCEPT rule per served bucket, then
// a DROP; ownership changes replace the chain's contents in one iptables-restore transaction.
// (iptables 1.8.9 refuses --cluster-local-nodemask values above 32, so masks are not used.)
// ARP mangling comes from the nft arp table, as for the nft backend.
import { createHash } from 'node:crypto';
import { formatAddress } from '../hash/flow.js';
import { run } from './exec.js';
import type { VipSpec } from './types.js';

export const iptablesFor = (vip: VipSpec) => (vip.address.family === 4 ? 'iptables' : 'ip6tables');

export function xtChainName(vip: VipSpec): string {
  return `AAVIP-${createHash('sha256').update(formatAddress(vip.address)).digest('hex').slice(0, 12)}`;
}

const hostPrefix = (vip: VipSpec) => `${formatAddress(vip.address)}/${vip.address.family === 4 ? 32 : 128}`;

/** The PREROUTING rule that sends the VIP's packets to its chain (also used to delete it). */
export function xtJumpRule(vip: VipSpec): string[] {
  return ['PREROUTING', '-d', hostPrefix(vip), '-i', vip.interface, '-m', 'comment', '--comment', 'aavip', '-j', xtChainName(vip)];
}

/** iptables-restore input replacing the chain's contents with rules for `served` buckets. */
export function renderXtChain(vip: VipSpec, served: number[]): string {
  const chain = xtChainName(vip);
  const lines = ['*mangle', `:${chain} - [0:0]`];
  for (const b of served) {
    lines.push(`-A ${chain} -m cluster --cluster-total-nodes ${vip.buckets} --cluster-local-node ${b} --cluster-hash-seed 0x${vip.seed.toString(16)} -j ACCEPT`);
  }
  lines.push(`-A ${chain} -j DROP`, 'COMMIT', '');
  return lines.join('\n');
}

export interface XtState {
  chain: boolean;
  jump: boolean;
  /** The chain's rules as `iptables -S CHAIN` prints them. */
  rules: string[];
}

export async function readXt(vip: VipSpec): Promise<XtState> {
  const bin = iptablesFor(vip);
  const chainRules = await run(bin, ['-t', 'mangle', '-S', xtChainName(vip)], { allowFailure: true });
  const jump = (await run(bin, ['-t', 'mangle', '-C', ...xtJumpRule(vip)], { allowFailure: true })).status === 0;
  const rules = chainRules.status === 0 ? chainRules.stdout.split('\n').filter((l) => l.startsWith('-A ')) : [];
  return { chain: chainRules.status === 0, jump, rules };
}

/** Buckets whose ACCEPT rule is in the chain, read back from `iptables -S`. */
export function servedFromRules(rules: string[]): number[] {
  return rules.map((r) => r.match(/--cluster-local-nodemask (0x[0-9a-f]+)/i) ?? r.match(/--cluster-local-node (\d+)/))
    .filter((m): m is RegExpMatchArray => m !== null)
    .map((m) => (m[1].startsWith('0x') ? Math.log2(Number(m[1])) + 1 : Number(m[1])))
    .sort((a, b) => a - b);
}

export async function applyXt(vip: VipSpec, served: number[], current: XtState): Promise<void> {
  const bin = iptablesFor(vip);
  const same = current.chain && current.jump && servedFromRules(current.rules).join() === served.join()
    && current.rules.every((r) => !r.includes('--cluster-total-nodes') || r.includes(`--cluster-total-nodes ${vip.buckets} `));
  if (same) return;
  await run(`${bin}-restore`, ['--noflush'], { input: renderXtChain(vip, served) });
  if (!current.jump) await run(bin, ['-t', 'mangle', '-I', ...xtJumpRule(vip)]);
}

export async function removeXt(vip: VipSpec, current: XtState): Promise<void> {
  const bin = iptablesFor(vip);
  if (current.jump) await run(bin, ['-t', 'mangle', '-D', ...xtJumpRule(vip)]);
  if (current.chain) {
    await run(bin, ['-t', 'mangle', '-F', xtChainName(vip)]);
    await run(bin, ['-t', 'mangle', '-X', xtChainName(vip)]);
  }
}
