// The owners every node computes must be the same on every node, and stay the same across
// versions: during a rolling upgrade an old and a new daemon compute owners side by side, and
// any difference is a bucket served twice or by nobody. These vectors pin the assignment (as
// Cilium's maglev pins its table): if this test fails, the change breaks mixed-version clusters
// and needs a protocol version of its own. The vectors were computed once and are read as data.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { assign, type Member, type Strategy } from '../../src/assignment/assign.js';

const golden = JSON.parse(readFileSync(new URL('../fixtures/assign-golden.json', import.meta.url), 'utf8')) as Record<string, string>;
const three: Member[] = [
  { id: 1, weight: 1 },
  { id: 2, weight: 1 },
  { id: 3, weight: 1 },
];
const weighted: Member[] = [
  { id: 1, weight: 3 },
  { id: 2, weight: 2 },
  { id: 5, weight: 1 },
];
const five: Member[] = [1, 2, 3, 4, 5].map((id) => ({ id, weight: 1 }));

const cases: [string, Member[], number[], number, Strategy?][] = [
  ['three nodes, all up', three, [1, 2, 3], 256],
  ['three nodes, node 3 down', three, [1, 2], 256],
  ['three nodes, node 1 down', three, [2, 3], 256],
  ['weights 3:2:1 (ids 1, 2, 5), all up', weighted, [1, 2, 5], 256],
  ['weights 3:2:1 (ids 1, 2, 5), node 2 down', weighted, [1, 5], 256],
  ['five nodes, nodes 2 and 4 down, 1024 buckets', five, [1, 3, 5], 1024],
  ['three nodes, all up, modulo', three, [1, 2, 3], 16, 'modulo'],
  ['three nodes, node 2 down, modulo', three, [1, 3], 16, 'modulo'],
];

describe('assignment golden vectors', () => {
  it('covers every vector on file', () => {
    expect(cases.map(([name]) => name).sort()).toEqual(Object.keys(golden).sort());
  });
  for (const [name, members, live, buckets, strategy] of cases) {
    it(name, () => {
      expect(assign(members, new Set(live), buckets, strategy).join('')).toBe(golden[name]);
    });
  }
});
