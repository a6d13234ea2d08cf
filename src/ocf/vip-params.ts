// ocf:aavip:vip's parameters (IPaddr2's names and defaults where they apply) and what a given
// instance must serve. Pure: the agent's actions (vip.ts) feed it the environment and the routes.
import type { InputError } from '../errors.js';
import { formatAddress, parseAddress, type Address } from '../hash/flow.js';
import { noBuckets, type Ownership } from '../dataplane/types.js';
import type { VipInput } from '../dataplane/vipspec.js';
import { LIMITS } from '../hash/mechanisms.js';
import { OCF, OcfError, STANDARD_ACTIONS, isTrue, wholeNumber, type AgentDoc, type CloneInstance } from './ocf.js';

export const VIP_AGENT: AgentDoc = {
  name: 'vip',
  shortdesc: 'Active/active virtual IP (IPaddr2-compatible; nft, CLUSTERIP or xt_cluster)',
  longdesc: `An active/active virtual IP address served by several nodes at once: the nodes share one
multicast MAC, and each node's kernel accepts only the connections whose hash bucket it serves.
Clone it with globally-unique=true and clone-node-max equal to clone-max: instance N
(0-based) serves bucket N+1 of clone-max, as IPaddr2 does with CLUSTERIP, and a node running
several instances serves all of their buckets, so a survivor takes over a failed node's
instance. With more buckets than clone-max, instance N serves every bucket B with
(B-1) mod clone-max = N. The kernel side is nftables (a jhash over the connection's original
tuple) on current kernels, iptables CLUSTERIP on older ones, or xt_cluster. Not cloned, the
resource is a plain floating address served by one node.`,
  parameters: [
    { name: 'ip', type: 'string', default: '', required: true, unique: true, shortdesc: 'Virtual IP address', longdesc: 'The virtual IPv4 or IPv6 address.' },
    {
      name: 'nic',
      type: 'string',
      default: '',
      shortdesc: 'Network interface',
      longdesc: 'The interface that carries the address. If unset, the interface of the directly connected route that contains ip (as IPaddr2 finds it).',
    },
    {
      name: 'cidr_netmask',
      type: 'string',
      default: '',
      shortdesc: 'Prefix length',
      longdesc:
        'The prefix length of the address (e.g. 24; a dotted netmask is accepted for IPv4). If unset, the prefix of the directly connected route that contains ip.',
    },
    {
      name: 'mac',
      type: 'string',
      default: 'auto',
      shortdesc: 'Cluster MAC address',
      longdesc:
        'The multicast MAC address every node answers ARP with, or "auto" to derive it from the address (01:00:5e and the low 23 bits, as IPaddr3 does). A unicast MAC is refused.',
    },
    {
      name: 'clusterip_hash',
      type: 'string',
      default: 'sourceip-sourceport',
      shortdesc: 'Hash mode',
      longdesc: "What picks a connection's bucket: sourceip, sourceip-sourceport or sourceip-sourceport-destport (xt_cluster: sourceip only).",
    },
    {
      name: 'clusterip_hash_seed',
      type: 'string',
      default: 'auto',
      shortdesc: 'Hash seed',
      longdesc: 'The hash seed (CLUSTERIP\'s hash_init), decimal or 0x hex, or "auto" to derive one from the address. Every instance must use the same.',
    },
    {
      name: 'unique_clone_address',
      type: 'boolean',
      default: 'false',
      shortdesc: 'A different address per clone instance',
      longdesc:
        'As in IPaddr2: if true (needs globally-unique=true), instance N carries ip+N as an address of its own, served in full by the node running it, instead of sharing one address.',
    },
    {
      name: 'arp_count',
      type: 'integer',
      default: '5',
      shortdesc: 'Gratuitous ARPs',
      longdesc: 'How many gratuitous ARP request/reply pairs announce the address when it appears on a node (IPv4).',
    },
    {
      name: 'backend',
      type: 'string',
      default: 'auto',
      shortdesc: 'Kernel backend',
      longdesc: 'auto (nft where the kernel has nf_tables with jhash, else clusterip), nft, clusterip or xt_cluster. All nodes must use the same.',
    },
    {
      name: 'buckets',
      type: 'integer',
      default: '',
      shortdesc: 'Number of buckets',
      longdesc:
        "How many hash buckets the address is split into (CLUSTERIP's total_nodes). Default: clone-max when cloned, else 1. When cloned it must be at least clone-max.",
    },
  ],
  actions: STANDARD_ACTIONS,
};

/** The OCF parameter a dataplane input field comes from (for exit reasons users can act on). */
const PARAMETER_OF: Record<string, string> = {
  address: 'ip',
  interface: 'nic',
  mac: 'mac',
  hashmode: 'clusterip_hash',
  seed: 'clusterip_hash_seed',
  buckets: 'buckets',
  backend: 'backend',
};

/** An InputError from the dataplane as an exit reason naming the OCF parameter. */
export function describeInputError(e: InputError): string {
  const field = e.where.field?.split('.').pop();
  return `${(field && PARAMETER_OF[field]) ?? field ?? 'parameters'}: ${e.message}`;
}

/** A directly connected route, as `ip -j route show` lists it. */
export interface Route {
  dst: string;
  dev: string;
  gateway?: string;
  scope?: string;
  type?: string;
}

function parsePrefix(text: string): { address: Address; prefixLength: number } | undefined {
  const [a, p] = text.split('/');
  const address = parseAddress(a);
  if (!address) return undefined;
  const max = address.family === 4 ? 32 : 128;
  const prefixLength = p === undefined ? max : Number(p);
  return Number.isInteger(prefixLength) && prefixLength >= 0 && prefixLength <= max ? { address, prefixLength } : undefined;
}

function contains(net: { address: Address; prefixLength: number }, a: Address): boolean {
  if (net.address.family !== a.family) return false;
  for (let bit = 0; bit < net.prefixLength; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((net.address.bytes[bit >> 3] & mask) !== (a.bytes[bit >> 3] & mask)) return false;
  }
  return true;
}

/**
 * IPaddr2's findif: the interface and prefix of the most specific directly connected route
 * (no gateway) that contains `ip`, limited to `nic` when it is given.
 */
export function findInterface(routes: Route[], ip: Address, nic?: string): { nic: string; prefixLength: number } | undefined {
  let best: { nic: string; prefixLength: number } | undefined;
  for (const r of routes) {
    if (r.gateway || r.dst === 'default' || (r.type && r.type !== 'unicast') || (nic && r.dev !== nic)) continue;
    const net = parsePrefix(r.dst);
    if (!net || net.prefixLength === (ip.family === 4 ? 32 : 128) || !contains(net, ip)) continue;
    if (!best || net.prefixLength > best.prefixLength) best = { nic: r.dev, prefixLength: net.prefixLength };
  }
  return best;
}

/** A prefix length from cidr_netmask: "24", or a dotted IPv4 netmask as IPaddr2 also accepts. */
export function parseNetmask(text: string, family: 4 | 6): number | undefined {
  if (/^\d{1,3}$/.test(text)) {
    const n = Number(text);
    return n <= (family === 4 ? 32 : 128) ? n : undefined;
  }
  const mask = family === 4 ? parseAddress(text) : undefined;
  if (mask?.family !== 4) return undefined;
  const bits = Array.from(mask.bytes, (b) => b.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? (bits.indexOf('0') === -1 ? 32 : bits.indexOf('0')) : undefined;
}

/** `ip` + n (unique_clone_address), refusing to wrap past the end of the address space. */
export function addToAddress(a: Address, n: number): Address {
  const bytes = Uint8Array.from(a.bytes);
  let carry = n;
  for (let i = bytes.length - 1; i >= 0 && carry > 0; i--) {
    const sum = bytes[i] + carry;
    bytes[i] = sum & 0xff;
    carry = sum >> 8;
  }
  if (carry > 0) throw new OcfError(OCF.ERR_CONFIGURED, `ip: ${formatAddress(a)} + ${n} leaves the address space`);
  return { family: a.family, bytes };
}

/** The most buckets any backend takes (each backend's own limit is checked with the spec). */
const MAX_BUCKETS = Math.max(...Object.values(LIMITS).map((l) => l.maxBuckets));
/** Gratuitous ARP pairs are sent back to back: more than this announces nothing more. */
const MAX_ARP_COUNT = 100;

/** What one instance of the agent stands for: the VIP as the dataplane reads it, and its buckets. */
export interface VipInstance {
  /** The VIP for parseVipSpec: address with prefix, interface, and the hash settings. */
  vip: VipInput & { address: string; interface: string };
  /** The buckets this instance serves (1-based). */
  buckets: number[];
  arpCount: number;
}

/**
 * The instance's VIP and buckets from its parameters and clone number. `found` is the route
 * lookup for a missing nic or cidr_netmask. Throws OcfError(ERR_CONFIGURED) naming the parameter.
 */
export function vipInstance(p: Record<string, string>, clone: CloneInstance | undefined, found?: { nic: string; prefixLength: number }): VipInstance {
  const bad = (param: string, msg: string) => new OcfError(OCF.ERR_CONFIGURED, `${param}: ${msg}`);
  if (!p.ip) throw bad('ip', 'the virtual IP address is required');
  let address = parseAddress(p.ip);
  if (!address) throw bad('ip', `'${p.ip}' is not an IPv4 or IPv6 address`);

  let prefixLength: number | undefined;
  if (p.cidr_netmask) {
    prefixLength = parseNetmask(p.cidr_netmask, address.family);
    if (prefixLength === undefined) throw bad('cidr_netmask', `'${p.cidr_netmask}' is not a prefix length for IPv${address.family}`);
  } else prefixLength = found?.prefixLength;
  const nic = p.nic || found?.nic;
  if (prefixLength === undefined || !nic) {
    throw bad(p.nic ? 'cidr_netmask' : 'nic', `no directly connected route contains ${p.ip}${p.nic ? ` on ${p.nic}` : ''}: set nic and cidr_netmask`);
  }

  const unique = isTrue(p.unique_clone_address);
  if (unique && !clone?.globallyUnique) throw bad('unique_clone_address', 'makes sense only with meta globally-unique=true');
  if (unique && clone) address = addToAddress(address, clone.clone);
  const shared = clone !== undefined && !unique;

  // Bounded here, before the bucket list is built; the backend's own limit is checked with the spec.
  if (!p.buckets && shared && clone.cloneMax > MAX_BUCKETS)
    throw bad('buckets', `clone-max=${clone.cloneMax} instances need as many buckets, and there are at most ${MAX_BUCKETS}`);
  const buckets = p.buckets ? wholeNumber('buckets', p.buckets, 1, MAX_BUCKETS) : shared ? clone.cloneMax : 1;
  if (shared && buckets < clone.cloneMax) throw bad('buckets', `${buckets} buckets cannot be shared by clone-max=${clone.cloneMax} instances`);
  const arpCount = wholeNumber('arp_count', p.arp_count, 0, MAX_ARP_COUNT);

  const all = Array.from({ length: buckets }, (_, i) => i + 1);
  return {
    vip: {
      address: `${formatAddress(address)}/${prefixLength}`,
      interface: nic,
      mac: p.mac,
      hashmode: p.clusterip_hash,
      seed: p.clusterip_hash_seed,
      buckets,
      backend: p.backend,
    },
    buckets: shared ? all.filter((b) => (b - 1) % clone.cloneMax === clone.clone) : all,
    arpCount,
  };
}

/** Whether every one of `buckets` is served (owned, or incoming from a handover). */
export function serves(current: Ownership | undefined, buckets: number[]): boolean {
  if (!current) return false;
  const served = new Set([...current.owned, ...current.incoming]);
  return buckets.every((b) => served.has(b));
}

/** The node's ownership after this instance adds or removes its buckets; the others' stay as they are. */
export function withBuckets(current: Ownership | undefined, buckets: number[], change: 'add' | 'remove'): Ownership {
  const base = current ?? noBuckets();
  const mine = new Set(buckets);
  const strip = (xs: number[]) => xs.filter((b) => !mine.has(b));
  const next: Ownership = { owned: strip(base.owned), incoming: strip(base.incoming), draining: strip(base.draining) };
  if (change === 'add') next.owned = [...next.owned, ...buckets].sort((a, b) => a - b);
  return next;
}

/** Whether any of `buckets` is in the ownership at all (owned, incoming or draining). */
export function holdsAny(current: Ownership | undefined, buckets: number[]): boolean {
  if (!current) return false;
  const held = new Set([...current.owned, ...current.incoming, ...current.draining]);
  return buckets.some((b) => held.has(b));
}

export const isEmpty = (o: Ownership) => o.owned.length + o.incoming.length + o.draining.length === 0;
