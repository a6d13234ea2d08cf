// Linear stand-ins for the unanchored Perl searches ldirectord applies to a real server's flags
// and list values. Written as regular expressions (`/\s+(\d+)(.*)/`, `/\s*,\s*/`), V8 retries the
// search from every blank of a run and rescans the run each time: quadratic in the blanks
// (90 ms for one 4 KB line). Each function here gives the regex's exact answer while visiting
// every character a bounded number of times.

/** JavaScript's `\s` (the same set `trim()` removes). */
const BLANKS = /\s+/g;

/**
 * ldirectord's `$text =~ /\s+HEAD(.*)/s`: the first run of blanks directly followed by what the
 * sticky `head` matches; returns head's match and what follows it (the `(.*)`), or undefined.
 * HEAD never starts with a blank, so the search only has to try the end of each run, once.
 */
export function afterBlanks(text: string, head: RegExp): { match: RegExpExecArray; rest: string } | undefined {
  if (!head.sticky) throw new Error('afterBlanks: head must be a sticky regex');
  BLANKS.lastIndex = 0;
  for (let run = BLANKS.exec(text); run; run = BLANKS.exec(text)) {
    head.lastIndex = BLANKS.lastIndex;
    const match = head.exec(text);
    if (match) return { match, rest: text.slice(head.lastIndex) };
  }
  return undefined;
}

const isBlank = (c: string | undefined) => c !== undefined && /\s/.test(c);

/**
 * ldirectord's `$text =~ /\s+"(.*)"[, ]\s*"(.*)"(.*)/s` (a real server's `"request", "receive"`):
 * the two strings and what follows, or undefined. Greedy as Perl is: the first string ends at the
 * last `"` that a separator and a second quoted string can follow; the second runs to the last `"`.
 * If the search fails after the first blank-run-then-quote it fails after every later one (each
 * later start only removes candidates), so only that one start is tried.
 */
export function quotedPair(text: string): { first: string; second: string; rest: string } | undefined {
  const open = afterBlanks(text, /"/y);
  if (!open) return undefined;
  const start = open.match.index + 1; // just after the opening quote
  const last = text.lastIndexOf('"');
  // Candidate ends of the first string, right to left: a `"` followed by `,` or ` `, blanks, and a
  // `"` that opens the second string (which must close before the end, at `last`). The blank runs
  // checked for different candidates do not overlap, so the whole scan is linear.
  for (let end = text.lastIndexOf('"', last - 1); end >= start; end = end === 0 ? -1 : text.lastIndexOf('"', end - 1)) {
    if (text[end + 1] !== ',' && text[end + 1] !== ' ') continue;
    let q = end + 2;
    while (isBlank(text[q])) q++;
    if (text[q] === '"' && q < last) return { first: text.slice(start, end), second: text.slice(q + 1, last), rest: text.slice(last + 1) };
  }
  return undefined;
}

/** ldirectord's split on commas with the blanks around them (the regex `\s*,\s*`): linear. */
export function splitCommaList(text: string): string[] {
  const items = text.split(',');
  return items.map((item, k) => {
    const head = k === 0 ? item : item.trimStart();
    return k === items.length - 1 ? head : head.trimEnd();
  });
}

/**
 * ldirectord's `$text =~ /(\S+)(\s+(\S+))?\s*$/` (a fallback's `host:port [method]`): the last two
 * words when there are two or more, else the only one; undefined for a blank text.
 */
export function lastWords(text: string): { first: string; second?: string } | undefined {
  const words: string[] = [];
  let end = text.length;
  while (words.length < 2) {
    while (end > 0 && isBlank(text[end - 1])) end--;
    if (end === 0) break;
    let start = end;
    while (start > 0 && !isBlank(text[start - 1])) start--;
    words.unshift(text.slice(start, end));
    end = start;
  }
  if (words.length === 0) return undefined;
  return words.length === 1 ? { first: words[0] } : { first: words[0], second: words[1] };
}
