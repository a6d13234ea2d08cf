// The `aavip` command tree, apart from running it: main.ts parses argv with it, and the man page
// (manpage.ts) is written from it, so the two cannot disagree.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { PACKAGE_ROOT } from '../paths.js';
import { register as registerAgents } from './agents.js';
import { register as registerBench } from './bench.js';
import { register as registerDaemon } from './daemon.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerHash } from './hash.js';
import { register as registerLab } from './lab.js';
import { register as registerLdirectord } from './ldirectord.js';
import { register as registerVip } from './vip.js';

/** The version in package.json: one number for `--version`, the man page and the Debian package. */
export const VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

export function buildProgram(): Command {
  // Subcommands inherit these: usage errors are thrown to main's handler instead of exiting,
  // and commander's own message is one line like every other.
  const program = new Command('aavip')
    .description('active/active virtual IP: kernel hash buckets, membership, and an ldirectord-compatible IPVS director')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`aavip: ${text.replace(/^error: /, '')}`) });
  for (const register of [registerHash, registerBench, registerVip, registerDaemon, registerDoctor, registerLdirectord, registerLab, registerAgents])
    register(program);
  return program;
}
