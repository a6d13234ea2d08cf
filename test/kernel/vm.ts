// Runs a scenario script (test/kernel/scenarios/) inside the 6.1 VM and returns what it wrote.
import { runInVm, type VmRunResult } from '../../src/lab/vm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

export async function runScenario(name: string, env: Record<string, string> = {}, timeoutMs = 900_000): Promise<VmRunResult> {
  const r = await runInVm({
    script: `node ${PACKAGE_ROOT}/test/kernel/scenarios/${name}\n`,
    env: { AAVIP_ROOT: PACKAGE_ROOT, ...env },
    timeoutMs,
    log: (m) => process.stderr.write(`[vm] ${m}\n`),
  });
  if (r.exitCode !== 0) throw new Error(`scenario ${name} exited ${r.exitCode}\n${r.stderr.slice(-4000)}`);
  return r;
}
