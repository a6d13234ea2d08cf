// The searches ldirectord makes over a line, done in linear time (src/lvs/config/scan.ts,
// real-address.ts). First: each gives exactly the answer of the Perl-style regex it replaces, on
// random short strings of the characters the grammar cares about. Then: inputs where the regexes
// are quadratic finish. Nothing is timed: a 1 MB run of blanks through `/\s+(\d+)(.*)/` is about
// 5·10^11 regex steps (hours; 90 ms already for 4 KB), so these tests could not finish within the
// unit project's 60 s timeout on the old code; with a linear scan they take milliseconds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { matchRealLine } from '../../src/lvs/config/real-address.js';
import { afterBlanks, lastWords, quotedPair, splitCommaList } from '../../src/lvs/config/scan.js';

// The patterns as ldirectord's code (and the parser before the scans) wrote them.
const REAL_HOST = '(\\d+\\.\\d+\\.\\d+\\.\\d+|[A-Za-z0-9.-]+|\\[[0-9A-fa-f:]+\\])';
const REAL_LINE = new RegExp(`${REAL_HOST}(->${REAL_HOST})?(:(\\d+|[A-Za-z0-9_-]+))?\\s+(.*)`, 's');
const WEIGHT = /\s+(\d+)(.*)/s;
const LOWER = /\s+l:(\d+)(.*)/s;
const REQUEST_RECEIVE = /\s+"(.*)"[, ]\s*"(.*)"(.*)/s;
const FALLBACK = /(\S+)(\s+(\S+))?\s*$/;

const alphabet = ['a', 'F', 'x', 'l', 'u', '1', '2', '0', '.', '-', '>', '[', ']', ':', '_', '^', '"', ',', '#', '/', ' ', '\t', '\r'];
const text = fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }).map((a) => a.join(''));
const runs = { numRuns: 20_000 };

describe("the linear searches give the regexes' answers", () => {
  it('the real= address part: HOST(->HOST)?(:PORT)?\\s+(.*)', () => {
    fc.assert(
      fc.property(text, (v) => {
        const m = v.match(REAL_LINE);
        expect(matchRealLine(v)).toEqual(m ? { ip1: m[1], ip2: m[3], portText: m[5], flags: m[6] } : undefined);
      }),
      runs,
    );
  });

  it('weight and thresholds: \\s+(\\d+)(.*) and \\s+l:(\\d+)(.*)', () => {
    for (const [re, head] of [
      [WEIGHT, /(\d+)/y],
      [LOWER, /l:(\d+)/y],
    ] as const) {
      fc.assert(
        fc.property(text, (v) => {
          const m = v.match(re);
          const r = afterBlanks(v, head);
          expect(r ? [r.match[1], r.rest] : undefined).toEqual(m ? [m[1], m[2]] : undefined);
        }),
        runs,
      );
    }
  });

  it('"request", "receive": \\s+"(.*)"[, ]\\s*"(.*)"(.*), greedy as Perl', () => {
    fc.assert(
      fc.property(text, (v) => {
        const m = v.match(REQUEST_RECEIVE);
        const r = quotedPair(v);
        expect(r ? [r.first, r.second, r.rest] : undefined).toEqual(m ? [m[1], m[2], m[3]] : undefined);
      }),
      runs,
    );
  });

  it('e-mail status lists (split on \\s*,\\s*) and fallback words ((\\S+)(\\s+(\\S+))?\\s*$)', () => {
    fc.assert(
      fc.property(text, (v) => {
        expect(splitCommaList(v)).toEqual(v.split(/\s*,\s*/));
        const m = v.match(FALLBACK);
        const r = lastWords(v);
        expect(r ? [r.first, r.second] : undefined).toEqual(m ? [m[1], m[3]] : undefined);
      }),
      runs,
    );
  });
});

describe('inputs the regexes take quadratic time over finish', () => {
  const MB = 1 << 20;
  // Compared as short facts, so that a failure does not print a megabyte.
  it('a megabyte of blanks, of `a-`, of `0.`, of ` "x`: the right answer', () => {
    const blanks = ' '.repeat(MB);
    expect(afterBlanks(`gate${blanks}`, /(\d+)/y) === undefined).toBe(true);
    expect(afterBlanks(`gate${blanks}7 l:3`, /(\d+)/y)?.rest).toBe(' l:3');
    expect(quotedPair(`gate${' "x'.repeat(MB / 3)}`) === undefined).toBe(true);
    expect(quotedPair(`gate${blanks}"a", "b" l:1`)).toEqual({ first: 'a', second: 'b', rest: ' l:1' });
    expect(splitCommaList(`all${blanks},${blanks}none`).map((i) => i.length)).toEqual([3, 4]);
    expect(lastWords(`${'a '.repeat(MB / 2)}b`)).toEqual({ first: 'a', second: 'b' });
    expect(matchRealLine(`${'a-'.repeat(MB / 2)}`)).toBeUndefined();
    expect(matchRealLine(`${'0.'.repeat(MB / 2)}/ 198.18.0.2:80 gate`)).toEqual({ ip1: '198.18.0.2', ip2: undefined, portText: '80', flags: 'gate' });
    expect(matchRealLine(`${'[a'.repeat(MB / 2)}] gate`)?.ip1.length).toBe(MB + 1);
  });

  it('a file of 2,000 real= lines of 4 KB, most of it trailing blanks (about 3 minutes before, at 90 ms a line)', () => {
    const reals = Array.from({ length: 2000 }, (_, k) => `\treal=198.18.${k >> 8}.${k & 255}:80 gate 2${' '.repeat(4000)}`);
    const c = parseLdirectordConfig(`virtual=198.18.100.1:80\n${reals.join('\n')}\n`, 'blanks.cf', { hostname: 'director' });
    expect(c.virtualServices[0].realServers).toHaveLength(2000);
    expect(c.virtualServices[0].realServers.every((r) => r.weight === 2 && r.port === 80 && r.forwarding === 'gate')).toBe(true);
  });
});
