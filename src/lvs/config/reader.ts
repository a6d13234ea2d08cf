// The line structure of ldirectord.cf: column-0 global lines, and sections opened by
// `virtual=`/`virtual6=` whose lines are indented by 4+ columns (a tab counts 4). The parts:
// global-directives.ts, section.ts (open, resolve, close), section-directives.ts, real.ts.
import { MAX_LINE_LENGTH, ParseContext, type ParseOptions } from './context.js';
import { defaultGlobals, globalDirective } from './global-directives.js';
import { virtualId, type LdirectordConfig } from './model.js';
import { closeSection, openSection, type OpenSection, type VirtualList } from './section.js';
import { sectionDirective } from './section-directives.js';
import { stripComment } from './values.js';

/** The file's lines, CR of CRLF line ends removed (ldirectord kept it: difference 10 in parse.ts). */
function splitLines(text: string): string[] {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

const isBlankOrComment = (raw: string) => /^\s*$/.test(raw) || /^\s*#/.test(raw);

/**
 * A section's body, from line index `i`: every following line indented by 4+ columns, comment and
 * blank lines skipped; the first other line ends it (and is read again as a global line).
 * Returns the index of that line.
 */
function readSectionBody(ctx: ParseContext, section: OpenSection, lines: string[], i: number): number {
  for (; i < lines.length; i++) {
    const body = lines[i];
    if (/^\s*#/.test(body)) continue;
    const text = stripComment(body).replace(/\t/g, '    ');
    if (/^\s*$/.test(text)) continue;
    if (text.length > MAX_LINE_LENGTH) ctx.fail(i + 1, `line longer than ${MAX_LINE_LENGTH} characters`);
    const m = text.match(/^ {4,}(.+)$/s);
    if (!m) break;
    sectionDirective(ctx, section, m[1], body, i + 1);
  }
  return i;
}

export function parseLdirectordConfig(text: string, file: string, options: ParseOptions = {}): LdirectordConfig {
  const ctx = new ParseContext(file, options);
  const lines = splitLines(text);
  const globals = defaultGlobals();
  const list: VirtualList = { virtuals: [], seen: new Map(), checkintervalLines: new Map() };
  let i = 0;
  while (i < lines.length) {
    const raw = lines[i];
    const line = ++i;
    if (isBlankOrComment(raw)) continue;
    if (raw.length > MAX_LINE_LENGTH) ctx.fail(line, `line longer than ${MAX_LINE_LENGTH} characters`);
    const open = raw.match(/^virtual(6)?\s*=\s*(.*)$/s);
    if (!open) {
      globalDirective(ctx, globals, raw, line);
      continue;
    }
    const section = openSection(ctx, open[1] !== undefined, open[2], line);
    i = readSectionBody(ctx, section, lines, i);
    closeSection(ctx, list, section);
  }
  if (!globals.fork) {
    for (const [v, line] of list.checkintervalLines) ctx.warn(line, `checkinterval in virtual service ${virtualId(v)} ignored when fork=no`);
  }
  return { file, globals, virtualServices: list.virtuals, warnings: ctx.warnings };
}
