// A packet conntrack gives no entry still reaches its bucket's owner (never none), on the host's
// real kernel. A client's FIN or RST of a flow conntrack never saw open is INVALID to it, so it
// has no original tuple to hash: a director's IPVS-forwarded flows are all like that (IPVS
// untracks what it forwards), and so is a flow whose bucket was taken over mid-stream. Here the
// flow's entry is deleted on its owner with `conntrack -D`, then the client closes: the owner's
// server must see the end (its socket leaves ESTABLISHED). Dropped, the end never reached the
// owner's stack (or its IPVS, whose entry then outlived the connection by 15 minutes).
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVICE_PORT, VipLab } from '../../src/lab/vip-lab.js';

let vl: VipLab;
beforeAll(async () => {
  vl = await VipLab.create({ prefix: 'dpu', buckets: 64 });
});
afterAll(async () => {
  await vl?.destroy();
});

// Holds one connection per tuple; on "fin" half of them end() (FIN), the rest resetAndDestroy() (RST).
const CLIENT = `const net = require('node:net');
const [target, port, tuples] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];
const socks = tuples.map((t) => {
  const s = net.connect({ host: target, port, localAddress: t.src, localPort: t.sport });
  s.on('error', () => {});
  s.once('data', () => console.log('up ' + t.src + ':' + t.sport));
  return s;
});
require('node:readline').createInterface({ input: process.stdin }).on('line', () => {
  socks.forEach((s, k) => (k % 2 ? s.resetAndDestroy() : s.end()));
});
setTimeout(() => process.exit(0), 60000);`;

/** The client tuples node i's server still holds as ESTABLISHED on the service port (it listens on ::, so IPv4 shows mapped). */
async function established(i: number): Promise<Set<string>> {
  const r = await vl.lab.execNode(i, ['ss', '-Htn', 'state', 'established', `( sport = :${SERVICE_PORT} )`]);
  return new Set([...r.stdout.matchAll(/\s\[?(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)\]?:(\d+)\s*$/gm)].map((m) => `${m[1]}:${m[2]}`));
}

describe('a FIN or RST that conntrack has no entry for', () => {
  it("reaches its bucket's owner, hashed on its headers into the same bucket: the server sees every such end", async () => {
    // Tuples on all three nodes, so a header layout that hashed differently would send some away.
    const tuples = vl.lab.nodeIds.flatMap((n) => vl.tuplesWhere((b) => vl.owners[b - 1] === n, 4, 11_000 + 1000 * n));
    const client = vl.lab.spawn(vl.lab.clientNs, [process.execPath, '-e', CLIENT, vl.target, String(SERVICE_PORT), JSON.stringify(tuples)], process.env, [
      'pipe',
      'pipe',
      'pipe',
    ]);
    const up = new Set<string>();
    const lines = createInterface({ input: client.stdout! });
    lines.on('line', (l) => l.startsWith('up ') && up.add(l.slice(3)));
    for (let k = 0; k < 100 && up.size < tuples.length; k++) await new Promise((r) => setTimeout(r, 100));
    expect(up.size).toBe(tuples.length);
    const key = (t: { src: string; sport: number }) => `${t.src}:${t.sport}`;
    for (const t of tuples) {
      const owner = vl.predictedNode(t.src, t.sport);
      expect((await established(owner)).has(key(t))).toBe(true);
      // The owner forgets the flow: the client's next packet, its FIN or RST, is INVALID to conntrack.
      await vl.lab.execNode(owner, ['conntrack', '-D', '-p', 'tcp', '--orig-src', t.src, '--sport', String(t.sport)]);
    }
    client.stdin!.write('close\n');
    let left = tuples;
    for (let k = 0; k < 50 && left.length; k++) {
      await new Promise((r) => setTimeout(r, 100));
      const held = await Promise.all(vl.lab.nodeIds.map((i) => established(i)));
      left = tuples.filter((t) => held[vl.predictedNode(t.src, t.sport) - 1].has(key(t)));
    }
    expect(left.map(key)).toEqual([]);
    client.kill('SIGTERM');
    await once(client, 'exit');
  });
});
