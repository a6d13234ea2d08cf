#!/usr/bin/env node
// The `aavip` command. Each concern registers its own subcommands.
import { Command, CommanderError } from 'commander';
import { reportFailure } from '../errors.js';
import { register as registerAgents } from './agents.js';
import { register as registerBench } from './bench.js';
import { register as registerDaemon } from './daemon.js';
import { register as registerDoctor } from './doctor.js';
import { register as registerHash } from './hash.js';
import { register as registerLab } from './lab.js';
import { register as registerLdirectord } from './ldirectord.js';
import { register as registerVip } from './vip.js';

// Subcommands inherit these: usage errors are thrown to the handler below instead of exiting,
// and commander's own message is one line like every other.
const program = new Command('aavip')
  .description('active/active virtual IP: kernel hash buckets, membership, and an ldirectord-compatible IPVS director')
  .version('0.1.0')
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(`aavip: ${text.replace(/^error: /, '')}`) });

for (const register of [registerHash, registerBench, registerVip, registerDaemon, registerDoctor, registerLdirectord, registerLab, registerAgents])
  register(program);

/** The one place a command's failure is reported: a line for the user's mistakes, a stack for bugs. */
function fail(err: unknown): never {
  // commander has printed its message already (or the help, for --help: exit 0).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const report = reportFailure(err);
  const debug = process.env.AAVIP_DEBUG === '1' && err instanceof Error && !report.bug ? `\n${err.stack}` : '';
  process.stderr.write(`aavip: ${report.bug ? 'internal error (a bug, please report it): ' : ''}${report.text}${debug}\n`);
  process.exit(report.exitCode);
}

program.parseAsync(process.argv).catch(fail);
