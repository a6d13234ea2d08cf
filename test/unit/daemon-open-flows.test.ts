// What a drain counts: conntrack's entries and a director's own IPVS connections, in buckets by
// the kernel-exact model. The lines are in the kernel's formats (`conntrack -L`,
// /proc/net/ip_vs_conn_sync of net/netfilter/ipvs/ip_vs_conn.c).
import { describe, expect, it } from 'vitest';
import { openFlowsPerBucket, parseConntrack, localIpvsFlows } from '../../src/daemon/conntrack.js';
import { parseVipSpec } from '../../src/dataplane/vipspec.js';
import { parseAddress } from '../../src/hash/flow.js';
import { bucketOf } from '../../src/hash/mechanisms.js';

const vip = parseVipSpec({ address: '198.18.0.100/16', interface: 'eth0', backend: 'nft', buckets: 16, seed: '0x5eed', hashmode: 'sourceip-sourceport' });
const bucket = (src: string, sport: number) =>
  bucketOf(
    { mechanism: 'nft', hashmode: vip.hashmode, seed: vip.seed, buckets: vip.buckets },
    { src: parseAddress(src)!, srcPort: sport, dst: vip.address, dstPort: 80, proto: 6 },
  );

const IPVS = [
  'Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires',
  // 198.18.1.1:40000 → 198.18.0.100:80 via 198.18.0.31:80, this director's, open.
  'TCP C6120101 9C40 C6120064 0050 C612001F 0050 ESTABLISHED LOCAL      899',
  // The same client's other connection, a copy another director synced here: not ours to wait for.
  'TCP C6120101 9C41 C6120064 0050 C612001F 0050 ESTABLISHED SYNC       899',
  // Ours, but the client has sent its FIN: it carries no more data to wait for.
  'TCP C6120102 9C40 C6120064 0050 C612001F 0050 FIN_WAIT    LOCAL       60',
  'TCP C6120103 1F90 C6120064 0050 C6120020 0050 SYN_RECV    LOCAL       59',
];

describe("a director's IPVS connections", () => {
  it('parses the local ones with their client tuple, in decimal', () => {
    expect(localIpvsFlows(IPVS)).toEqual([
      { proto: 6, src: '198.18.1.1', sport: 40000, dst: '198.18.0.100', dport: 80, state: 'ESTABLISHED' },
      { proto: 6, src: '198.18.1.2', sport: 40000, dst: '198.18.0.100', dport: 80, state: 'CLOSE' },
      { proto: 6, src: '198.18.1.3', sport: 8080, dst: '198.18.0.100', dport: 80, state: 'SYN_RECV' },
    ]);
  });

  it('parses IPv6 entries, printed in full colon form', () => {
    const line =
      'TCP 2001:0db8:0000:0000:0000:0000:0001:0001 9C40 2001:0db8:0000:0000:0000:0000:0000:0100 0050 2001:0db8:0000:0000:0000:0000:0000:0031 0050 ESTABLISHED LOCAL 899';
    expect(localIpvsFlows([line])).toEqual([{ proto: 6, src: '2001:db8::1:1', sport: 40000, dst: '2001:db8::100', dport: 80, state: 'ESTABLISHED' }]);
  });

  it('counts the open ones per bucket, beside conntrack entries', () => {
    const open = openFlowsPerBucket(vip, [
      ...localIpvsFlows(IPVS),
      ...parseConntrack(
        'tcp      6 431999 ESTABLISHED src=198.18.1.9 dst=198.18.0.100 sport=5000 dport=80 src=198.18.0.100 dst=198.18.1.9 sport=80 dport=5000 [ASSURED] mark=0 use=1',
      ),
    ]);
    const want = new Map<number, number>();
    for (const [s, p] of [
      ['198.18.1.1', 40000],
      ['198.18.1.3', 8080],
      ['198.18.1.9', 5000],
    ] as const)
      want.set(bucket(s, p), (want.get(bucket(s, p)) ?? 0) + 1);
    expect(open).toEqual(want);
  });
});
