// `aavip agents install`: the OCF resource agents as ocf:aavip:vip and ocf:aavip:ldirectord.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { log } from '../log.js';
import { PACKAGE_ROOT } from '../paths.js';

export const AGENTS = ['vip', 'ldirectord'] as const;

export interface AgentTarget {
  /** The Node that runs them (default: this one). */
  node?: string;
  /** Where the aavip they run is installed (default: this installation); the Debian package
   * build names /usr/lib/aavip while writing into its staging tree. */
  packageRoot?: string;
}

/** Installs the agents under `root`/usr/lib/ocf/resource.d/aavip, pointing them at this aavip. */
export function installAgents(root = '/', target: AgentTarget = {}): string[] {
  const dir = join(root, 'usr/lib/ocf/resource.d/aavip');
  mkdirSync(dir, { recursive: true });
  const node = target.node ?? process.execPath;
  const entry = (rel: string) => join(target.packageRoot ?? PACKAGE_ROOT, 'dist', 'src', rel);
  // The agents run this Node on this installation: the aavip command, and the agents' own entry.
  const aavip = `${node} ${entry('cli/main.js')}`;
  const ocf = `${node} ${entry('ocf/main.js')}`;
  return AGENTS.map((name) => {
    const text = readFileSync(join(PACKAGE_ROOT, 'agents', name), 'utf8')
      .replaceAll('@AAVIP_OCF@', ocf)
      .replaceAll('@AAVIP@', aavip);
    const path = join(dir, name);
    writeFileSync(path, text);
    chmodSync(path, 0o755);
    return path;
  });
}

export function register(program: Command): void {
  const agents = program.command('agents').description('OCF resource agents for Pacemaker');
  agents
    .command('install')
    .description('install ocf:aavip:vip and ocf:aavip:ldirectord (under PREFIX/usr/lib/ocf/resource.d/aavip)')
    .option('--prefix <dir>', 'install under this root', '/')
    .option('--node <path>', 'the Node the agents run (default: this one)')
    .option('--package-root <dir>', 'the aavip installation the agents run (default: this one)')
    .action((o: { prefix: string; node?: string; packageRoot?: string }) => {
      for (const path of installAgents(o.prefix, { node: o.node, packageRoot: o.packageRoot })) log.info({ path }, 'installed');
    });
}
