// aavip's clusterip and xt_cluster backends end to end on Debian's 6.1 kernel (in the VM): three
// nodes each running the real `aavip vip apply`, real connections answered only by the owner the
// hash model predicts, a bucket moved between nodes, and a clean stop. (The bit-exactness of the
// models against the kernel, over many more connections, is hash-recorded.test.ts.)
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { built } from '../../src/paths.js';
import { scenarioJson } from './vm.js';

interface Row {
  config: number;
  src: string;
  sport: number;
  dport: number;
  node: string | null;
  error: string | null;
  mark: number | null;
}
interface Summary {
  connections: number;
  failed: number;
  mispredicted: number;
  perNode: Record<string, number>;
}
interface Config {
  backend: 'clusterip' | 'xt_cluster';
  hashmode: string;
  buckets: number;
  seed: number;
  owners: number[];
  summary: Summary;
}
interface Leftovers {
  iptables: string[];
  nft: string[];
  clusterip: string[];
  address: boolean;
}
interface Move {
  moved: number;
  afterMove: Summary;
  proc?: Record<string, string>;
  afterStop: Leftovers;
  otherNode: Leftovers;
}
interface Recorded {
  configs: Config[];
  rows: Row[];
  moves: Record<string, Move>;
  errors: Record<string, string>;
}

let rec: Recorded;

/** Buckets `aavip hash owner` predicts for these rows (dst 198.18.0.100). */
function cliBuckets(rows: Row[], c: Config): number[] {
  const csv = rows.map((r) => `${r.src},${r.sport},198.18.0.100,${r.dport},tcp`).join('\n') + '\n';
  const r = spawnSync(
    process.execPath,
    [
      built('cli/main.js'),
      'hash',
      'owner',
      '--mechanism',
      c.backend,
      '--hashmode',
      c.hashmode,
      '--seed',
      `0x${c.seed.toString(16)}`,
      '--buckets',
      String(c.buckets),
    ],
    { input: csv, encoding: 'utf8' },
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split('\n').map(Number);
}

beforeAll(async () => {
  rec = await scenarioJson<Recorded>('clusterip-xtcluster.mjs', 'backends.json');
}, 1_200_000);

describe('the clusterip and xt_cluster backends on a 6.1 kernel', () => {
  it('programs every config without error', () => {
    expect(rec.errors).toEqual({});
    expect(rec.configs.map((c) => `${c.backend} ${c.hashmode}`)).toEqual([
      'clusterip sourceip',
      'clusterip sourceip-sourceport',
      'clusterip sourceip-sourceport-destport',
      'xt_cluster sourceip',
    ]);
  });

  it('every connection is answered, by the node owning the bucket the model predicts; all nodes take part', () => {
    for (const c of rec.configs) {
      expect(c.summary, `${c.backend} ${c.hashmode}`).toMatchObject({ failed: 0, mispredicted: 0 });
      expect(Object.keys(c.summary.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    }
  });

  it('CLUSTERIP marked each connection with the bucket aavip hash owner predicts, and its owner answered', () => {
    rec.configs.forEach((c, k) => {
      const rows = rec.rows.filter((r) => r.config === k);
      const predicted = cliBuckets(rows, c);
      rows.forEach((r, i) => {
        if (c.backend === 'clusterip') expect(r.mark, `${r.src}:${r.sport}`).toBe(predicted[i]);
        expect(r.node, `${r.src}:${r.sport}`).toBe(`node${c.owners[predicted[i] - 1]}`);
      });
    });
  });

  for (const [k, backend] of [
    [1, 'clusterip'],
    [3, 'xt_cluster'],
  ] as const) {
    it(`${backend}: a bucket moves from node 1 to node 2 and traffic follows; node 2 stops cleanly`, () => {
      const m = rec.moves[k];
      expect(m.afterMove).toMatchObject({ failed: 0, mispredicted: 0 });
      if (backend === 'clusterip') {
        // The kernel's /proc view: the moved bucket is node 2's now, the rest as before.
        const c = rec.configs[k];
        const owned = (i: number) => c.owners.flatMap((o, j) => ((j + 1 === m.moved ? 2 : o) === i ? [j + 1] : [])).join(',');
        expect(m.proc).toEqual({ node1: owned(1), node2: owned(2), node3: owned(3) });
      }
      expect(m.afterStop).toEqual({ iptables: [], nft: [], clusterip: [], address: false });
      // The other nodes keep serving.
      expect(m.otherNode.address).toBe(true);
    });
  }
});
