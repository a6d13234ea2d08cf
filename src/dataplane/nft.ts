// The nftables backend: one table per VIP. A prerouting chain sends the VIP's packets through a
// verdict map keyed by bucket (jhash of the conntrack original tuple, laid out by hash/hashmode.ts):
// owned buckets are accepted, handover buckets go through `incoming`/`draining`, the rest are
// dropped. Ownership changes replace the map's elements in one transaction; rules never change.
// Elements may carry a lease (a timeout): the kernel drops the bucket by itself unless the daemon
// renews it, so a daemon killed with SIGKILL stops serving before its peers take its buckets.
// A set of the TCP flows this node has taken (`flows`) tells a handover which flows are whose when
// conntrack cannot: a director's IPVS-forwarded flows are never confirmed in conntrack (it sees
// only the client's half, and IPVS untracks it), so `ct state established` never matches them.
import { createHash } from 'node:crypto';
import { formatAddress, PROTOCOLS } from '../hash/flow.js';
import { NFT_PORT_PROTOCOLS, nftFields, nftKeyExpression } from '../hash/hashmode.js';
import { run } from '../exec.js';
import { renderNdRules } from './nd.js';
import { CHAIN_OF, type NftJson, type NftTableState, parseTableState, renderedRuleCounts, ruleCounts, sameCounts } from './nft-state.js';
import type { Lease, Ownership, VipSpec } from './types.js';

export function nftFamily(vip: VipSpec): 'ip' | 'ip6' {
  return vip.address.family === 4 ? 'ip' : 'ip6';
}

export function nftTableName(vip: VipSpec): string {
  return `aavip_${formatAddress(vip.address).replace(/[.:]/g, '_')}`;
}

/**
 * What the rules depend on; a table whose signature differs is rebuilt. For IPv6 that includes
 * the interface's own MAC, which the neighbour-discovery rewrite matches (nd.ts).
 */
export function nftSignature(vip: VipSpec, nodeMac?: string): string {
  const v6 = vip.address.family === 6 ? [nodeMac] : [];
  const facts: unknown[] = [formatAddress(vip.address), vip.mac, vip.hashmode, vip.seed, vip.buckets, ...v6, MAP_LAYOUT];
  if (vip.fwmark !== undefined) facts.push(`mark${vip.fwmark}`);
  return createHash('sha256').update(facts.join('|')).digest('hex').slice(0, 16);
}

/**
 * The bucket map's declaration. The key is any 32-bit integer type: `typeof jhash ...` (the
 * natural one) makes Debian 12's nft 1.0.6 segfault when it lists the table, `type integer` is
 * refused, and `type mark` does not match jhash's integer; numgen's type is a plain 32-bit integer
 * that 1.0.6 lists back. `flags timeout` lets elements carry a lease.
 */
const MAP_DECLARATION = ['    typeof numgen inc mod 2 : verdict', '    flags timeout', '    comment "key: the bucket number hashed in chain vip"'];
/** Part of the signature, so tables made with an older map declaration are rebuilt once. */
const MAP_LAYOUT = 'map:numgen+timeout|flows+closing|untracked-by-headers|counters';

/**
 * The flows set: what identifies a TCP flow of this VIP (the table is the VIP's, so its address
 * and the protocol are implied). An entry outlives an idle connection as long as IPVS keeps one
 * (its TCP timeout, 15 min); a FIN or RST shortens it to FLOW_CLOSING, and the `closing` set keeps
 * the packets after it (the last ACK) from lengthening it again: a stale entry would let the old
 * owner take, and reset, a later connection from the same address and port.
 */
export const FLOW_TABLE_SIZE = 262_144;
const FLOW_IDLE = '15m';
const FLOW_CLOSING = '10s';
const flowKey = (fam: 'ip' | 'ip6') => `${fam} saddr . tcp sport . tcp dport`;

/** The table's named counters: packets the bucket filter accepted for this node, and dropped. */
export const NFT_COUNTERS = ['accepted', 'dropped'] as const;
const ACCEPTED = 'counter name "accepted"';
const DROPPED = 'counter name "dropped"';

/** The nft timeout of a lease, refusing what the kernel cannot hold. */
function leaseTimeout(lease: Lease): string {
  if (!Number.isInteger(lease.ms) || lease.ms < 1 || lease.ms > 2 ** 31)
    throw new Error(`a bucket lease must be a whole number of milliseconds in 1..2^31, not ${lease.ms}`);
  return ` timeout ${lease.ms}ms`;
}

function elements(o: Ownership, lease?: Lease): string {
  const timeout = lease ? leaseTimeout(lease) : '';
  const all = (Object.keys(CHAIN_OF) as (keyof Ownership)[]).flatMap((k) => o[k].map((b) => ({ b, chain: CHAIN_OF[k] })));
  all.sort((x, y) => x.b - y.b);
  return all.map(({ b, chain }) => `${b}${timeout} : goto ${chain}`).join(', ');
}

/** The bucket expression for packets of protocol `proto` (a number), from the one layout definition. */
function bucketExpression(vip: VipSpec, proto: number, from: 'conntrack' | 'headers' = 'conntrack'): string {
  const key = nftKeyExpression(nftFields(vip.hashmode, proto), vip.address.family, from);
  return `jhash ${key} mod ${vip.buckets} seed 0x${vip.seed.toString(16)} offset 1`;
}

/** The rules that hash a VIP's packet into its bucket and jump by the bucket map. */
function renderHashRules(vip: VipSpec): string[] {
  const ports = `{ ${NFT_PORT_PROTOCOLS.join(', ')} }`;
  return [
    ...NFT_PORT_PROTOCOLS.map((p) => `    ct original protocol ${p} ${bucketExpression(vip, PROTOCOLS[p])} vmap @buckets`),
    // Port-less protocols (ICMP echo, GRE, ...) hash the address alone.
    `    ct original protocol != ${ports} ${bucketExpression(vip, PROTOCOLS.icmp)} vmap @buckets`,
    // A packet without a conntrack entry has no original tuple: a FIN or RST of a flow conntrack
    // never saw open (IPVS untracks what it forwards; a bucket taken over mid-stream) is invalid
    // to it. Hashed on its headers, it reaches its owner (dropped, the flow's end never reached
    // IPVS, whose entry outlived the connection by 15 min and swallowed a later one from the same
    // port). Not port-less ones: an ICMP error about a flow a node does not know is the owner's.
    `    ct state invalid,untracked meta l4proto ${ports} ${bucketExpression(vip, PROTOCOLS.tcp, 'headers')} vmap @buckets`,
  ];
}

/**
 * The whole table (and the ARP table for IPv4), with `ownership` as the map's elements. An IPv6
 * table needs `nodeMac`, the interface's own MAC, for its neighbour-discovery rewrite.
 */
export function renderVipTables(vip: VipSpec, ownership: Ownership, nodeMac?: string, lease?: Lease): string {
  const fam = nftFamily(vip);
  const name = nftTableName(vip);
  const addr = formatAddress(vip.address);
  const daddr = fam === 'ip' ? 'ip daddr' : 'ip6 daddr';
  const hashRules = renderHashRules(vip);
  const elems = elements(ownership, lease);
  const flow = flowKey(fam);
  if (fam === 'ip6' && !nodeMac) throw new Error('an IPv6 VIP table needs the interface MAC');
  const lines = [
    `table ${fam} ${name} {`,
    `  map buckets {`,
    ...MAP_DECLARATION,
    ...(elems ? [`    elements = { ${elems} }`] : []),
    `  }`,
    // `dynamic` as the kernel lists a set that rules update: otherwise the same table added again
    // (a restart, `nft --check`) is refused with EEXIST.
    ...(['flows', 'closing'] as const).flatMap((set) => [
      `  set ${set} {`,
      `    typeof ${flow}`,
      `    flags dynamic,timeout`,
      `    size ${FLOW_TABLE_SIZE}`,
      `    timeout ${set === 'flows' ? FLOW_IDLE : FLOW_CLOSING}`,
      `  }`,
    ]),
    // What the bucket filter let through and what it dropped (aavip_vip_packets_total, src/metrics/kernel.ts).
    ...NFT_COUNTERS.map((n) => `  counter ${n} {\n  }`),
    `  chain prerouting {`,
    // After conntrack (-200), so the original tuple is known; dropped packets never confirm an entry.
    `    type filter hook prerouting priority mangle; policy accept;`,
    `    ${daddr} ${addr} jump vip comment "aavip:${nftSignature(vip, nodeMac)}"`,
    `  }`,
    `  chain vip {`,
    // Neighbour discovery is not tracked by conntrack, so it cannot be hashed: every node answers
    // a unicast solicitation for the VIP (all with the cluster MAC).
    ...(fam === 'ip6' ? ['    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } meta pkttype set host accept'] : []),
    // With a mark, a frame to this node's own MAC is one a peer director forwarded (clients send
    // to the cluster MAC): the local service takes it, unhashed and unmarked, so IPVS leaves it be.
    ...(vip.fwmark !== undefined ? ['    meta pkttype host accept'] : []),
    ...hashRules,
    `    ${DROPPED} drop`,
    `  }`,
    // Every TCP flow taken is remembered (the `incoming` and `draining` chains go through here);
    // a full set only leaves a flow unremembered, the packet is still accepted.
    // Frames to the cluster MAC arrive as PACKET_MULTICAST, which TCP would discard.
    `  chain own {`,
    `    tcp flags & (syn | ack) == syn delete @closing { ${flow} }`,
    `    tcp flags & (fin | rst) != 0 update @flows { ${flow} timeout ${FLOW_CLOSING} } update @closing { ${flow} }`,
    `    tcp flags & (fin | rst) == 0 ${flow} != @closing update @flows { ${flow} }`,
    ...(vip.fwmark !== undefined ? [`    meta mark set 0x${vip.fwmark.toString(16).padStart(8, '0')}`] : []),
    `    ${ACCEPTED} meta pkttype set host accept`,
    `  }`,
    // The new owner of a bucket in handover: new connections, and the flows it took since.
    `  chain incoming {`,
    `    ct state established,related goto own`,
    `    ${flow} @flows goto own`,
    `    ct state new tcp flags & (syn | ack) == syn goto own`,
    vip.fwmark !== undefined
      ? '    ct state new meta l4proto != tcp goto own'
      : `    ct state new meta l4proto != tcp ${ACCEPTED} meta pkttype set host accept`,
    `    ${DROPPED} drop`,
    `  }`,
    // The old owner: only the flows it had taken. A bare SYN is a new connection even when its
    // address and port are remembered (a reused port): the new owner's, so forgotten here.
    `  chain draining {`,
    `    tcp flags & (syn | ack) == syn delete @flows { ${flow} } ${DROPPED} drop`,
    `    ct state established,related goto own`,
    `    ${flow} @flows goto own`,
    `    ${DROPPED} drop`,
    `  }`,
    ...(fam === 'ip6' ? ndOutputChain(vip, nodeMac!) : []),
    `}`,
  ];
  return lines.join('\n') + '\n' + (fam === 'ip' ? renderArpTable(vip) : '');
}

/** The IPv6 neighbour-discovery rewrite (nd.ts) as an output chain; its comment says what it was written for. */
function ndOutputChain(vip: VipSpec, nodeMac: string): string[] {
  return [
    `  chain nd_output {`,
    `    type filter hook output priority 0; policy accept;`,
    ...renderNdRules(vip, nodeMac).map((r, k) => `    ${r}${k === 0 ? ` comment "${ndComment(vip, nodeMac)}"` : ''}`),
    `  }`,
  ];
}

/** Marks the ND rewrite with the MACs it rewrites between, so a reconcile can tell whether it is right. */
export const ndComment = (vip: VipSpec, nodeMac: string) => `aavip:${nodeMac}>${vip.mac}`;

/**
 * For a backend whose bucket rules are not in nft (xt_cluster): an ip6 table holding only the
 * neighbour-discovery rewrite, the IPv6 counterpart of the ARP table.
 */
export function renderNdTable(vip: VipSpec, nodeMac: string): string {
  return [`table ip6 ${nftTableName(vip)} {`, ...ndOutputChain(vip, nodeMac), `}`].join('\n') + '\n';
}

/** The comment of the VIP's ND rewrite, if its ip6 table exists. */
export async function readNdComment(vip: VipSpec): Promise<string | undefined> {
  const r = await run('nft', ['-j', 'list', 'table', 'ip6', nftTableName(vip)], { allowFailure: true });
  if (r.status !== 0) return undefined;
  const rule = (JSON.parse(r.stdout) as NftJson).nftables.find((o) => o.rule?.chain === 'nd_output')?.rule;
  return (rule?.comment as string | undefined) ?? '';
}

/**
 * ARP mangling, as CLUSTERIP does it: ARP requests and replies this node sends from the VIP carry
 * the cluster MAC as sender hardware address, so neighbours send the VIP's frames to every node.
 */
export function renderArpTable(vip: VipSpec): string {
  return (
    [
      `table arp ${nftTableName(vip)} {`,
      `  chain output {`,
      `    type filter hook output priority 0; policy accept;`,
      `    arp saddr ip ${formatAddress(vip.address)} arp saddr ether set ${vip.mac} comment "${arpComment(vip)}"`,
      `  }`,
      `}`,
    ].join('\n') + '\n'
  );
}

/** Marks the ARP rule with what it says, so a reconcile can tell whether it is already right. */
export const arpComment = (vip: VipSpec) => `aavip:${formatAddress(vip.address)}=${vip.mac}`;

/** The comment of the VIP's ARP rule, if its table exists. */
export async function readArpTable(vip: VipSpec): Promise<string | undefined> {
  const r = await run('nft', ['-j', 'list', 'table', 'arp', nftTableName(vip)], { allowFailure: true });
  if (r.status !== 0) return undefined;
  const rule = (JSON.parse(r.stdout) as NftJson).nftables.find((o) => o.rule?.chain === 'output')?.rule;
  return (rule?.comment as string | undefined) ?? '';
}

export const renderArpDelete = (vip: VipSpec) => `add table arp ${nftTableName(vip)}\ndelete table arp ${nftTableName(vip)}\n`;

/** Deletes the VIP's tables whether or not they exist (the `add` first makes `delete` safe). */
export function renderDelete(vip: VipSpec): string {
  const name = nftTableName(vip);
  const fams = nftFamily(vip) === 'ip' ? ['ip', 'arp'] : ['ip6'];
  return fams.map((f) => `add table ${f} ${name}\ndelete table ${f} ${name}\n`).join('');
}

/**
 * The map's elements replaced in one transaction (packets see the old set or the new, never a
 * gap). Also how a lease is renewed: re-added elements get fresh timeouts. (A plain re-add of an
 * existing element keeps its old expiry unless the timeout differs or `expires` is given, and
 * only kernels with element updates (6.18 does) honour that; flush and add works everywhere.)
 */
export function renderOwnership(vip: VipSpec, ownership: Ownership, lease?: Lease): string {
  const name = nftTableName(vip);
  const fam = nftFamily(vip);
  const elems = elements(ownership, lease);
  return `flush map ${fam} ${name} buckets\n` + (elems ? `add element ${fam} ${name} buckets { ${elems} }\n` : '');
}

export async function nftApply(script: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: script });
}

export async function readNftTable(vip: VipSpec): Promise<NftTableState | undefined> {
  const name = nftTableName(vip);
  // Tersely (-t), so the flows set's contents (up to FLOW_TABLE_SIZE entries) are not listed; the
  // bucket map's elements then come from a listing of the map alone.
  const r = await run('nft', ['-j', '-t', 'list', 'table', nftFamily(vip), name], { allowFailure: true });
  if (r.status !== 0) return undefined;
  const map = await run('nft', ['-j', 'list', 'map', nftFamily(vip), name, 'buckets'], { allowFailure: true });
  const json = JSON.parse(r.stdout) as NftJson;
  if (map.status === 0) json.nftables.push(...(JSON.parse(map.stdout) as NftJson).nftables);
  const state = { ...parseTableState(json), rules: ruleCounts(json) };
  if (nftFamily(vip) === 'ip') state.arp = (await readArpTable(vip)) === arpComment(vip);
  return state;
}

/**
 * The one transaction that takes the kernel from `current` to (vip, ownership, lease); '' if
 * nothing to do. `nodeMac` (the interface's MAC) is needed for IPv6 VIPs.
 */
export function planNft(vip: VipSpec, ownership: Ownership, current: NftTableState | undefined, nodeMac?: string, lease?: Lease): string {
  const needsArp = nftFamily(vip) === 'ip';
  const full = renderVipTables(vip, ownership, nodeMac, lease);
  // Rebuilt (atomically) when made for other parameters, or changed by someone else since.
  const drifted = current?.rules !== undefined && !sameCounts(current.rules, renderedRuleCounts(full));
  if (!current || current.signature !== nftSignature(vip, nodeMac) || current.arp !== needsArp || drifted) return renderDelete(vip) + full;
  const same = (Object.keys(CHAIN_OF) as (keyof Ownership)[]).every((k) => [...ownership[k]].sort((a, b) => a - b).join() === current.ownership[k].join());
  // A lease is always written afresh (that is the renewal); elements leased before and wanted
  // without a lease now are rewritten without one.
  return same && !lease && !current.leased ? '' : renderOwnership(vip, ownership, lease);
}
