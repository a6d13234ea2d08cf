// What the kernel lists of a VIP's nft table, read back (pure): the bucket map's elements as an
// ownership, the signature comment, the bucket count the rules hash into, and rules per chain, so
// a reconcile can tell a table made for other parameters, or changed behind aavip's back.
import type { Ownership } from './types.js';

/** The chain each handover state's buckets jump to. */
export const CHAIN_OF = { owned: 'own', incoming: 'incoming', draining: 'draining' } as const;

export interface NftTableState {
  signature?: string;
  ownership: Ownership;
  /** True if the map's elements carry a lease (expired elements are gone from the kernel, so not here either). */
  leased?: boolean;
  /** The bucket count the rules hash into (the `mod` of their jhash), if there are rules. */
  buckets?: number;
  arp: boolean;
  /** Rules per chain as the kernel lists them, when read from the kernel (see ruleCounts). */
  rules?: Record<string, number>;
}

export type NftJson = { nftables: Record<string, any>[] };

/** Reads what `nft -j list table` says of the VIP's table. */
export function parseTableState(json: NftJson): NftTableState {
  const ownership: Ownership = { owned: [], incoming: [], draining: [] };
  let signature: string | undefined;
  let leased = false;
  let buckets: number | undefined;
  for (const obj of json.nftables) {
    if (obj.map?.name === 'buckets') {
      for (const [key, verdict] of obj.map.elem ?? []) {
        // An element with a timeout is listed as { elem: { val, timeout, expires } }.
        const bucket = typeof key === 'number' ? key : key?.elem?.val;
        if (key?.elem?.timeout !== undefined) leased = true;
        const chain = verdict?.goto?.target as string;
        const kind = (Object.keys(CHAIN_OF) as (keyof Ownership)[]).find((k) => CHAIN_OF[k] === chain);
        if (kind && typeof bucket === 'number') ownership[kind].push(bucket);
      }
    }
    const comment = obj.rule?.comment as string | undefined;
    if (obj.rule?.chain === 'prerouting' && comment?.startsWith('aavip:')) signature = comment.slice(6);
    if (obj.rule?.chain === 'vip') buckets ??= jhashModulus(obj.rule.expr);
  }
  for (const k of Object.keys(ownership) as (keyof Ownership)[]) ownership[k].sort((a, b) => a - b);
  return { signature, ownership, ...(leased ? { leased } : {}), ...(buckets === undefined ? {} : { buckets }), arp: false };
}

/** The `mod` of the jhash in a rule's JSON expression, wherever it sits. */
function jhashModulus(expr: unknown): number | undefined {
  if (expr === null || typeof expr !== 'object') return undefined;
  const mod = (expr as { jhash?: { mod?: unknown } }).jhash?.mod;
  if (typeof mod === 'number') return mod;
  for (const v of Object.values(expr)) {
    const found = jhashModulus(v);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Rules per chain of a listed table: a chain flushed or a rule deleted behind aavip's back shows here. */
export function ruleCounts(json: NftJson): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of json.nftables) {
    if (o.chain) counts[o.chain.name] ??= 0;
    if (o.rule) counts[o.rule.chain] = (counts[o.rule.chain] ?? 0) + 1;
  }
  return counts;
}

/** The same count for the first table of a rendered script: each chain's lines but its `type` line. */
export function renderedRuleCounts(script: string): Record<string, number> {
  const counts: Record<string, number> = {};
  let chain: string | undefined;
  for (const line of script.split('\n')) {
    if (line === '}') break; // the end of the first table
    const open = line.match(/^ {2}chain (\S+) \{$/);
    if (open) {
      chain = open[1];
      counts[chain] = 0;
    } else if (line === '  }') chain = undefined;
    else if (chain !== undefined && !line.trim().startsWith('type ')) counts[chain]++;
  }
  return counts;
}

export const sameCounts = (a: Record<string, number>, b: Record<string, number>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
