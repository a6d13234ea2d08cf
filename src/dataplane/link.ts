// The VIP on the interface: its address (rtnetlink) and the cluster MAC joined on the NIC.
// Joining a link-layer multicast address is SIOCADDMULTI, which rtnetlink does not offer; `ip maddr`
// is the kernel's own tool for it.
import { createRtNetlink, type RtNetlinkSocket } from 'netlink';
import { InputError } from '../errors.js';
import type { Address } from '../hash/flow.js';
import { run } from '../exec.js';

const AF_INET = 2;
const AF_INET6 = 10;
const RT_SCOPE_UNIVERSE = 0;

async function withSocket<T>(fn: (rt: RtNetlinkSocket) => Promise<T>): Promise<T> {
  const rt = createRtNetlink();
  try {
    return await fn(rt);
  } finally {
    rt.socket.close();
  }
}

async function findLink(ifname: string) {
  const links = await withSocket((rt) => rt.getLinks());
  const link = links.find((l) => l.attrs.ifname === ifname);
  if (!link || link.data.index === undefined) throw new InputError(`no interface named ${ifname} here`, { field: 'interface' });
  return link;
}

/** The interface's index; an InputError naming `interface` if it does not exist. */
export async function interfaceIndex(ifname: string): Promise<number> {
  return (await findLink(ifname)).data.index!;
}

/** The interface's own (unicast) MAC, lower-case colon form. */
export async function interfaceMac(ifname: string): Promise<string> {
  const address = (await findLink(ifname)).attrs.address;
  if (address?.length !== 6) throw new InputError(`${ifname} has no Ethernet address`, { field: 'interface' });
  return Array.from(address, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export async function hasAddress(ifname: string, address: Address, prefixLength: number): Promise<boolean> {
  const index = await interfaceIndex(ifname);
  const family = address.family === 4 ? AF_INET : AF_INET6;
  const addrs = await withSocket((rt) => rt.getAddresses({ family }));
  return addrs.some(
    (a) =>
      a.data.index === index && a.data.prefixlen === prefixLength && Buffer.from(a.attrs.local ?? a.attrs.address ?? []).equals(Buffer.from(address.bytes)),
  );
}

export async function addAddress(ifname: string, address: Address, prefixLength: number): Promise<void> {
  if (await hasAddress(ifname, address, prefixLength)) return;
  const index = await interfaceIndex(ifname);
  const bytes = Buffer.from(address.bytes);
  await withSocket((rt) =>
    rt.newAddress(
      {
        family: address.family === 4 ? AF_INET : AF_INET6,
        prefixlen: prefixLength,
        index,
        scope: RT_SCOPE_UNIVERSE,
        flags: address.family === 6 ? { nodad: true } : {},
      },
      { local: bytes, address: bytes },
    ),
  );
}

export async function removeAddress(ifname: string, address: Address, prefixLength: number): Promise<void> {
  if (!(await hasAddress(ifname, address, prefixLength))) return;
  const index = await interfaceIndex(ifname);
  const bytes = Buffer.from(address.bytes);
  await withSocket((rt) =>
    rt.delAddress({ family: address.family === 4 ? AF_INET : AF_INET6, prefixlen: prefixLength, index }, { local: bytes, address: bytes }),
  );
}

/** Link-layer multicast addresses the interface has joined ("static" ones, as `ip maddr add` makes them). */
export async function joinedMacs(ifname: string): Promise<string[]> {
  const out = await run('ip', ['maddr', 'show', 'dev', ifname]);
  return [...out.stdout.matchAll(/link\s+([0-9a-f:]{17})\s+static/g)].map((m) => m[1]);
}

export async function joinMac(ifname: string, mac: string): Promise<void> {
  if (!(await joinedMacs(ifname)).includes(mac)) await run('ip', ['maddr', 'add', mac, 'dev', ifname]);
}

export async function leaveMac(ifname: string, mac: string): Promise<void> {
  if ((await joinedMacs(ifname)).includes(mac)) await run('ip', ['maddr', 'del', mac, 'dev', ifname]);
}
