// `aavip vip apply --help` (and the other vip commands) show every default an option has, as
// the real CLI prints them (issue 12 item 9: the help hid the hashmode, bucket count and lease).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { VIP_DEFAULTS } from '../../src/dataplane/vipspec.js';

const help = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['dist/src/cli/main.js', ...args, '--help'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
};

/** Each option's help entry (its wrapped lines joined), by its long name. */
function entries(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.slice(text.indexOf('Options:')).split('\n').slice(1)) {
    const start = line.match(/^ {2}(?:-\w, )?(--[\w-]+)/);
    if (start) out.set((current = start[1]), line.trim());
    else if (current && line.trim()) out.set(current, `${out.get(current)} ${line.trim()}`);
  }
  return out;
}

/** Options with no default to show: required ones, and flags. */
const NO_DEFAULT = new Set(['--ip', '--nic', '--help', '--keep', '--json']);

describe('aavip vip help', () => {
  for (const cmd of [
    ['vip', 'apply'],
    ['vip', 'renew'],
    ['vip', 'bucket', 'add'],
    ['vip', 'status'],
  ]) {
    it(`${cmd.join(' ')} shows a default for every option that has one`, () => {
      const options = entries(help(...cmd));
      expect(options.size).toBeGreaterThan(5);
      for (const [name, entry] of options) {
        if (NO_DEFAULT.has(name)) continue;
        expect(entry, name).toMatch(/\(default: [^)]/);
        // An empty string is not a default a reader can act on.
        expect(entry, name).not.toContain('(default: "")');
      }
    });
  }

  it('vip apply names the hashmode, every backend’s bucket count and the lease it uses when none is given', () => {
    const o = entries(help('vip', 'apply'));
    expect(o.get('--hashmode')).toContain(`(default: "${VIP_DEFAULTS.hashmode}")`);
    for (const [backend, n] of Object.entries(VIP_DEFAULTS.buckets)) expect(o.get('--buckets')).toContain(`${n} for ${backend}`);
    expect(o.get('--lease')).toMatch(/\(default: none: they never lapse\)/);
    expect(o.get('--own')).toContain('(default: none)');
  });
});
