// Where the built program lives, whether this module runs from dist/ or (in tests) from src/:
// labs start real `aavip` processes in namespaces, and those always run the built JavaScript.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the aavip package root');
}

export const PACKAGE_ROOT = findRoot();

/** A file of the built program, e.g. built('cli/main.js') → <root>/dist/src/cli/main.js. */
export const built = (rel: string) => join(PACKAGE_ROOT, 'dist', 'src', rel);

/** Where aavip keeps its runtime files (control sockets, locks, lab state): one definition. */
export const runDir = (): string => process.env.AAVIP_RUN_DIR ?? '/run/aavip';
