// Debian's ldirectord as a parser oracle: `ldirectord FILE status` parses the file first and exits
// 2 with `Error [...] reading file F at line N: MESSAGE` on a broken one. Shared by the
// differential test (generated files) and the corpus test (real-world files, read in place).
import { execFile } from 'node:child_process';
import { InputError } from '../../src/errors.js';
import { parseLdirectordConfig, type ParseOptions } from '../../src/lvs/config/parse.js';

export const LDIRECTORD = '/usr/sbin/ldirectord';

export interface Outcome {
  ok: boolean;
  line?: number;
  message?: string;
}

/** aavip's reading of `text` (as file `file`). */
export function aavipOutcome(file: string, text: string, options: ParseOptions): Outcome {
  try {
    parseLdirectordConfig(text, file, options);
    return { ok: true };
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    return { ok: false, line: e.where.line, message: e.message };
  }
}

/** ldirectord's verdict from its exit code and stderr. */
export function readOutcome(code: number, stderr: string): Outcome {
  const m = stderr.match(/Error \[\d+\] reading file \S+ at line (\d+): ([\s\S]*)$/);
  // Its messages end with the raw line's newline (and a space after a global line's).
  return { ok: code !== 2, line: m ? Number(m[1]) : undefined, message: m?.[2].replace(/\n ?\n?$/, '').replace(/\n"$/, '"') };
}

/** `ldirectord FILE status`, run as `argv` prefixes it (e.g. in private namespaces). */
export function ldirectordOutcome(file: string, argv: string[] = []): Promise<Outcome> {
  const [cmd, ...args] = [...argv, LDIRECTORD, file, 'status'];
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      resolve(readOutcome(err ? ((err as { code?: number }).code ?? 1) : 0, stderr));
    }),
  );
}

/** The same verdict: both accept, or both refuse at the same line with the same message. */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  const trim = (o: Outcome) => (o.message?.startsWith('Unknown command') ? o.message.trimEnd() : o.message);
  return a.ok === b.ok && (a.ok || (a.line === b.line && trim(a) === trim(b)));
}

/** Why the two may differ (a documented difference: README, ldirectord's bugs), or undefined. */
export function knownDifference(text: string, a: Outcome, b: Outcome): string | undefined {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (a.ok && b.message === 'duplicate virtual server' && /^virtual6?\s*=/.test(lines.at(-1) ?? '') && b.line === lines.length)
    return 'virtual= on the last line';
  if (!a.ok && !b.ok && a.message?.startsWith('duplicate virtual server') && b.message === 'duplicate virtual server')
    return 'duplicate reported at its own line';
  if (/\n[ \t]*\n[ \t]/.test(text)) return 'blank line inside a section';
  if (text.includes('\r')) return 'CR';
  if (/"[^"\n]*#[^"\n]*"/.test(text)) return '# inside quotes';
  return undefined;
}
