#!/usr/bin/env node
// The `aavip` command. Each concern registers its own subcommands (program.ts).
import { CommanderError } from 'commander';
import { reportFailure } from '../errors.js';
import { buildProgram } from './program.js';

/** The one place a command's failure is reported: a line for the user's mistakes, a stack for bugs. */
function fail(err: unknown): never {
  // commander has printed its message already (or the help, for --help: exit 0).
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
  const report = reportFailure(err);
  const debug = process.env.AAVIP_DEBUG === '1' && err instanceof Error && !report.bug ? `\n${err.stack}` : '';
  process.stderr.write(`aavip: ${report.bug ? 'internal error (a bug, please report it): ' : ''}${report.text}${debug}\n`);
  process.exit(report.exitCode);
}

buildProgram().parseAsync(process.argv).catch(fail);
