// A command line in cluster.yaml (a tracked check's `command`, a notify hook's): a string split
// on blanks or a list of arguments, run without a shell, its program found when the file is read
// so a missing one is reported at its line rather than failing at run time.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The argv, its program resolved to a path; or why not. */
export function parseCommandLine(v: unknown): { argv: string[] } | { error: string } {
  const argv = Array.isArray(v) ? v : typeof v === 'string' ? v.trim().split(/\s+/) : [];
  if (!argv.length || !argv.every((a) => typeof a === 'string' && a.length))
    return { error: 'must be a command line (run without a shell) or a list of arguments' };
  const found = findExecutable(argv[0]);
  if (!found) return { error: `'${argv[0]}' is not an executable file${isAbsolute(argv[0]) ? '' : ' on PATH'}` };
  return { argv: [found, ...argv.slice(1)] };
}

/** The command's path if it names an executable file (absolute, relative, or found on PATH). */
export function findExecutable(cmd: string): string | undefined {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).map((d) => join(d, cmd));
  for (const p of candidates) {
    try {
      if (statSync(p).isFile()) {
        accessSync(p, constants.X_OK);
        return p;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}
