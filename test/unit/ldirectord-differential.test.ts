// The parser against the real ldirectord (Debian package `ldirectord`; skipped without it):
// `ldirectord FILE status` parses the file first and exits 2 with `Error [...] reading file F at
// line N: MESSAGE` on a broken one. For the same files, aavip must accept what it accepts and
// refuse what it refuses, at the same line with the same message, except for the documented
// differences (parse.ts header), each recognised here by its cause.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { systemFileChecks } from '../../src/lvs/config/files.js';
import { systemResolver } from '../../src/lvs/config/resolve.js';
import { aavipOutcome, knownDifference, LDIRECTORD, ldirectordOutcome, sameOutcome, type Outcome } from './ldirectord-oracle.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-ld-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const resolver = systemResolver();
const ours = (file: string, text: string): Outcome => aavipOutcome(file, text, { resolver, files: systemFileChecks });
const theirs = (file: string): Promise<Outcome> => ldirectordOutcome(file);

async function compare(texts: string[]): Promise<{ same: number; known: Record<string, number>; unexplained: unknown[] }> {
  const result = { same: 0, known: {} as Record<string, number>, unexplained: [] as unknown[] };
  let next = 0;
  const worker = async () => {
    while (next < texts.length) {
      const k = next++;
      const file = join(dir, `c${k}.cf`);
      writeFileSync(file, texts[k]);
      const [a, b] = [ours(file, texts[k]), await theirs(file)];
      if (sameOutcome(a, b)) {
        result.same++;
        continue;
      }
      const why = knownDifference(texts[k], a, b);
      if (why) result.known[why] = (result.known[why] ?? 0) + 1;
      else result.unexplained.push({ text: texts[k], aavip: a, ldirectord: b });
    }
  };
  await Promise.all([worker(), worker()]);
  return result;
}

describe.skipIf(!existsSync(LDIRECTORD))("aavip's parser against ldirectord's", () => {
  it("the spec's examples and messages: the same outcome, line and message", async () => {
    const examples = [
      'checktimeout=2\ncheckinterval=2\nquiescent=no\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 5\n\treal=127.0.0.3:8080 masq\n\tfallback=127.0.0.1:8081 masq\n\tservice=http\n\trequest="index.html"\n\treceive="OK"\n\tscheduler=rr\n',
      'virtual=5\n\treal=127.0.0.2 gate\n\tchecktype=on\n\tscheduler=sh\n\tpersistent=300\n\tnetmask=255.255.255.0\n',
      'quiescent=yes\nvirtual=127.0.0.100:80\n\treal=127.0.0.5->127.0.0.6:8080 gate 2\n\tchecktype=connect\n',
      'virtual=127.0.0.100:53\n\treal=127.0.0.2:53 gate\n\tchecktype=connect\n',
      `virtual=127.0.0.100:9000\n\treal=127.0.0.2:8080 masq\n\tchecktype=external\n\tcheckcommand="${dir}/ext.sh"\n`,
      'virtual=127.0.0.100:9001\n\treal=127.0.0.2:8080 masq\n\tservice=http\n\tchecktype=3\n',
      'virtual6=[::1]:80\n\treal6=[::1]:8080 masq\n\tchecktype=on\nvirtual6=7\n\treal6=[::1] gate\n\tnetmask=64\n\tpersistent=100\n',
      'virtual=127.0.0.100\n\treal=127.0.0.2 gate\n',
      'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080\n',
      'autoreload = yes \n',
      'quiescent=yes #c\n',
      'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\nvirtual=127.0.0.100:80\n\treal=127.0.0.3:8080 gate\nquiescent=no\n',
      ...[
        'checktype=magic',
        'service=telnet',
        'real=127.0.0.2:80 nat',
        'real=127.0.0.9->127.0.0.2:80 gate',
        'real=127.0.0.2:nosuchsvc gate',
        'checkport=70000',
        'netmask=24',
        'scheduler=WRR',
        'protocol=fwm',
        'request=""',
        'checktimeout=0',
        'readdquiescent=yes',
        'maintenancedir=/tmp',
        'autoreload=yes',
        'real=127.0.0.2:80 gate 1 junk',
        'fallback6=[::1]',
        'login=""',
        'httpmethod=POST',
        'emailalertstatus=none,running',
      ].map((d) => `virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\n\t${d}\n\tscheduler=rr\n`),
      ...[
        'checkinterval=0',
        'failurecount=0',
        'foo=bar',
        'timeout=3',
        'emailalertstatus=none,running',
        `logfile="${dir}/no/x"`,
        'supervised=maybe',
        'fallback=[::1]:80',
      ].map((d) => `quiescent=no\n${d}\n`),
    ];
    const r = await compare(examples);
    expect(r.unexplained).toEqual([]);
    expect(r.same).toBeGreaterThanOrEqual(examples.length - 3);
  }, 300_000);

  it("a whitespace-only line inside a section: ldirectord stops at it (Unknown command), aavip skips it (README, ldirectord's bugs)", async () => {
    // 8 spaces or two tabs: after ldirectord takes off one indentation, what is left is not blank to it.
    for (const [k, blank] of ['        ', '\t\t', '            '].entries()) {
      const text = `virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\n${blank}\n\tscheduler=rr\n`;
      const file = join(dir, `blank${k}.cf`);
      writeFileSync(file, text);
      const b = await theirs(file);
      expect(b.ok).toBe(false);
      expect(b.line).toBe(3);
      expect(b.message).toMatch(/^Unknown command "\s+"$/);
      expect(ours(file, text)).toEqual({ ok: true });
      expect(knownDifference(text, ours(file, text), b)).toBe('blank line inside a section');
    }
  }, 120_000);

  it('random files from directive lines, with small mutations: differences only where documented', async () => {
    const lines = [
      'virtual=127.0.0.100:80',
      'virtual=127.0.0.100:53',
      'virtual=5',
      'virtual6=[::1]:80',
      'virtual=127.0.0.101:http',
      'virtual=localhost:8080',
      'virtual=0',
      '\treal=127.0.0.2:8080 masq 5',
      '\treal=127.0.0.3 gate',
      '\treal=127.0.0.4->127.0.0.6:80 ipip 2 "a","b" l:3 u:9',
      '\treal6=[::1]:80 masq',
      '\treal=localhost:http gate 0',
      '\treal=127.0.0.2 gate junk 3',
      '\treal=[::1]:80 gate',
      '\tchecktype=connect # tcp',
      '\tchecktype=3',
      '\tservice=ftp',
      '\trequest="index.html"',
      '\treceive="OK"',
      '\tscheduler=Wrr',
      '\tpersistent=300',
      '\tnetmask=255.255.255.0',
      '\tnetmask=64',
      '\tprotocol=udp',
      '\tfallback=127.0.0.1:8081 masq',
      '\tfallback6=[::1]:80',
      '\tquiescent=yes',
      '\tcheckport=81',
      '\tvirtualhost="www.x"',
      '\tlogin="u"',
      '\tops=yes',
      '\temailalertstatus=starting,running',
      '\temailalertfreq=x5',
      '\tcheckinterval=3',
      '\thttpmethod=HEAD',
      '\tsmtp=mail.x',
      '\tload="x y"',
      'checktimeout=2',
      'checkinterval=5s',
      'quiescent=no',
      'failurecount=2',
      'fallback=127.0.0.1:80',
      'fallback6=[::1]',
      'autoreload=yes',
      'fork=yes',
      'emailalert="a@b"',
      'supervised',
      'supervisedx',
      'callback="/bin/true"',
      'callback=/bin/true',
      'execute=x.cf',
      'emailalertstatus=all, running',
      '# comment',
      '    # indented comment',
    ];
    const tokens = ['\t', '    ', ' ', '#', '"', '=', ':', '->', ',', 'gate', 'masq', '0', '80', '53', 'x', 'yes', 'l:5', '[', ']', '127.0.0.9'];
    const mutation = fc.tuple(fc.boolean(), fc.nat(), fc.constantFrom(...tokens), fc.integer({ min: 1, max: 5 }));
    const files = fc.sample(
      fc.tuple(fc.array(fc.constantFrom(...lines), { minLength: 1, maxLength: 12 }), fc.array(mutation, { maxLength: 3 })).map(([ls, ms]) =>
        ms.reduce(
          (t, [insert, at, token, n]) => {
            const i = at % (t.length + 1);
            return insert ? t.slice(0, i) + token + t.slice(i) : t.slice(0, i) + t.slice(i + n);
          },
          `${ls.join('\n')}\n`,
        ),
      ),
      { numRuns: 40, seed: 20261124 },
    );
    const r = await compare(files);
    expect(r.unexplained).toEqual([]);
    expect(r.same).toBeGreaterThan(files.length * 0.8);
  }, 300_000);
});
