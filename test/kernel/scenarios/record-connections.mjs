// Runs inside the 6.1 VM: real connections through real CLUSTERIP (driven by aavip's clusterip
// backend) and real xt_cluster, recording for each which bucket the kernel chose — CLUSTERIP writes
// it into the connection's conntrack mark — and which node answered. Also moves a bucket through
// /proc and checks a clean stop. Writes recorded.json to the results folder.
import { writeFileSync } from 'node:fs';
const root = process.env.AAVIP_ROOT;
const { VipLab, summarize, CLI } = await import(`${root}/dist/src/lab/vip-lab.js`);
const { bucketsOf } = await import(`${root}/dist/src/assignment/assign.js`);

const configs = [
  { backend: 'clusterip', hashmode: 'sourceip', buckets: 3, seed: 0 },
  { backend: 'clusterip', hashmode: 'sourceip-sourceport', buckets: 3, seed: 0x1234 },
  { backend: 'clusterip', hashmode: 'sourceip-sourceport-destport', buckets: 16, seed: 0xdeadbeef },
  { backend: 'clusterip', hashmode: 'sourceip-sourceport', buckets: 16, seed: 7 },
  { backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3, seed: 0x1234 },
  { backend: 'xt_cluster', hashmode: 'sourceip', buckets: 3, seed: 0xdeadbeef },
];
const perConfig = Number(process.env.CONNECTIONS ?? 250);
const out = { configs: [], rows: [], checks: {} };

for (const [k, c] of configs.entries()) {
  const vl = await VipLab.create({ prefix: `vm${k}`, ...c, clientAddresses: 120 });
  try {
    const attempts = await vl.burst(perConfig, 16, 5000);
    const marks = new Map();
    if (c.backend === 'clusterip') {
      for (const i of vl.lab.nodeIds) {
        const r = await vl.lab.exec(vl.lab.nodeNs(i), ['conntrack', '-L', '-p', 'tcp', '--orig-dst', '198.18.0.100'], { allowFailure: true });
        for (const m of r.stdout.matchAll(/src=(\S+) dst=198\.18\.0\.100 sport=(\d+) dport=8080 .*?mark=(\d+)/g)) marks.set(`${m[1]}:${m[2]}`, Number(m[3]));
      }
    }
    out.configs.push({ ...c, owners: vl.owners, summary: summarize(vl, attempts) });
    for (const a of attempts) out.rows.push({ config: k, src: a.src, sport: a.sport, node: a.node ?? null, error: a.error ?? null, mark: marks.get(`${a.src}:${a.sport}`) ?? null });

    if (k === 1) {
      // Move a bucket from node 1 to node 2 through the kernel's /proc interface (new owner first).
      const moved = bucketsOf(vl.owners, 1)[0];
      const next = [...vl.owners];
      next[moved - 1] = 2;
      await vl.applyOwnership(2, { owned: bucketsOf(next, 2), incoming: [], draining: [] });
      await vl.applyOwnership(1, { owned: bucketsOf(next, 1), incoming: [], draining: [] });
      vl.owners = next;
      out.checks.afterMove = summarize(vl, await vl.burst(60, 16, 5000));
    }
  } catch (e) {
    out.checks[`config${k}`] = String(e?.stack ?? e);
  } finally {
    if (k === 1) {
      const ns = vl.lab.nodeNs(2);
      const proc = await vl.lab.exec(ns, ['cat', '/proc/net/ipt_CLUSTERIP/198.18.0.100'], { allowFailure: true });
      out.checks.procAfterMove = proc.stdout.trim();
      await vl.lab.exec(ns, [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()]);
      out.checks.rulesAfterStop = (await vl.lab.exec(ns, ['iptables-legacy', '-S', 'INPUT'])).stdout.trim();
      out.checks.procAfterStop = (await vl.lab.exec(ns, ['sh', '-c', 'ls /proc/net/ipt_CLUSTERIP/ 2>/dev/null | wc -l'])).stdout.trim();
      out.checks.addressAfterStop = (await vl.lab.exec(ns, ['ip', '-4', 'addr', 'show', 'dev', 'eth0'])).stdout.includes('198.18.0.100');
    }
    await vl.destroy();
  }
}
writeFileSync('/mnt/recorded.json', JSON.stringify(out));
