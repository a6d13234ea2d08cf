// `aavip doctor` and the start-up of `aavip up` ask the same question: can this node, with this
// kernel and these settings, run this configuration? The rules are rules.ts; the facts, facts.ts.
import type { SharedConfig } from '../config/cluster.js';
import { InputError, InputErrors } from '../errors.js';
import type { LdirectordConfig } from '../lvs/config/model.js';
import { loadLdirectordConfig } from '../lvs/config/parse.js';
import { readKernelFacts } from './facts.js';
import { diagnose, type DoctorInput, type Finding } from './rules.js';

export type { Finding } from './rules.js';

/** What the rules read of a configuration (and of its ldirectord.cf, with `lvs.config`). */
export function doctorInput(config: Pick<SharedConfig, 'vips' | 'lvs'>, ldirectord?: LdirectordConfig): DoctorInput {
  if (!config.lvs) return { vips: config.vips };
  const services = (ldirectord?.virtualServices ?? []).map((v) => ({ line: v.line, family: v.family, protocol: v.protocol, scheduler: v.scheduler }));
  const sync = config.lvs.sync.enabled ? { interface: config.lvs.sync.interface } : undefined;
  return { vips: config.vips, lvs: { file: config.lvs.config, services, sync } };
}

/**
 * Every finding for `config` in this network namespace, errors first. `ldirectord`: the parsed
 * lvs.config when the caller has it (the daemon does); read from the file otherwise, and its
 * mistakes thrown as InputErrors with file and line.
 */
export async function startupFindings(config: Pick<SharedConfig, 'vips' | 'lvs'>, ldirectord?: LdirectordConfig): Promise<Finding[]> {
  const cf = config.lvs ? (ldirectord ?? (await loadLdirectordConfig(config.lvs.config))) : undefined;
  const input = doctorInput(config, cf);
  return diagnose(input, await readKernelFacts(input));
}

/** Findings as text: one block per finding, or that all is well. */
export function describeFindings(findings: Finding[], file: string): string {
  if (!findings.length) return `all is well: this kernel and its settings can run ${file}\n`;
  const blocks = findings.map((f) => `${f.severity.toUpperCase()} ${f.id}: ${f.setting}\n  breaks: ${f.breaks}\n  fix:    ${f.fix}\n`);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.length - errors;
  return `${blocks.join('\n')}\n${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`;
}

/**
 * For `aavip up`: the error-level findings as the refusal to start (an input error, so the CLI
 * prints it in one line per finding, exit 2), or undefined when none is an error.
 */
export function startupRefusal(findings: Finding[], file: string): InputError | InputErrors | undefined {
  const errors = findings
    .filter((f) => f.severity === 'error')
    .map((f) => new InputError(`this node cannot run it: ${f.setting}: ${f.breaks} (fix: ${f.fix}; aavip doctor lists every finding)`, { file }));
  if (!errors.length) return undefined;
  return errors.length === 1 ? errors[0] : new InputErrors(errors);
}
