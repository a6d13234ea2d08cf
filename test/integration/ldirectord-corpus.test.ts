// Real-world ldirectord.cf files (../shared/corpus/ldirectord, read in place, never copied here)
// through aavip's loader and through Debian's ldirectord (`ldirectord FILE status`, the parser
// oracle of the differential test), each with a private writable /var/log holding
// /var/log/ldirectord/ (a bind mount in a private mount namespace, no network) as the corpus README
// asks. Both must give each file's recorded verdict (ldirectord-corpus.ts), and agree, except where
// the README's table of ldirectord's bugs names the difference. For the files both accept, the IPVS
// table aavip computes with every real server down is checked where the file makes it plain.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { systemFileChecks } from '../../src/lvs/config/files.js';
import type { LdirectordConfig } from '../../src/lvs/config/model.js';
import { loadLdirectordConfig } from '../../src/lvs/config/parse.js';
import { PACKAGE_ROOT } from '../../src/paths.js';
import { knownDifference, LDIRECTORD, ldirectordOutcome, sameOutcome, type Outcome } from '../unit/ldirectord-oracle.js';
import { CORPUS_DIR, CORPUS_VERDICTS, corpusFiles, tableWhenAllDown, varLogChecks } from './ldirectord-corpus.js';

const files = corpusFiles();
const canRun = existsSync(LDIRECTORD) && process.getuid?.() === 0;
const work = mkdtempSync(join(tmpdir(), 'aavip-ld-corpus-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** aavip's loader (names resolved asynchronously, as the daemon does) with `varLog` for /var/log. */
async function aavipReads(file: string, varLog: string): Promise<{ outcome: Outcome; config?: LdirectordConfig }> {
  try {
    const config = await loadLdirectordConfig(file, { files: varLogChecks(systemFileChecks, varLog) });
    return { outcome: { ok: true }, config };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { outcome: { ok: false, line: e.where.line, message: e.message } };
  }
}

/** ldirectord's reading, with `varLog` bind-mounted on /var/log and no network. */
const ldirectordReads = (file: string, varLog: string) =>
  ldirectordOutcome(file, ['unshare', '--mount', '--net', 'sh', '-c', 'mount --bind "$0" /var/log && exec "$@"', varLog]);

// Without the folder, everything below is reported skipped, under a name that says why.
describe.skipIf(files.length === 0)(files.length ? 'the real-world corpus' : `the real-world corpus: ${CORPUS_DIR} is absent, not checked`, () => {
  it('has a recorded verdict for every file, and a file for every verdict', () => {
    expect(files.map((f) => basename(f))).toEqual(Object.keys(CORPUS_VERDICTS).sort());
  });

  const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
  let n = 0;
  it.skipIf(!canRun).each(files.map((f) => [basename(f), f]))(
    '%s: aavip and ldirectord give its verdict',
    async (name, file) => {
      const expected = CORPUS_VERDICTS[name];
      const varLog = join(work, `varlog${++n}`);
      mkdirSync(join(varLog, 'ldirectord'), { recursive: true });
      const theirs = await ldirectordReads(file, varLog);
      const ours = await aavipReads(file, varLog);
      expect(theirs).toEqual(expected.ldirectord);
      expect(ours.outcome).toEqual(expected.aavip);
      if (expected.difference === undefined) {
        expect(sameOutcome(ours.outcome, theirs)).toBe(true);
      } else {
        // A difference only where ldirectord has a bug the README names, and recognised as that one.
        expect(sameOutcome(ours.outcome, theirs)).toBe(false);
        expect(readme).toContain(`| ${expected.difference} |`);
        expect(knownDifference(readFileSync(file, 'utf8'), ours.outcome, theirs)).toBeDefined();
      }
      if (ours.config) {
        const c = ours.config;
        expect(c.virtualServices).toHaveLength(expected.virtuals!);
        expect(c.virtualServices.reduce((k, v) => k + v.realServers.length, 0)).toBe(expected.reals);
        // Every virtual service is in the table, once.
        const table = tableWhenAllDown(c);
        expect(table.filter((l) => l.startsWith('-A '))).toHaveLength(expected.virtuals!);
      }
    },
    120_000,
  );

  it.skipIf(!canRun)('the tables where the file makes them plain: quiescent reals at weight 0, else only the fallback', async () => {
    const varLog = join(work, 'varlog-tables');
    mkdirSync(join(varLog, 'ldirectord'), { recursive: true });
    const read = async (name: string) => (await aavipReads(join(CORPUS_DIR, name), varLog)).config!;
    // quiescent=yes: down reals stay, at weight 0 (gate reals take the virtual's port).
    expect(tableWhenAllDown(await read('k8s-gateway.cf'))).toEqual([
      '-A -t 198.18.0.21:6443 -s wrr',
      ...[11, 12, 13].map((h) => `-a -t 198.18.0.21:6443 -r 198.18.0.${h}:6443 -g -w 0`),
    ]);
    // quiescent=no with a fallback: the reals leave, the fallback comes in.
    expect(tableWhenAllDown(await read('ra-sample.cf'))).toEqual(['-A -t 198.18.0.240:80 -s rr', '-a -t 198.18.0.240:80 -r 127.0.0.1:80 -g -w 1']);
    // quiescent=no, no fallback: empty services (UDP, masq reals on their own ports).
    expect(tableWhenAllDown(await read('wj-radius.cf'))).toEqual(['-A -u 198.18.0.50:1812 -s wrr', '-A -u 198.18.0.50:1813 -s wrr']);
  });
});
