#!/usr/bin/env node
// The `aavip` command. Each concern registers its own subcommands.
import { Command, CommanderError } from 'commander';
import { InputError, InputErrors } from '../errors.js';
import { register as registerAgents } from './agents.js';
import { register as registerBench } from './bench.js';
import { register as registerDaemon } from './daemon.js';
import { register as registerHash } from './hash.js';
import { register as registerLab } from './lab.js';
import { register as registerLdirectord } from './ldirectord.js';
import { register as registerVip } from './vip.js';

const program = new Command('aavip')
  .description('active/active virtual IP: kernel hash buckets, membership, and an ldirectord-compatible IPVS director')
  .version('0.1.0')
  .showHelpAfterError();

for (const register of [registerHash, registerBench, registerVip, registerDaemon, registerLdirectord, registerLab, registerAgents]) register(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof InputError || err instanceof InputErrors) {
    process.stderr.write(`aavip: ${err instanceof InputError ? err.describe() : err.message}\n`);
    process.exit(2);
  }
  if (err instanceof CommanderError) process.exit(err.exitCode);
  process.stderr.write(`aavip: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
