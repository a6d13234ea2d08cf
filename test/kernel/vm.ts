// Helpers for kernel tests: boot the 6.1 VM once per test file and run a whole scenario in it. A
// scenario is a node script in test/kernel/scenarios/ that imports the built aavip (dist/) through
// $AAVIP_ROOT, does its work in namespaces inside the VM, and writes its findings as files to
// $AAVIP_RESULTS; the vitest file on the host asserts on them.
import { runInVm, type VmRunResult } from '../../src/lab/vm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

export interface ScenarioOptions {
  /** Extra environment for the scenario. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Files the scenario finds in $AAVIP_RESULTS (name → content). */
  files?: Record<string, string>;
  /** Kernel modules to load besides the lab's usual set. */
  modules?: string[];
}

/** The guest's stderr, line by line, prefixed — so a long scenario shows progress. */
function lineWriter(prefix: string): (chunk: string) => void {
  let partial = '';
  return (chunk) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop()!;
    for (const l of lines) process.stderr.write(`${prefix} ${l}\n`);
  };
}

/** Runs test/kernel/scenarios/<name> with node inside the VM; throws (with its stderr) if it exits non-zero. */
export async function runScenario(name: string, o: ScenarioOptions = {}): Promise<VmRunResult> {
  const r = await runInVm({
    script: `exec node ${PACKAGE_ROOT}/test/kernel/scenarios/${name}\n`,
    env: { AAVIP_ROOT: PACKAGE_ROOT, ...o.env },
    files: o.files,
    modules: o.modules,
    timeoutMs: o.timeoutMs ?? 900_000,
    log: (m) => process.stderr.write(`[vm] ${m}\n`),
    onStderr: lineWriter(`[vm ${name}]`),
  });
  process.stderr.write(`[vm] ${name}: exit ${r.exitCode}, boot ${(r.bootMs / 1000).toFixed(1)} s, run ${(r.runMs / 1000).toFixed(1)} s\n`);
  if (r.exitCode !== 0) throw new Error(`scenario ${name} exited ${r.exitCode}\n${r.stderr.slice(-4000)}`);
  return r;
}

/** Runs a scenario and parses the JSON file it wrote to $AAVIP_RESULTS. */
export async function scenarioJson<T>(name: string, file: string, o: ScenarioOptions = {}): Promise<T> {
  const r = await runScenario(name, o);
  if (!(file in r.files)) throw new Error(`scenario ${name} wrote no ${file} (it wrote: ${Object.keys(r.files).join(', ') || 'nothing'})`);
  return JSON.parse(r.files[file]) as T;
}
