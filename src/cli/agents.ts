// `aavip agents install`: the OCF resource agents as ocf:aavip:vip and ocf:aavip:ldirectord.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { log } from '../log.js';
import { built, PACKAGE_ROOT } from '../paths.js';

export const AGENTS = ['vip', 'ldirectord'] as const;

/** Installs the agents under `root`/usr/lib/ocf/resource.d/aavip, pointing them at this aavip. */
export function installAgents(root = '/'): string[] {
  const dir = join(root, 'usr/lib/ocf/resource.d/aavip');
  mkdirSync(dir, { recursive: true });
  // The agents run this Node on this installation: the aavip command, and the agents' own entry.
  const aavip = `${process.execPath} ${built('cli/main.js')}`;
  const ocf = `${process.execPath} ${built('ocf/main.js')}`;
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
    .action((o: { prefix: string }) => {
      for (const path of installAgents(o.prefix)) log.info({ path }, 'installed');
    });
}
