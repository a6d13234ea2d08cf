// The dialogue checks' line reader: lines however the bytes are cut, CR LF or LF, and a cap on an
// unfinished line, so an endless line stops the reader instead of filling memory.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineReader } from '../../src/lvs/checks/lines.js';

const feed = (r: LineReader, chunks: string[]) => chunks.flatMap((c) => r.push(Buffer.from(c, 'latin1')));

describe('LineReader', () => {
  it('gives the same lines however the stream is cut', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[ -~]{0,40}$/), { maxLength: 20 }), fc.array(fc.nat(200), { maxLength: 10 }), (lines, cuts) => {
        const text = lines.map((l, i) => `${l}${i % 2 ? '\r\n' : '\n'}`).join('');
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points, text.length].slice(1).map((end, i, ends) => text.slice(i === 0 ? 0 : ends[i - 1], end));
        expect(feed(new LineReader(1024), chunks)).toEqual(lines);
      }),
    );
  });

  it('keeps an unfinished line for the next chunk', () => {
    const r = new LineReader(100);
    expect(feed(r, ['220 rea'])).toEqual([]);
    expect(feed(r, ['dy\r', '\n250'])).toEqual(['220 ready']);
    expect(r.overflowed).toBe(false);
  });

  it('overflows when an unfinished line passes the cap, and takes nothing more', () => {
    const r = new LineReader(10);
    expect(feed(r, ['0123456789'])).toEqual([]);
    expect(r.overflowed).toBe(false);
    expect(feed(r, ['A'])).toEqual([]);
    expect(r.overflowed).toBe(true);
    expect(feed(r, ['\nok\n'])).toEqual([]);
  });

  it('overflows on a finished line longer than the cap that came in pieces', () => {
    const r = new LineReader(10);
    expect(feed(r, ['01234567', '89AB\nnext\n'])).toEqual([]);
    expect(r.overflowed).toBe(true);
  });

  it('passes lines before an overflowing one on', () => {
    const r = new LineReader(4);
    expect(feed(r, ['ok\n0123456789'])).toEqual(['ok']);
    expect(r.overflowed).toBe(true);
  });
});
