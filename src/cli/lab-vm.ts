// `aavip lab vm -- CMD`: run a command as root inside Debian's 6.1 kernel (CLUSTERIP, IPVS) under qemu.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { runInVm, VmError } from '../lab/vm.js';
import { positiveInt } from './options.js';

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Exit statuses of the lab itself, as `timeout` and container runners use them. */
export const EXIT_TIMEOUT = 124;
export const EXIT_LAB_FAILED = 125;

/**
 * Host folders the command names (a file's folder, or the folder itself). The guest has its own /tmp
 * and /run, so such folders under them are shared again; a file directly in /tmp or /run cannot be.
 */
function namedFolders(cmd: string[], log: (m: string) => void): string[] {
  const folders: string[] = [];
  for (const arg of cmd) {
    const path = resolve(arg);
    if (!/^\/(tmp|run)\//.test(path) || !existsSync(path)) continue;
    const folder = statSync(path).isDirectory() ? path : dirname(path);
    if (/^\/(tmp|run)$/.test(folder)) log(`warning: ${arg} is not visible in the VM (it has its own /tmp and /run): move it into a folder`);
    else folders.push(folder);
  }
  return folders;
}

export function register(lab: Command): void {
  lab
    .command('vm')
    .description(
      "run CMD as root in a VM with Debian's 6.1 kernel (real CLUSTERIP, xt_cluster, IPVS) and the host's " +
        "filesystem shared read-only (with tmpfs on /tmp and /run); a writable folder is $AAVIP_RESULTS (/mnt). Exits with CMD's " +
        `status, ${EXIT_TIMEOUT} on timeout, ${EXIT_LAB_FAILED} when the VM cannot run`,
    )
    .argument('<cmd...>', 'the command and its arguments (put them after --)')
    .option('--timeout <s>', 'stop the VM after this many seconds', positiveInt, 600)
    .option('--mem <mb>', 'guest memory in MiB', positiveInt, 1024)
    .option('--module <name...>', 'also load these kernel modules')
    .option('--results <dir>', 'copy the files CMD wrote to $AAVIP_RESULTS into this folder')
    .option('--json', 'print {exitCode, stdout, stderr, bootMs, runMs} instead of passing the output through')
    .option('-q, --quiet', 'no progress messages')
    .action(async (cmd: string[], o: { timeout: number; mem: number; module?: string[]; results?: string; json?: boolean; quiet?: boolean }) => {
      const progress = !o.json && !o.quiet;
      const log = (m: string) => {
        if (progress) process.stderr.write(`aavip lab vm: ${m}\n`);
      };
      try {
        const r = await runInVm({
          script: `${cmd.map(quote).join(' ')}\n`,
          cwd: process.cwd(),
          timeoutMs: o.timeout * 1000,
          memoryMb: o.mem,
          modules: o.module,
          saveFilesTo: o.results,
          keepVisible: namedFolders(cmd, log),
          log,
          onStdout: o.json ? undefined : (c) => process.stdout.write(c),
          onStderr: o.json ? undefined : (c) => process.stderr.write(c),
        });
        if (o.json) process.stdout.write(JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, bootMs: r.bootMs, runMs: r.runMs }) + '\n');
        else if (progress)
          process.stderr.write(`aavip lab vm: exit ${r.exitCode}; boot ${(r.bootMs / 1000).toFixed(1)} s, run ${(r.runMs / 1000).toFixed(1)} s\n`);
        process.exitCode = r.exitCode;
      } catch (e) {
        if (!(e instanceof VmError)) throw e;
        process.stderr.write(`aavip lab vm: ${e.message}\n`);
        process.exitCode = e.kind === 'timeout' ? EXIT_TIMEOUT : EXIT_LAB_FAILED;
      }
    });
}
