// The ldirectord.cf reader's speed: (1) 4 KB lines that made the old regexes quadratic, through
// the regex as ldirectord writes it and through the linear search that replaced it, and through
// the whole parser; (2) the real-world corpus, if present; (3) a file naming N port names, read by
// the blocking loader and by the asynchronous one, with the longest the event loop was held (what
// stalls heartbeats).
// Usage: node dist/bench/ldirectord-parse.js [--names N] [--json]
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLdirectordConfig, loadLdirectordConfigSync, parseLdirectordConfig } from '../src/lvs/config/parse.js';
import { matchRealLine } from '../src/lvs/config/real-address.js';
import { afterBlanks, splitCommaList } from '../src/lvs/config/scan.js';
import { PACKAGE_ROOT } from '../src/paths.js';

/** Best of `runs` wall times of fn, in ms (the best, since a shared machine's scheduling only adds time). */
function best(fn: () => unknown, runs = 9): number {
  let min = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const REAL_HOST = '(\\d+\\.\\d+\\.\\d+\\.\\d+|[A-Za-z0-9.-]+|\\[[0-9A-fa-f:]+\\])';
const REAL_LINE = new RegExp(`${REAL_HOST}(->${REAL_HOST})?(:(\\d+|[A-Za-z0-9_-]+))?\\s+(.*)`, 's');

interface LineRow {
  line: string;
  regexMs: number;
  scanMs: number;
  parseMs: number;
}

function lines(): LineRow[] {
  const blanks = ' '.repeat(4000);
  const word = 'a-'.repeat(2000);
  const cases: { line: string; regex: () => unknown; scan: () => unknown; file: string }[] = [
    {
      line: 'real= flags + 4,000 trailing blanks',
      regex: () => ` gate${blanks}`.match(/\s+(\d+)(.*)/s),
      scan: () => afterBlanks(` gate${blanks}`, /(\d+)/y),
      file: `virtual=198.18.0.1:80\n\treal=198.18.0.2:80 gate${blanks}\n`,
    },
    {
      line: 'real= address: a 4,000-character word that is none',
      regex: () => word.match(REAL_LINE),
      scan: () => matchRealLine(word),
      file: `virtual=198.18.0.1:80\n\treal=${word}\n`,
    },
    {
      line: 'emailalertstatus= + 4,000 trailing blanks',
      regex: () => `all${blanks}`.split(/\s*,\s*/),
      scan: () => splitCommaList(`all${blanks}`),
      file: `virtual=198.18.0.1:80\n\temailalertstatus=all${blanks}\n`,
    },
  ];
  return cases.map((c) => ({
    line: c.line,
    regexMs: best(c.regex),
    scanMs: best(c.scan),
    parseMs: best(() => {
      try {
        parseLdirectordConfig(c.file, 'bench.cf', { hostname: 'bench' });
      } catch {
        /* refused: timed all the same */
      }
    }),
  }));
}

function corpus(): { file: string; lines: number; ms: number }[] {
  const dir = process.env.AAVIP_LDIRECTORD_CORPUS ?? resolve(PACKAGE_ROOT, '..', 'shared', 'corpus', 'ldirectord');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cf'))
    .sort()
    .map((f) => {
      const text = readFileSync(join(dir, f), 'utf8');
      return {
        file: f,
        lines: text.split('\n').length,
        ms: best(() => {
          try {
            parseLdirectordConfig(text, f, { hostname: 'bench' });
          } catch {
            /* refused */
          }
        }),
      };
    });
}

/** Wall time of `work` and the longest gap between turns of a 1 ms interval meanwhile. */
async function heldLoop(work: () => unknown): Promise<{ ms: number; longestStallMs: number }> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 5));
  clearInterval(tick);
  longest = Math.max(longest, performance.now() - last);
  return { ms, longestStallMs: longest };
}

async function names(count: number) {
  const seen = new Set<string>();
  for (const l of readFileSync('/etc/services', 'utf8').split('\n')) {
    const m = l.match(/^([A-Za-z0-9_-]+)\s+\d+\/tcp/);
    if (m && !/^\d+$/.test(m[1])) seen.add(m[1]);
  }
  const list = [...seen].slice(0, count);
  const dir = mkdtempSync(join(tmpdir(), 'aavip-bench-ld-'));
  try {
    const file = join(dir, 'names.cf');
    writeFileSync(file, `virtual=198.18.0.1:80\n${list.map((s, k) => `\treal=198.18.${1 + (k >> 8)}.${k & 255}:${s} masq`).join('\n')}\n`);
    // The machine's own jitter for comparison: the same measurement while the loop has nothing to do.
    const idle = await heldLoop(() => new Promise((r) => setTimeout(r, 1000)));
    const blocking = await heldLoop(() => loadLdirectordConfigSync(file));
    const asynchronous = await heldLoop(() => loadLdirectordConfig(file));
    return { names: list.length, idle, blocking, asynchronous };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const result = { lines: lines(), corpus: corpus(), names: await names(Number(arg('names') ?? 218)) };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const f = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
    for (const r of result.lines) process.stdout.write(`${r.line}: regex ${f(r.regexMs)}, linear search ${f(r.scanMs)}, whole parse ${f(r.parseMs)}\n`);
    const total = result.corpus.reduce((t, c) => t + c.ms, 0);
    if (result.corpus.length)
      process.stdout.write(
        `corpus: ${result.corpus.length} files, ${result.corpus.reduce((t, c) => t + c.lines, 0)} lines, ${f(total)} in all (slowest ${f(Math.max(...result.corpus.map((c) => c.ms)))})\n`,
      );
    const n = result.names;
    process.stdout.write(
      `${n.names} port names: blocking loader ${f(n.blocking.ms)} (event loop held up to ${f(n.blocking.longestStallMs)}), async loader ${f(n.asynchronous.ms)} (held up to ${f(n.asynchronous.longestStallMs)}; idle for 1 s: up to ${f(n.idle.longestStallMs)})\n`,
    );
  }
}
