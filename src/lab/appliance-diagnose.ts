// What the appliance lab can say about a connection that failed: its bucket and the model's
// owner, what every node's kernel holds for it at that moment (the bucket's element, the flow in
// the `flows` and `closing` sets, conntrack's entry, IPVS's entry), what the real servers hold
// for it, and when the lab used the same address and port before. Read right after the burst.
import { nftTableName } from '../dataplane/nft.js';
import { parseAddress } from '../hash/flow.js';
import type { ClusterLab } from './cluster-lab.js';
import { REAL_PORT, type RealServers } from './appliance-servers.js';
import { nodeName, VIP_ADDRESS } from './vip-lab.js';

/** The lab's record of every tuple it used, kept on the cluster lab for the run. */
export function recordTried(cl: ClusterLab, phase: string, attempts: { src: string; sport: number; node?: string; error?: string }[]): void {
  const at = Date.now();
  for (const a of attempts) if (a.sport) cl.tried.push({ src: a.src, sport: a.sport, phase, at, node: a.node, error: a.error });
}

/** At most this many failures are explained (each costs a few commands per node). */
const EXPLAINED = 4;

/** One text block per failed attempt (those without a known source port say so). */
export async function explainFailures(
  cl: ClusterLab,
  failed: { src: string; sport: number; error?: string; connected?: boolean }[],
  rs?: RealServers,
): Promise<string[]> {
  const table = nftTableName({ address: parseAddress(VIP_ADDRESS)! } as Parameters<typeof nftTableName>[0]);
  const out: string[] = [];
  for (const f of failed.slice(0, EXPLAINED)) {
    if (!f.sport) {
      out.push(`${f.src}:? ${f.error}: source port unknown`);
      continue;
    }
    const bucket = cl.bucketOf(f.src, f.sport);
    const owner = cl.owners(cl.lab.nodeIds)[bucket - 1];
    const lines = [`${f.src}:${f.sport} ${f.error}${f.connected ? ' (handshake done)' : ''}: bucket ${bucket}, owner ${nodeName(owner)}`];
    const flow = `${f.src} . ${f.sport} . ${REAL_PORT}`;
    const tuple = `${f.src}:${f.sport} `;
    for (const i of cl.lab.nodeIds) {
      const sh = (cmd: string) => cl.lab.execNode(i, ['sh', '-c', cmd], { allowFailure: true }).then((r) => r.stdout.trim());
      const [element, flows, closing, ct, ipvs] = await Promise.all([
        sh(`nft get element ip ${table} buckets '{ ${bucket} }' 2>&1 | grep -o ': goto [a-z]*'`),
        sh(`nft get element ip ${table} flows '{ ${flow} }' >/dev/null 2>&1 && echo yes || echo no`),
        sh(`nft get element ip ${table} closing '{ ${flow} }' >/dev/null 2>&1 && echo yes || echo no`),
        sh(`conntrack -L -p tcp -s ${f.src} --sport ${f.sport} 2>/dev/null`),
        sh(`ipvsadm -Lnc | grep -F '${tuple}'`),
      ]);
      lines.push(`  ${nodeName(i)}: bucket ${element || '(none)'}; flows ${flows}, closing ${closing}; conntrack [${ct}]; ipvs [${ipvs}]`);
    }
    for (const r of rs?.ids ?? []) {
      const ss = await cl.lab.exec(rs!.ns(r), ['sh', '-c', `ss -tan | grep -F '${tuple}'`], { allowFailure: true });
      if (ss.stdout.trim()) lines.push(`  ${rs!.name(r)}: ${ss.stdout.trim().replace(/\s+/g, ' ')}`);
    }
    const before = cl.tried.filter((t) => t.src === f.src && t.sport === f.sport);
    for (const t of before) lines.push(`  used before: ${t.phase}, ${Math.round((Date.now() - t.at) / 1000)} s ago, ${t.node ?? t.error}`);
    out.push(lines.join('\n'));
  }
  return out;
}
