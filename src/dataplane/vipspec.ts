// A VIP as the user writes it (YAML, CLI options, OCF parameters) → a validated VipSpec.
// Nothing here changes the kernel, so a bad VIP is refused before anything is applied; `auto`
// is resolved for the host kernel (probed once, backend.ts) unless the caller gives its facts.
import { InputError, type Where } from '../errors.js';
import { formatAddress, parseAddress } from '../hash/flow.js';
import { isHashmode } from '../hash/hashmode.js';
import { jhash } from '../hash/jhash.js';
import { checkParams, isMechanism, parseSeed } from '../hash/mechanisms.js';
import { isMulticastMac, multicastMacFor, parseMac } from './mac.js';
import { mechanismOf, type KernelFacts } from './backend.js';
import type { BackendChoice, VipSpec } from './types.js';

export interface VipInput {
  address?: string;
  interface?: string;
  mac?: string;
  hashmode?: string;
  seed?: number | string;
  buckets?: number | string;
  backend?: string;
  fwmark?: number | string;
}

export const VIP_DEFAULTS = { hashmode: 'sourceip-sourceport', buckets: { nft: 256, clusterip: 16, xt_cluster: 32 } } as const;

const at = (where: Where, field: string): Where => ({ ...where, field: where.field ? `${where.field}.${field}` : field });

export function parseVipSpec(input: VipInput, where: Where = {}, kernel?: KernelFacts): VipSpec {
  const text = input.address?.trim();
  if (!text) throw new InputError('a VIP address is required (e.g. 198.18.0.100/24)', at(where, 'address'));
  const m = text.match(/^(.+)\/(\d{1,3})$/);
  if (!m) throw new InputError(`'${text}' has no prefix length: write it as ADDRESS/PREFIX (e.g. 198.18.0.100/24)`, at(where, 'address'));
  const address = parseAddress(m[1]);
  if (!address) throw new InputError(`'${m[1]}' is not an IP address`, at(where, 'address'));
  const prefixLength = Number(m[2]);
  if (prefixLength > (address.family === 4 ? 32 : 128))
    throw new InputError(`prefix /${prefixLength} is too long for IPv${address.family}`, at(where, 'address'));

  const iface = input.interface?.trim();
  if (!iface) throw new InputError('an interface is required', at(where, 'interface'));
  if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(iface)) throw new InputError(`'${iface}' is not an interface name`, at(where, 'interface'));

  const backend = (input.backend ?? 'auto').trim() as BackendChoice;
  if (backend !== 'auto' && !isMechanism(backend))
    throw new InputError(`'${backend}' is not a backend (auto, nft, clusterip, xt_cluster)`, at(where, 'backend'));

  let mac: string;
  if (input.mac === undefined || input.mac.trim() === 'auto') mac = multicastMacFor(address);
  else {
    const parsed = parseMac(input.mac);
    if (!parsed) throw new InputError(`'${input.mac}' is not a MAC address`, at(where, 'mac'));
    if (!isMulticastMac(parsed))
      throw new InputError(`${parsed} is a unicast MAC: the cluster MAC must be multicast (first octet odd, e.g. 01:00:5e:..)`, at(where, 'mac'));
    mac = parsed;
  }

  const hashmode = (input.hashmode ?? VIP_DEFAULTS.hashmode).trim();
  if (!isHashmode(hashmode))
    throw new InputError(`'${hashmode}' is not a hashmode (sourceip, sourceip-sourceport, sourceip-sourceport-destport)`, at(where, 'hashmode'));

  // seed: auto derives one from the VIP, so every node agrees without configuring it.
  let seed: number;
  if (input.seed === undefined || String(input.seed).trim() === 'auto') seed = jhash(address.bytes, 0x61617669);
  else {
    const s = typeof input.seed === 'number' ? input.seed : parseSeed(input.seed);
    if (s === undefined || !Number.isInteger(s) || s < 0 || s > 0xffffffff)
      throw new InputError(`'${input.seed}' is not a 32-bit seed (decimal or 0x hex)`, at(where, 'seed'));
    seed = s;
  }

  // Defaults and limits are the mechanism's that will run it: auto is CLUSTERIP's 16 on an old kernel.
  const concrete = mechanismOf({ backend }, kernel);
  let buckets: number = VIP_DEFAULTS.buckets[concrete];
  if (input.buckets !== undefined) {
    buckets = Number(input.buckets);
    if (!Number.isInteger(buckets) || buckets < 1) throw new InputError(`'${input.buckets}' is not a positive bucket count`, at(where, 'buckets'));
  }
  for (const problem of checkParams({ mechanism: concrete, hashmode, seed, buckets })) {
    const [field, ...rest] = problem.split(': ');
    throw new InputError(rest.join(': '), at(where, field));
  }
  if (address.family === 6 && concrete === 'clusterip') throw new InputError('CLUSTERIP has no IPv6: use the nft backend', at(where, 'backend'));
  let fwmark: number | undefined;
  if (input.fwmark !== undefined) {
    fwmark = typeof input.fwmark === 'number' ? input.fwmark : parseSeed(String(input.fwmark));
    if (fwmark === undefined || !Number.isInteger(fwmark) || fwmark < 1 || fwmark > 0xffffffff)
      throw new InputError(`'${input.fwmark}' is not a firewall mark (1..2^32-1, decimal or 0x hex)`, at(where, 'fwmark'));
    if (concrete !== 'nft') throw new InputError(`fwmark needs the nft backend (this VIP runs on ${concrete})`, at(where, 'fwmark'));
  }
  return { address, prefixLength, interface: iface, mac, hashmode, seed, buckets, backend, ...(fwmark !== undefined ? { fwmark } : {}) };
}

export function vipCidr(vip: VipSpec): string {
  return `${formatAddress(vip.address)}/${vip.prefixLength}`;
}
