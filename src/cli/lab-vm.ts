// `aavip lab vm -- CMD`: run a command as root inside Debian's 6.1 kernel (CLUSTERIP, IPVS) under qemu.
import type { Command } from 'commander';
import { runInVm } from '../lab/vm.js';
import { positiveInt } from './options.js';

const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export function register(lab: Command): void {
  lab.command('vm')
    .description("run CMD as root in a VM with Debian's 6.1 kernel (real CLUSTERIP and IPVS), the host's filesystem shared read-only; exits with CMD's status")
    .argument('<cmd...>', 'the command (put it after --)')
    .option('--timeout <s>', 'give up after this many seconds', positiveInt, 600)
    .option('--mem <mb>', 'guest memory in MiB', positiveInt, 1024)
    .option('--json', 'print {exitCode, stdout, stderr, bootMs, runMs} instead of passing the output through')
    .action(async (cmd: string[], o: { timeout: number; mem: number; json?: boolean }) => {
      const r = await runInVm({
        script: `cd ${quote(process.cwd())}\n${cmd.map(quote).join(' ')}\n`, timeoutMs: o.timeout * 1000, memoryMb: o.mem,
        log: (m) => { if (!o.json) process.stderr.write(`aavip lab vm: ${m}\n`); },
      });
      if (o.json) process.stdout.write(JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, bootMs: r.bootMs, runMs: r.runMs }) + '\n');
      else { process.stdout.write(r.stdout); process.stderr.write(r.stderr); }
      process.exitCode = r.exitCode;
    });
}
