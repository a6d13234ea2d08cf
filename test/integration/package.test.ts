// The Debian package for real: `npm run package` builds it from this checkout, dpkg installs it,
// the installed aavip runs (--version, the namespace demo, an OCF agent) where the checkout cannot
// be seen, and dpkg removes and purges it with nothing of it left behind. Whatever the package's
// paths held before (agents other tests installed by hand, lab state in /var/lib/aavip) is put
// back afterwards, failure or not.
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/paths.js';

const PKG = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string; devDependencies: Record<string, string> };
const STATE_DIR = '/var/lib/aavip';
const work = mkdtempSync(join(tmpdir(), 'aavip-pkg-'));
const backup = join(work, 'before.tar');

/** Runs a command, bounded; throws with its output unless it exits 0. */
function run(cmd: string, args: string[], o: { cwd?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { cwd: o.cwd ?? '/', encoding: 'utf8', timeout: o.timeoutMs ?? 60_000, input: '' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error ?? `exit ${r.status} ${r.signal ?? ''}`}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** dpkg's word on aavip: '' when it knows no such package. */
const dpkgStatus = () => spawnSync('dpkg-query', ['-W', '-f=${Status}', 'aavip'], { encoding: 'utf8' }).stdout.trim();

// The checkout, and where its node_modules really are, covered by empty tmpfs mounts.
// (node_modules inside the checkout is covered with it: its own mount point is gone under the tmpfs.)
const MODULES = realpathSync(join(PACKAGE_ROOT, 'node_modules'));
const HIDDEN = MODULES.startsWith(`${PACKAGE_ROOT}/`) ? [PACKAGE_ROOT] : [PACKAGE_ROOT, MODULES];

/** A command run from / with a bare environment, in a mount namespace where the checkout is empty. */
function installed(args: string[], timeoutMs = 30_000): SpawnSyncReturns<string> {
  const script = [
    'set -e',
    ...HIDDEN.map((d) => `mount -t tmpfs -o size=1m aavip-hidden '${d}'; [ ! -e '${d}/package.json' ]`),
    'cd /',
    'exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"',
  ].join('\n');
  return spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...args], { encoding: 'utf8', timeout: timeoutMs, input: '' });
}

let deb = '';
let ours = false; // whether this test installed aavip (and so may remove it)
let restored = true;

/** Saves what the package's files and the state directory hold now, to put back afterwards. */
function saveWhatIsThere(paths: string[]): void {
  const present = [...paths, STATE_DIR].filter((p) => existsSync(p) && (p === STATE_DIR || !statSync(p).isDirectory()));
  writeFileSync(join(work, 'before.list'), present.map((p) => p.slice(1)).join('\n'));
  run('tar', ['-C', '/', '-cpf', backup, '--files-from', join(work, 'before.list')]);
  restored = false;
}

function putBack(): void {
  if (restored) return;
  run('tar', ['-C', '/', '-xpf', backup]);
  restored = true;
}

beforeAll(() => {
  const status = dpkgStatus();
  if (status) throw new Error(`a package named aavip is already here (${status}): this test installs and purges its own; remove it first (dpkg --purge aavip)`);
  const out = run('npm', ['run', '--silent', 'package'], { cwd: PACKAGE_ROOT, timeoutMs: 240_000 });
  deb = join(PACKAGE_ROOT, out.trim().split('\n').at(-1) ?? '');
}, 300_000);

afterAll(() => {
  try {
    if (ours && dpkgStatus()) run('dpkg', ['--purge', 'aavip'], { timeoutMs: 120_000 });
  } finally {
    putBack();
    rmSync(work, { recursive: true, force: true });
  }
}, 180_000);

/** The package's files as dpkg-deb lists them, as absolute paths. */
const contents = () =>
  run('dpkg-deb', ['--contents', deb])
    .trim()
    .split('\n')
    .map((l) => l.split(/\s+/).slice(5).join(' ').split(' -> ')[0].replace(/^\./, '').replace(/\/$/, '') || '/');

describe('the Debian package', () => {
  it('is named, versioned and depends as this checkout says', () => {
    const field = (f: string) => run('dpkg-deb', ['--field', deb, f]).trim();
    expect(field('Package')).toBe('aavip');
    expect(field('Version')).toBe(`${PKG.version}-1`);
    expect(field('Architecture')).toBe(run('dpkg', ['--print-architecture']).trim());
    const depends = field('Depends').split(/,\s*/);
    for (const d of ['nftables', 'iproute2', 'kmod']) expect(depends).toContain(d);
    expect(depends.some((d) => d.startsWith('nodejs (>= '))).toBe(true);
    // dpkg-shlibdeps found the library the native addon links for in-process nft transactions.
    expect(depends.some((d) => d.startsWith('libnftables1'))).toBe(true);
    expect(run('dpkg-deb', ['--info', deb, 'conffiles']).trim()).toBe('/etc/aavip/cluster.yaml');
  });

  it('holds the program with its production modules only, the agents, the unit, the configuration and the man page', () => {
    const files = contents();
    for (const p of [
      '/usr/bin/aavip',
      '/usr/lib/aavip/package.json',
      '/usr/lib/aavip/dist/src/cli/main.js',
      '/usr/lib/aavip/native/build/Release/aavip_native.node',
      '/usr/lib/aavip/node_modules/commander/package.json',
      '/usr/lib/ocf/resource.d/aavip/vip',
      '/usr/lib/ocf/resource.d/aavip/ldirectord',
      '/lib/systemd/system/aavip.service',
      '/etc/aavip/cluster.yaml',
      '/usr/share/man/man1/aavip.1.gz',
      '/usr/share/doc/aavip/copyright',
      '/usr/share/doc/aavip/changelog.Debian.gz',
      '/usr/share/doc/aavip/examples/pacemaker-crm.txt',
    ])
      expect(files).toContain(p);
    for (const dev of Object.keys(PKG.devDependencies)) expect(files.filter((f) => f.includes(`/node_modules/${dev}/`))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') || f.endsWith('.map'))).toEqual([]);
    // Nothing installed points back at this checkout (the agents, the wrapper, the unit...).
    const tree = join(work, 'tree');
    run('dpkg-deb', ['-x', deb, tree]);
    const mentions = spawnSync('grep', ['-rlF', PACKAGE_ROOT, tree], { encoding: 'utf8', timeout: 30_000 });
    expect(mentions.stdout).toBe('');
  });

  it('has a man page with every command --help lists, and no lintian error', () => {
    const help = run(process.execPath, [join(PACKAGE_ROOT, 'dist/src/cli/main.js'), '--help']);
    const commands = [...help.split('Commands:')[1].matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]).filter((c) => c !== 'help');
    expect(commands.length).toBeGreaterThan(5);
    const page = run('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -xOf - ./usr/share/man/man1/aavip.1.gz | gzip -dc`]);
    for (const c of commands) expect(page).toMatch(new RegExp(`^\\.SS "aavip ${c}[ "]`, 'm'));
    const lintian = spawnSync('lintian', ['--tag-display-limit', '0', deb], { encoding: 'utf8', timeout: 120_000 });
    expect(lintian.error).toBeUndefined();
    expect(lintian.stdout.split('\n').filter((l) => l.startsWith('E:'))).toEqual([]);
  }, 180_000);

  it('installs, and runs from the installed files where the checkout cannot be seen', () => {
    saveWhatIsThere(contents());
    ours = true;
    // --force-confnew: a cluster.yaml left by someone else is saved above and put back after.
    run('dpkg', ['--force-confnew', '-i', deb], { timeoutMs: 120_000 });
    expect(dpkgStatus()).toBe('install ok installed');
    expect(run('dpkg', ['--verify', 'aavip'])).toBe('');

    const version = installed(['aavip', '--version']);
    expect(version.stderr).toBe('');
    expect(version.stdout.trim()).toBe(PKG.version);

    const demo = installed(['aavip', 'lab', 'demo', '--json', '--connections', '300', '--prefix', 'aavpkg'], 180_000);
    expect(demo.status, demo.stderr).toBe(0);
    const result = JSON.parse(demo.stdout) as { connections: number; failed: number; mispredicted: number; perNode: Record<string, number> };
    expect(result).toMatchObject({ connections: 300, failed: 0, mispredicted: 0 });
    expect(Object.keys(result.perNode).sort()).toEqual(['node1', 'node2', 'node3']);
    expect(run('ip', ['netns', 'list'])).not.toMatch(/^aavpkg-/m);

    const meta = installed(['/usr/lib/ocf/resource.d/aavip/vip', 'meta-data']);
    expect(meta.status, meta.stderr).toBe(0);
    expect(meta.stdout).toContain('<resource-agent name="vip"');
    const execStart = /^ExecStart=(\S+)/m.exec(readFileSync('/lib/systemd/system/aavip.service', 'utf8'))?.[1] ?? '';
    expect(statSync(execStart).mode & 0o111).not.toBe(0);
  }, 300_000);

  it('is removed leaving only its conffile, and purged leaving nothing', () => {
    expect(dpkgStatus()).toBe('install ok installed');
    const listed = run('dpkg', ['-L', 'aavip'])
      .trim()
      .split('\n')
      .filter((p) => p !== '/.');
    const conffiles = run('dpkg-query', ['-W', '-f=${Conffiles}', 'aavip'])
      .trim()
      .split('\n')
      .map((l) => l.trim().split(' ')[0]);
    // State a daemon keeps, which purge must take away.
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(join(STATE_DIR, 'pkgtest-node1.incarnation'), '1');

    run('dpkg', ['-r', 'aavip'], { timeoutMs: 120_000 });
    expect(dpkgStatus()).toBe('deinstall ok config-files');
    const leftFiles = () => listed.filter((p) => existsSync(p) && !statSync(p).isDirectory());
    expect(leftFiles()).toEqual(conffiles);

    run('dpkg', ['--purge', 'aavip'], { timeoutMs: 120_000 });
    expect(dpkgStatus()).toBe('');
    expect(leftFiles()).toEqual([]);
    expect(existsSync(STATE_DIR)).toBe(false);
    // A directory that stays is another package's too (/usr/bin, /lib/systemd/system...).
    const unowned = listed.filter((p) => existsSync(p) && spawnSync('dpkg-query', ['-S', p]).status !== 0);
    expect(unowned).toEqual([]);
    putBack();
  }, 300_000);
});
