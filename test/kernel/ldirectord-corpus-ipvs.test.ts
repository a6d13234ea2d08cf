// The real-world corpus on real IPVS (issue 12, must-show 2): every ldirectord.cf of
// ../shared/corpus/ldirectord/ that aavip accepts, loaded by aavip's ldirectord role in the 6.1
// VM with no real server reachable, leaves in the kernel exactly the table aavip's model asks
// for (`ipvsadm -S -n`): reals whose check cannot fail up, the others down, a service with a
// scheduler the kernel lacks refused by it alone. That model is the one the host's differential test holds against
// Debian's ldirectord (through an ipvsadm stand-in): together, ldirectord's tables on real IPVS.
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { systemFileChecks } from '../../src/lvs/config/files.js';
import { effective } from '../../src/lvs/config/model.js';
import { loadLdirectordConfig } from '../../src/lvs/config/parse.js';
import { CORPUS_DIR, CORPUS_VERDICTS, corpusFiles, tableWhenNoneAnswers, varLogChecks } from '../integration/ldirectord-corpus.js';
import { runScenario } from './vm.js';

const files = corpusFiles();
const varLog = mkdtempSync(join(tmpdir(), 'aavip-corpus-ipvs-'));
mkdirSync(join(varLog, 'ldirectord'), { recursive: true });

interface Case {
  name: string;
  path: string;
  checkMs: number;
  expected: string[];
}
interface Found {
  started: boolean;
  table?: string[];
  afterStop?: string[];
  stopStatus?: number;
  stderr?: string;
  ms?: number;
}

const cases: Case[] = [];
let found: Record<string, Found> & { error?: string };

beforeAll(async () => {
  if (!files.length) return;
  for (const path of files) {
    try {
      const c = await loadLdirectordConfig(path, { files: varLogChecks(systemFileChecks, varLog) });
      const rounds = c.virtualServices.map((v) => {
        const e = effective(v, c.globals);
        return (e.checkcount * e.checkinterval + Math.max(e.checktimeout, e.negotiatetimeout)) * 1000;
      });
      cases.push({ name: basename(path), path, checkMs: Math.max(0, ...rounds), expected: tableWhenNoneAnswers(c).sort() });
    } catch (e) {
      if (!(e instanceof InputError)) throw e; // refused files: the host's corpus test covers them
    }
  }
  // The files go in with the scenario: the guest sees only some of the host's folders.
  const copies = Object.fromEntries(cases.map((c) => [`cf-${c.name}`, readFileSync(c.path, 'utf8')]));
  const vm = await runScenario('ldirectord-corpus-ipvs.mjs', { files: { 'corpus.json': JSON.stringify(cases), ...copies }, timeoutMs: 1_500_000 });
  found = JSON.parse(vm.files['corpus-ipvs.json']);
  if (found.error) throw new Error(found.error);
}, 1_600_000);

describe.skipIf(files.length === 0)(
  files.length ? 'the real-world corpus on real IPVS' : `the real-world corpus on real IPVS: ${CORPUS_DIR} is absent, not checked`,
  () => {
    it('loads every file aavip accepts (the rest are refused with file:line, as the host test shows)', () => {
      const accepted = Object.entries(CORPUS_VERDICTS)
        .filter(([, v]) => v.aavip.ok)
        .map(([name]) => name);
      expect(cases.map((c) => c.name).sort()).toEqual(accepted.sort());
      expect(cases.length).toBeGreaterThan(0);
    });

    it("leaves, for every file aavip accepts, the kernel table aavip's model asks for, and an empty one after stop", () => {
      const wrong = cases
        .map((c) => ({ name: c.name, want: c.expected, got: found[c.name] }))
        .filter((x) => !x.got?.started || x.got.table!.join('\n') !== x.want.join('\n') || x.got.afterStop!.length > 0 || x.got.stopStatus !== 0);
      expect(wrong).toEqual([]);
    });
  },
);
