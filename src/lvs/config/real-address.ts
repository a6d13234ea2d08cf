// Where ldirectord's unanchored `real=` pattern `HOST(->HOST)?(:PORT)?\s+(.*)` matches, found in
// linear time. As a regex, V8 tries it from every position and rescans the rest of the word each
// time (260 ms for a 2.6 KB word of `a-a-...`). What the search finds is fixed by two facts: the
// part before `\s+` holds no blank, so it is a suffix of one word (one that a blank follows); and
// that suffix matches iff it is in the language HOST (-> HOST)? (: PORT)?, which a few runs of
// character classes decide. So: for each word in turn, the smallest start whose suffix is in that
// language; then the regex itself, anchored on that suffix alone, gives the captures in its own
// order of preference.

import { PORT, PORT_CHARS } from './values.js';

/** The classes of the grammar, as ldirectord writes them (`A-f` is its typo, kept: it takes `[`, `]`, `_`). */
const NAME = 'A-Za-z0-9.-';
const V6 = '0-9A-fa-f:';
const REAL_HOST = `(\\d+\\.\\d+\\.\\d+\\.\\d+|[${NAME}]+|\\[[${V6}]+\\])`;
/** The address part alone, anchored at both ends: applied to one suffix of one word. */
const ADDRESS_PART = new RegExp(`^${REAL_HOST}(->${REAL_HOST})?(:${PORT})?$`, 's');

const inName = new RegExp(`[${NAME}]`);
const inV6 = new RegExp(`[${V6}]`);
const inPort = new RegExp(`[${PORT_CHARS}]`);

/** For each end i (0..length), where the run of `member` characters ending just before i starts (i when empty). */
function runStarts(word: string, member: RegExp): Int32Array {
  const starts = new Int32Array(word.length + 1);
  for (let i = 1; i <= word.length; i++) {
    const inRun = member.test(word[i - 1]);
    starts[i] = !inRun ? i : i >= 2 && starts[i - 1] < i - 1 ? starts[i - 1] : i - 1;
  }
  return starts;
}

/** The smallest start of `word` whose suffix is an address part, or -1. */
export function addressPartStart(word: string): number {
  const n = word.length;
  const name = runStarts(word, inName);
  const v6 = runStarts(word, inV6);
  const port = runStarts(word, inPort);
  const nextOpen = new Int32Array(n + 1).fill(n);
  for (let i = n - 1; i >= 0; i--) nextOpen[i] = word[i] === '[' ? i : nextOpen[i + 1];
  /** The bracketed host `[...]` ending at `end`: the smallest start, or n when none. */
  const bracketStart = (end: number) => {
    if (end < 3 || word[end - 1] !== ']') return n;
    const open = nextOpen[Math.max(v6[end - 1] - 1, 0)];
    return open <= end - 3 ? open : n;
  };
  /** The smallest start of a host ending at `end`, or n. */
  const hostStart = (end: number) => Math.min(end > 0 && name[end] < end ? name[end] : n, bracketStart(end));
  /** The smallest start of `HOST(->HOST)?` ending at `end`, or n. */
  const hostsStart = (end: number) => {
    let best = hostStart(end);
    // The second host of a range starts right after `->`, which ends the run it is in.
    const seconds = [end > 0 && name[end] < end ? name[end] : n, bracketStart(end) === v6[end - 1] ? v6[end - 1] : n];
    for (const t of seconds) if (t < n && t >= 2 && word[t - 1] === '>' && word[t - 2] === '-') best = Math.min(best, hostStart(t - 2));
    return best;
  };
  let best = hostsStart(n);
  const colon = port[n] - 1; // `:PORT` at the end: the port characters' run, after a colon
  if (colon >= 0 && colon < n - 1 && word[colon] === ':') best = Math.min(best, hostsStart(colon));
  return best < n ? best : -1;
}

/** `value.match(/HOST(->HOST)?(:PORT)?\s+(.*)/s)` as ldirectord's real= pattern: the parts, or undefined. */
export function matchRealLine(value: string): { ip1: string; ip2?: string; portText?: string; flags: string } | undefined {
  const words = /\S+/g;
  for (let w = words.exec(value); w; w = words.exec(value)) {
    const end = w.index + w[0].length;
    if (end >= value.length) break; // the last word: no blank follows it
    const start = addressPartStart(w[0]);
    if (start < 0) continue;
    const m = w[0].slice(start).match(ADDRESS_PART)!;
    const flagsAt = /\S|$/g;
    flagsAt.lastIndex = end;
    return { ip1: m[1], ip2: m[3], portText: m[5], flags: value.slice(flagsAt.exec(value)!.index) };
  }
  return undefined;
}
