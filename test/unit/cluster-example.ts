// The shipped conf/cluster.yaml for the loader's tests: with a key file of its own (mode 0600) in
// place of /etc/aavip/authkey, a section added before `vips:`, and its mistakes as text.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterConfig } from '../../src/config/cluster.js';
import { InputError, InputErrors } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-example-'));
export const exampleKey = join(dir, 'authkey');
writeFileSync(exampleKey, 'k'.repeat(32));
chmodSync(exampleKey, 0o600);

export const example = readFileSync(join(import.meta.dirname, '..', '..', 'conf', 'cluster.yaml'), 'utf8').replace(
  'authkey: /etc/aavip/authkey',
  `authkey: ${exampleKey}`,
);

/** The example with a top-level section (`track`, `notify`) whose items are `body`. */
export const withSection = (section: string, body: string, text = example) => text.replace(/^vips:/m, `${section}:\n${body}\nvips:`);

/** Every mistake parseClusterConfig reports for `text`, as `file:line: field: message`. */
export function errorsOf(text: string, local = 'lb1'): string[] {
  try {
    parseClusterConfig(text, 'c.yaml', { local });
  } catch (e) {
    if (e instanceof InputErrors) return e.errors.map((x) => x.describe());
    if (e instanceof InputError) return [e.describe()];
    throw e;
  }
  return [];
}
