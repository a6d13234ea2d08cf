// The file system as ldirectord consults it while reading its configuration: where the file is,
// and whether logfile/monitorfile can be written and maintenancedir exists. Checked without
// creating anything (ldirectord creates the files; `aavip ldirectord check` must not).
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';

export interface FileChecks {
  /** Why `path` could not be opened for appending, or undefined if it could. */
  appendError(path: string): string | undefined;
  isDirectory(path: string): boolean;
}

const isFile = (path: string) => {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

export const systemFileChecks: FileChecks = {
  appendError(path) {
    try {
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isDirectory()) return 'Is a directory';
      accessSync(st ? path : dirname(path), constants.W_OK);
      if (!st && !statSync(dirname(path)).isDirectory()) return 'Not a directory';
      return undefined;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'Permission denied' : (code ?? String(e));
    }
  },
  isDirectory(path) {
    try {
      return statSync(path).isDirectory();
    } catch {
      return false;
    }
  },
};

export const DEFAULT_CONFIG_NAME = 'ldirectord.cf';

/**
 * ldirectord's lookup of its configuration: a relative name is looked for in /etc/ha.d, then in
 * /etc/ha.d/conf, then taken as given (relative to the working directory). An absolute path is
 * taken as given. Returns the path to read (which may not exist).
 */
export function resolveConfigPath(name: string, etc = '/etc/ha.d'): string {
  if (!isAbsolute(name)) {
    for (const dir of [etc, `${etc}/conf`]) if (isFile(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}
