// The VM lab's own contract (src/lab/vm.ts): what a script inside sees and what comes back out,
// and that a run that overstays is stopped with nothing left behind.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInVm, VmError, type VmRunResult } from '../../src/lab/vm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

const hostDir = mkdtempSync(join(tmpdir(), 'aavip-vmtest-'));
const vmFolders = () => readdirSync(tmpdir()).filter((f) => f.startsWith('aavip-vm-'));
const log = (m: string) => process.stderr.write(`[vm] ${m}\n`);
let r: VmRunResult;
let foldersBefore: string[];

const SCRIPT = `
echo "out:$GREETING"
echo "err line" >&2
cd "$AAVIP_RESULTS"
uname -r > uname
cat "$OLDPWD/input.txt" > seen-input
echo "$OLDPWD" > pwd
env | cut -d= -f1 | sort > env
if touch /usr/aavip-vmtest 2>/dev/null; then echo writable; else echo read-only; fi > host-root
touch /tmp/scratch && ls -A /tmp > tmp
cut -d' ' -f1 /proc/modules | grep -xE 'ipt_CLUSTERIP|xt_cluster|ip_vs|ip_vs_wrr|nf_tables|nft_hash|veth|bridge|arpt_mangle' | sort > modules
ip -o link | cut -d: -f2 | tr -d ' ' > links
exit 7
`;

beforeAll(async () => {
  foldersBefore = vmFolders();
  writeFileSync(join(hostDir, 'input.txt'), 'from the host\n');
  r = await runInVm({ script: SCRIPT, cwd: hostDir, env: { GREETING: `it's "quoted" $HOME` }, timeoutMs: 600_000, log });
}, 900_000);

afterAll(() => {
  rmSync(hostDir, { recursive: true, force: true });
  rmSync('/usr/aavip-vmtest', { force: true }); // only there if the read-only check failed
});

describe('runInVm', () => {
  it("returns the script's exit status, stdout and stderr separately, and boot and run times", () => {
    expect(r.exitCode).toBe(7);
    expect(r.stdout).toBe(`out:it's "quoted" $HOME\n`);
    expect(r.stderr).toBe('err line\n');
    expect(r.bootMs).toBeGreaterThan(0);
    expect(r.runMs).toBeGreaterThan(0);
  });

  it("runs Debian's 6.1 kernel with the lab's modules loaded, and no network device but lo", () => {
    expect(r.files.uname).toMatch(/^6\.1\.\d+-\d+-amd64\n$/);
    expect(r.files.modules.trim().split('\n')).toEqual([
      'arpt_mangle',
      'bridge',
      'ip_vs',
      'ip_vs_wrr',
      'ipt_CLUSTERIP',
      'nf_tables',
      'nft_hash',
      'veth',
      'xt_cluster',
    ]);
    expect(r.files.links.trim()).toBe('lo');
  });

  it("shows the host's root read-only, gives the guest its own /tmp, and still shows the working folder under the host's /tmp", () => {
    expect(r.files['host-root'].trim()).toBe('read-only');
    // The guest's /tmp holds its own scratch file, and the working folder shared again at its host
    // path (and the package's folder, when the checkout itself lives under /tmp, as in CI).
    const underTmp = [hostDir, PACKAGE_ROOT].filter((p) => p.startsWith('/tmp/')).map((p) => p.split('/')[2]);
    expect(r.files.tmp.trim().split('\n').sort()).toEqual([...new Set([...underTmp, 'scratch'])].sort());
    expect(underTmp).toContain(basename(hostDir));
    expect(r.files.pwd.trim()).toBe(hostDir);
    expect(r.files['seen-input']).toBe('from the host\n');
  });

  it('passes only a controlled environment', () => {
    const names = r.files.env.trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['AAVIP_IN_VM', 'AAVIP_RESULTS', 'GREETING', 'HOME', 'PATH', 'TMPDIR']));
    expect(names.filter((n) => !['AAVIP_IN_VM', 'AAVIP_RESULTS', 'GREETING', 'HOME', 'PATH', 'TMPDIR', 'LANG', 'PWD', 'OLDPWD'].includes(n))).toEqual([]);
  });

  it('removes its results folder afterwards', () => {
    expect(vmFolders().filter((f) => !foldersBefore.includes(f))).toEqual([]);
  });

  it('stops a run that overstays its timeout: a VmError, the qemu process gone, the folder removed', async () => {
    const messages: string[] = [];
    const before = vmFolders();
    const err = await runInVm({
      script: 'sleep 600\n',
      timeoutMs: 45_000,
      log: (m) => {
        messages.push(m);
        log(m);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmError);
    expect((err as VmError).kind).toBe('timeout');
    const pid = Number(messages.join('\n').match(/pid (\d+)/)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(vmFolders().filter((f) => !before.includes(f))).toEqual([]);
  }, 600_000);

  it('names the Debian package when qemu is missing', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(runInVm({ script: 'true\n' })).rejects.toThrow(/qemu-system-x86_64 is missing: apt-get install qemu-system-x86/);
    } finally {
      process.env.PATH = path;
    }
  });
});
