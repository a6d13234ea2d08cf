// ocf:aavip:vip cloned under a real three-node Corosync + Pacemaker cluster (namespaces on this
// machine): all three nodes answer the VIP; a crashed node's instance restarts on a survivor and
// every bucket answers again; the node comes back.
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAgents } from '../../src/cli/agents.js';
import { PacemakerLab } from '../../src/lab/pacemaker.js';
import { built } from '../../src/paths.js';

let pl: PacemakerLab;
const log: string[] = [];

const CLONE = `<clone id="vip-clone">
  <meta_attributes id="vip-clone-meta">
    <nvpair id="vip-clone-max" name="clone-max" value="3"/>
    <nvpair id="vip-clone-node-max" name="clone-node-max" value="3"/>
    <nvpair id="vip-clone-unique" name="globally-unique" value="true"/>
  </meta_attributes>
  <primitive id="vip" class="ocf" provider="aavip" type="vip">
    <instance_attributes id="vip-params">
      <nvpair id="vip-ip" name="ip" value="198.18.0.100"/>
      <nvpair id="vip-mask" name="cidr_netmask" value="16"/>
      <nvpair id="vip-nic" name="nic" value="eth0"/>
      <nvpair id="vip-hash" name="clusterip_hash" value="sourceip-sourceport"/>
    </instance_attributes>
    <operations>
      <op id="vip-monitor" name="monitor" interval="2s" timeout="20s"/>
    </operations>
  </primitive>
</clone>`;

/** Connections from the client: how many each node answered, and how many failed. */
async function burst(n: number): Promise<{ perNode: Record<string, number>; failed: number }> {
  const opts = { target: '198.18.0.100', port: 8080, sources: pl.lab.clientSources, count: n, concurrency: 16, timeoutMs: 1500 };
  const r = await pl.lab.exec(pl.lab.clientNs, [process.execPath, built('lab/client.js'), JSON.stringify(opts)], { timeoutMs: 60_000 });
  const perNode: Record<string, number> = {};
  let failed = 0;
  for (const a of JSON.parse(r.stdout) as { node?: string }[]) { if (a.node) perNode[a.node] = (perNode[a.node] ?? 0) + 1; else failed++; }
  return { perNode, failed };
}

beforeAll(async () => {
  installAgents('/');
  pl = await PacemakerLab.create({ prefix: 'pmv', tokenMs: 1000 });
  for (const i of pl.lab.nodeIds) {
    const r = pl.lab.spawn(pl.lab.nodeNs(i), [process.execPath, built('lab/responder.js'), `node${i}`, '8080']);
    await once(r.stdout!, 'data');
  }
  await pl.waitOnline(1, [1, 2, 3]);
  await pl.exec(1, ['crm_attribute', '-t', 'crm_config', '-n', 'stonith-enabled', '-v', 'false']);
}, 180_000);

afterAll(async () => { await pl?.destroy(); });

describe('a cloned ocf:aavip:vip under Pacemaker', () => {
  it('starts one instance per node, and all three nodes answer the VIP', async () => {
    await pl.exec(1, ['cibadmin', '-C', '-o', 'resources', '-X', CLONE]);
    const deadline = Date.now() + 60_000;
    let b = await burst(60);
    while ((Object.keys(b.perNode).length < 3 || b.failed > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      b = await burst(60);
    }
    log.push(`before: ${JSON.stringify(b)}`);
    expect(b.failed).toBe(0);
    expect(Object.keys(b.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it('restarts a crashed node\'s instance on a survivor: every bucket answers again', async () => {
    const t0 = Date.now();
    await pl.crash(3);
    let b = await burst(40);
    let recoveredMs = -1;
    while (Date.now() - t0 < 60_000) {
      if (b.failed === 0 && !b.perNode.node3) { recoveredMs = Date.now() - t0; break; }
      await new Promise((r) => setTimeout(r, 250));
      b = await burst(40);
    }
    log.push(`failover: ${recoveredMs} ms, ${JSON.stringify(b)}`);
    process.stderr.write(`Pacemaker failover of ocf:aavip:vip (token 1000 ms): ${recoveredMs} ms\n`);
    expect(recoveredMs).toBeGreaterThan(0);
    expect(Object.keys(b.perNode).sort()).toEqual(['node1', 'node2']);
  });

  it('takes the node back into the cluster', async () => {
    await pl.restart(3);
    const r = pl.lab.spawn(pl.lab.nodeNs(3), [process.execPath, built('lab/responder.js'), 'node3', '8080']);
    await once(r.stdout!, 'data');
    await pl.waitOnline(1, [1, 2, 3]);
    const b = await burst(60);
    expect(b.failed).toBe(0);
  });
});
