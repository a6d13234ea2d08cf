// `aavip ldirectord [-f FILE] check|start|stop|reload|status`: the ldirectord role.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { desiredWhenHealthy, type IpvsServiceState } from '../lvs/config/desired.js';
import { loadLdirectordConfig } from '../lvs/config/parse.js';
import { table } from './progress.js';

export const DEFAULT_LDIRECTORD_CF = '/etc/ha.d/ldirectord.cf';

/** ldirectord's lookup: a bare name is looked for in /etc/ha.d and /etc/ha.d/conf first. */
export function resolveConfigFile(name: string): string {
  if (!name.includes('/')) {
    for (const dir of ['/etc/ha.d', '/etc/ha.d/conf']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return name;
}

function printState(state: IpvsServiceState[]): void {
  const rows: (string | number)[][] = [];
  for (const s of state) {
    rows.push([`${s.protocol} ${s.address}`, s.scheduler + (s.persistent !== null ? ` persistent ${s.persistent}` : ''), '', '', '']);
    for (const r of s.realServers) rows.push(['', '', `-> ${r.address}${r.fallback ? ' (fallback)' : ''}`, r.forwarding, r.weight]);
  }
  process.stdout.write(table(['virtual service', 'scheduler', 'real server', 'forwarding', 'weight'], rows) + '\n');
}

export function register(program: Command): Command {
  const ld = program.command('ldirectord')
    .description('the ldirectord role: read ldirectord.cf, check real servers, set IPVS weights')
    .option('-f, --file <file>', 'configuration (a bare name is looked for in /etc/ha.d, as ldirectord does)', DEFAULT_LDIRECTORD_CF);

  ld.command('check')
    .description('parse and validate the file, and print the IPVS table it asks for when every real server is healthy')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const config = loadLdirectordConfig(resolveConfigFile(ld.opts().file));
      for (const w of config.warnings) process.stderr.write(`${config.file}:${w.line}: warning: ${w.message}\n`);
      const state = desiredWhenHealthy(config);
      if (o.json) process.stdout.write(JSON.stringify({ virtualServices: state }, null, 2) + '\n');
      else printState(state);
    });
  return ld;
}
