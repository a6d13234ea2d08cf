// IPVS's connection table as /proc/net/ip_vs_conn_sync prints it (net/netfilter/ipvs/ip_vs_conn.c):
// protocol, client, virtual and real endpoints (IPv4 addresses as 8 hex digits, IPv6 in full colon
// form, ports in hex), the TCP state, and the origin: LOCAL (this director scheduled it) or SYNC (a
// copy from a peer's sync daemon).
import { formatAddress, parseAddress, parseProtocol } from '../../hash/flow.js';

export const IPVS_CONNECTION_TABLE = '/proc/net/ip_vs_conn_sync';

export interface IpvsConnection {
  proto: number;
  client: string;
  cport: number;
  vaddr: string;
  vport: number;
  raddr: string;
  rport: number;
  state: string;
  origin: 'LOCAL' | 'SYNC';
}

function address(field: string): string | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(field)) {
    const n = Number.parseInt(field, 16);
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
  }
  const a = field.includes(':') ? parseAddress(field) : undefined;
  return a ? formatAddress(a) : undefined;
}

/** The table's rows; its header and anything it cannot read are skipped. */
export function parseIpvsConnections(text: string | readonly string[]): IpvsConnection[] {
  const out: IpvsConnection[] = [];
  for (const line of typeof text === 'string' ? text.split('\n') : text) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9 || (f[8] !== 'LOCAL' && f[8] !== 'SYNC')) continue;
    const proto = parseProtocol(f[0].toLowerCase());
    const [client, vaddr, raddr] = [address(f[1]), address(f[3]), address(f[5])];
    if (proto === undefined || !client || !vaddr || !raddr) continue;
    const port = (i: number) => Number.parseInt(f[i], 16);
    out.push({ proto, client, cport: port(2), vaddr, vport: port(4), raddr, rport: port(6), state: f[7], origin: f[8] });
  }
  return out;
}
