// Runs inside the 6.1 VM: aavip's clusterip and xt_cluster backends end to end. For each config a
// three-node lab where every node runs the real `aavip vip apply`; real connections from the client
// must be answered by the owner the hash model predicts (for CLUSTERIP the kernel's bucket is also
// read back from each connection's conntrack mark). For one config per backend a bucket then moves
// from node 1 to node 2 (new owner first), and node 2 stops cleanly with `aavip vip remove`.
// Writes backends.json to the results folder.
import { writeFileSync } from 'node:fs';
const root = process.env.AAVIP_ROOT;
const RESULTS = process.env.AAVIP_RESULTS ?? '/mnt';
const { VipLab, summarize, CLI, VIP_ADDRESS, SERVICE_PORT } = await import(`${root}/dist/src/lab/vip-lab.js`);
const { bucketsOf } = await import(`${root}/dist/src/assignment/assign.js`);

const configs = [
  { backend: 'clusterip', hashmode: 'sourceip', buckets: 3, seed: 0 },
  { backend: 'clusterip', hashmode: 'sourceip-sourceport', buckets: 6, seed: 0x1234, move: true },
  { backend: 'clusterip', hashmode: 'sourceip-sourceport-destport', buckets: 16, seed: 0xdeadbeef },
  { backend: 'xt_cluster', hashmode: 'sourceip', buckets: 6, seed: 0x1234, move: true },
];
const perConfig = Number(process.env.CONNECTIONS ?? 100);
const out = { configs: [], rows: [], moves: {}, errors: {} };
const t0 = Date.now();
const log = (m) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${m}\n`);

/** What is left of the VIP in node namespace ns: rules, nft lines, CLUSTERIP configs, the address. */
async function leftovers(vl, ns) {
  const sh = async (cmd) => (await vl.lab.exec(ns, ['sh', '-c', cmd], { allowFailure: true, timeoutMs: 120_000 })).stdout;
  const mentions = (text) => text.split('\n').filter((l) => l.includes(VIP_ADDRESS) || /AAVIP/.test(l));
  return {
    iptables: mentions(await sh('iptables-legacy-save; iptables-nft-save')),
    nft: mentions(await sh('nft list ruleset')),
    clusterip: (await sh('ls /proc/net/ipt_CLUSTERIP/ 2>/dev/null')).split('\n').filter(Boolean),
    address: (await sh('ip -4 addr show dev eth0')).includes(`${VIP_ADDRESS}/`),
  };
}

for (const [k, c] of configs.entries()) {
  log(`config ${k}: ${c.backend} ${c.hashmode} ${c.buckets} buckets`);
  const vl = await VipLab.create({ prefix: `vmb${k}`, ...c, clientAddresses: 120 });
  try {
    const attempts = await vl.burst(perConfig, 16, 5000);
    const marks = new Map();
    if (c.backend === 'clusterip') {
      for (const i of vl.lab.nodeIds) {
        const r = await vl.lab.exec(vl.lab.nodeNs(i), ['conntrack', '-L', '-p', 'tcp', '--orig-dst', VIP_ADDRESS], { allowFailure: true });
        for (const m of r.stdout.matchAll(/src=(\S+) dst=\S+ sport=(\d+) dport=\d+ .*?mark=(\d+)/g)) marks.set(`${m[1]}:${m[2]}`, Number(m[3]));
      }
    }
    out.configs.push({ ...c, owners: vl.owners, summary: summarize(vl, attempts) });
    for (const a of attempts) {
      out.rows.push({
        config: k,
        src: a.src,
        sport: a.sport,
        dport: SERVICE_PORT,
        node: a.node ?? null,
        error: a.error ?? null,
        mark: marks.get(`${a.src}:${a.sport}`) ?? null,
      });
    }
    if (c.move) {
      // Move one of node 1's buckets to node 2 (the new owner takes it first), then check traffic.
      const moved = bucketsOf(vl.owners, 1)[0];
      const next = [...vl.owners];
      next[moved - 1] = 2;
      await vl.applyOwnership(2, { owned: bucketsOf(next, 2), incoming: [], draining: [] });
      await vl.applyOwnership(1, { owned: bucketsOf(next, 1), incoming: [], draining: [] });
      vl.owners = next;
      const m = { moved, afterMove: summarize(vl, await vl.burst(60, 16, 5000)) };
      if (c.backend === 'clusterip') {
        m.proc = Object.fromEntries(
          await Promise.all(
            vl.lab.nodeIds.map(async (i) => [
              `node${i}`,
              (await vl.lab.exec(vl.lab.nodeNs(i), ['cat', `/proc/net/ipt_CLUSTERIP/${VIP_ADDRESS}`])).stdout.trim(),
            ]),
          ),
        );
      }
      await vl.lab.exec(vl.lab.nodeNs(2), [process.execPath, CLI, 'vip', 'remove', ...vl.vipArgs()], { timeoutMs: 180_000 });
      m.afterStop = await leftovers(vl, vl.lab.nodeNs(2));
      m.otherNode = await leftovers(vl, vl.lab.nodeNs(3));
      out.moves[k] = m;
    }
  } catch (e) {
    out.errors[k] = String(e?.stack ?? e);
  } finally {
    await vl.destroy();
  }
}
log('done');
writeFileSync(`${RESULTS}/backends.json`, JSON.stringify(out));
