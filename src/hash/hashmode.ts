// The one definition of what each hashmode hashes. The models (mechanisms.ts) and the nft rule
// generator (dataplane/nft) both read the field list and the nft layout from here, so a
// prediction and the kernel rule it predicts cannot drift apart.
import type { Family, Flow } from './flow.js';
import { PROTOCOLS } from './flow.js';

export const HASHMODES = ['sourceip', 'sourceip-sourceport', 'sourceip-sourceport-destport'] as const;
export type Hashmode = (typeof HASHMODES)[number];

export type KeyField = 'saddr' | 'sport' | 'dport';

/** The flow-key fields of each hashmode, in hash order (CLUSTERIP's word order too). */
export const HASHMODE_FIELDS: Readonly<Record<Hashmode, readonly KeyField[]>> = {
  sourceip: ['saddr'],
  'sourceip-sourceport': ['saddr', 'sport'],
  'sourceip-sourceport-destport': ['saddr', 'sport', 'dport'],
};

export function isHashmode(s: string): s is Hashmode {
  return (HASHMODES as readonly string[]).includes(s);
}

// ---- The nft layout -------------------------------------------------------------------------
// aavip's nft rules hash the conntrack ORIGINAL tuple, so replies and related ICMP errors land
// in the bucket of the connection's first packet.

/** Protocols whose conntrack tuple carries ports; nft gets one rule per protocol. */
export const NFT_PORT_PROTOCOLS = ['tcp', 'udp', 'udplite', 'sctp', 'dccp'] as const;
const NFT_PORT_PROTOCOL_NUMBERS = new Set(NFT_PORT_PROTOCOLS.map((p) => PROTOCOLS[p]));

/** Fields hashed for a flow of protocol `proto`: port-less protocols hash the address alone. */
export function nftFields(hashmode: Hashmode, proto: number): readonly KeyField[] {
  return NFT_PORT_PROTOCOL_NUMBERS.has(proto) ? HASHMODE_FIELDS[hashmode] : ['saddr'];
}

const NFT_FIELD_EXPR: Readonly<Record<KeyField, (f: Family) => string>> = {
  saddr: (f) => (f === 4 ? 'ct original ip saddr' : 'ct original ip6 saddr'),
  sport: () => 'ct original proto-src',
  dport: () => 'ct original proto-dst',
};

/**
 * The same fields read from the packet's own headers, for a packet conntrack gave no entry (a FIN
 * or RST of a flow it never saw open). For the client's direction they are the same bytes.
 */
const NFT_HEADER_EXPR: Readonly<Record<KeyField, (f: Family) => string>> = {
  saddr: (f) => (f === 4 ? 'ip saddr' : 'ip6 saddr'),
  sport: () => 'th sport',
  dport: () => 'th dport',
};

/**
 * The nft expression hashed for these fields, e.g. `ct original ip saddr . ct original proto-src`
 * (from the conntrack original tuple) or `ip saddr . th sport` (from the headers).
 */
export function nftKeyExpression(fields: readonly KeyField[], family: Family, from: 'conntrack' | 'headers' = 'conntrack'): string {
  const expr = from === 'conntrack' ? NFT_FIELD_EXPR : NFT_HEADER_EXPR;
  return fields.map((f) => expr[f](family)).join(' . ');
}

/**
 * The bytes nft_hash feeds to jhash for these fields: each element of a concatenation sits in
 * its own run of 32-bit registers, padded with zeros to 4 bytes; a lone element is not padded.
 * Addresses and ports are in network order, as on the wire.
 */
export function nftKeyBytes(fields: readonly KeyField[], flow: Flow): Uint8Array {
  const parts = fields.map((f) => {
    if (f === 'saddr') return flow.src.bytes;
    const port = f === 'sport' ? flow.srcPort : flow.dstPort;
    return Uint8Array.of(port >>> 8, port & 0xff);
  });
  if (parts.length === 1) return parts[0];
  const padded = parts.map((p) => Math.ceil(p.length / 4) * 4);
  const out = new Uint8Array(padded.reduce((a, b) => a + b, 0));
  let at = 0;
  parts.forEach((p, i) => {
    out.set(p, at);
    at += padded[i];
  });
  return out;
}
