// `aavip ldirectord [-f FILE] check|start|stop|reload|status`: the ldirectord role.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { InputError } from '../errors.js';
import { desiredWhenHealthy, type IpvsServiceState } from '../lvs/config/desired.js';
import { DEFAULT_CONFIG_NAME, resolveConfigPath } from '../lvs/config/files.js';
import type { LdirectordConfig } from '../lvs/config/model.js';
import { loadLdirectordConfigSync as loadLdirectordConfig } from '../lvs/config/parse.js';
import type { IpvsKind } from '../lvs/ipvs/index.js';
import { pidFile, RUN_DIR, runDirector, runningPid, statusFile, waitUntil } from '../lvs/supervisor.js';
import { positiveInt } from './options.js';
import { table } from './progress.js';

/** How long `start` waits for the director's first round. */
const START_TIMEOUT_MS = 180_000;

function ipvsOption(text: string): IpvsKind {
  if (text !== 'netlink' && text !== 'ipvsadm') throw new InvalidArgumentError('netlink or ipvsadm');
  return text;
}

/** ldirectord's default: the name `ldirectord.cf`, found as resolveConfigFile finds names. */
export const DEFAULT_LDIRECTORD_CF = DEFAULT_CONFIG_NAME;

/** ldirectord's lookup: a relative name is looked for in /etc/ha.d, then /etc/ha.d/conf, then as given. */
export function resolveConfigFile(name: string): string {
  return resolveConfigPath(name);
}

function printState(state: IpvsServiceState[]): void {
  const rows: (string | number)[][] = [];
  for (const s of state) {
    rows.push([`${s.protocol} ${s.address}`, s.scheduler + (s.persistent !== null ? ` persistent ${s.persistent}` : ''), '', '', '']);
    for (const r of s.realServers) rows.push(['', '', `-> ${r.address}${r.fallback ? ' (fallback)' : ''}`, r.forwarding, r.weight]);
  }
  process.stdout.write(table(['virtual service', 'scheduler', 'real server', 'forwarding', 'weight'], rows) + '\n');
}

/** `check`: the table a healthy file asks for; a broken file is reported as `file:line: ...` with exit 2. */
function check(file: string, json: boolean): void {
  let config: LdirectordConfig;
  try {
    config = loadLdirectordConfig(file);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    // `file:line: directive: message`, like a compiler, and ldirectord's exit code for a broken file.
    process.stderr.write(`${e.describe()}\n`);
    process.exitCode = 2;
    return;
  }
  for (const w of config.warnings) process.stderr.write(`${config.file}:${w.line}: warning: ${w.message}\n`);
  const state = desiredWhenHealthy(config);
  if (json) process.stdout.write(JSON.stringify({ virtualServices: state }, null, 2) + '\n');
  else printState(state);
}

/** `start`: `run` detached; returns once its first round is done and its status written. */
async function startInBackground(f: string, o: { ipvs: IpvsKind; concurrency: number }): Promise<void> {
  if (typeof runningPid(f) === 'number') return;
  rmSync(statusFile(f), { force: true });
  const child = spawn(process.execPath, [process.argv[1], 'ldirectord', '-f', f, 'run', '--ipvs', o.ipvs, '--concurrency', String(o.concurrency)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  // A child that dies first is reported at once. The bound is generous: a loaded or emulated
  // machine takes tens of seconds.
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal ?? `exit ${code}`;
  });
  const up = await waitUntil(() => existsSync(statusFile(f)) || exited !== undefined, START_TIMEOUT_MS);
  if (exited !== undefined && !existsSync(statusFile(f)))
    throw new Error(`the director for ${f} stopped while starting (${exited}); run 'aavip ldirectord -f ${f} run' to see why`);
  if (!up) throw new Error(`the director for ${f} did not come up within ${START_TIMEOUT_MS / 1000} s`);
}

/** `status`: exit 0 running, 3 stopped, 1 stale PID file; each real's state and weight. */
function printStatus(f: string, json: boolean): void {
  const pid = runningPid(f);
  if (typeof pid !== 'number') {
    if (pid === 'stale') process.stderr.write(`ldirectord stale pid file ${pidFile(f)} for ${f}\n`);
    process.stdout.write(json ? JSON.stringify({ running: false }) + '\n' : `ldirectord is stopped for ${f}\n`);
    process.exitCode = pid === 'stale' ? 1 : 3;
    return;
  }
  const st = JSON.parse(readFileSync(statusFile(f), 'utf8'));
  if (json) {
    process.stdout.write(JSON.stringify({ running: true, ...st }) + '\n');
    return;
  }
  process.stderr.write(`ldirectord for ${f} is running with pid: ${pid}\n`);
  const rows: (string | number)[][] = [];
  for (const v of st.virtualServices) for (const r of v.realServers) rows.push([v.virtualService, r.address, r.state, r.weight ?? '-', r.message]);
  process.stdout.write(table(['virtual service', 'real server', 'state', 'weight', 'last check'], rows) + '\n');
  // A service the kernel refused is not in the table at all: say so, with the kernel's reason.
  for (const v of st.virtualServices) if (v.ipvsError) process.stdout.write(`${v.virtualService}: not in IPVS: ${v.ipvsError}\n`);
}

export function register(program: Command): Command {
  const ld = program
    .command('ldirectord')
    .description('the ldirectord role: read ldirectord.cf, check real servers, set IPVS weights')
    .option(
      '-f, --file <file>',
      'configuration (a relative name is looked for in /etc/ha.d and /etc/ha.d/conf first, as ldirectord does)',
      DEFAULT_LDIRECTORD_CF,
    );

  ld.command('check')
    .description('parse and validate the file, and print the IPVS table it asks for when every real server is healthy')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => check(resolveConfigFile(ld.opts().file), !!o.json));
  const file = () => resolveConfigFile(ld.opts().file as string);
  /** Every command reads the file first: a broken file fails every command with exit 2, as in ldirectord. */
  const validated = () => {
    const f = file();
    loadLdirectordConfig(f);
    return f;
  };

  const directorOptions = (cmd: Command) =>
    cmd
      .option('--ipvs <how>', 'program IPVS over netlink or through ipvsadm', ipvsOption, 'netlink')
      .option('--concurrency <n>', 'checks in flight at once', positiveInt, 1000);

  directorOptions(ld.command('run').description('run the director in the foreground (SIGHUP reloads, SIGTERM stops)')).action(
    async (o: { ipvs: IpvsKind; concurrency: number }) => {
      const f = validated();
      mkdirSync(RUN_DIR, { recursive: true });
      writeFileSync(pidFile(f), String(process.pid));
      try {
        await runDirector(f, o.ipvs, o.concurrency);
      } finally {
        rmSync(pidFile(f), { force: true });
        rmSync(statusFile(f), { force: true });
      }
    },
  );

  directorOptions(ld.command('start').description('start the director in the background (no-op if it runs)')).action(
    async (o: { ipvs: IpvsKind; concurrency: number }) => {
      await startInBackground(validated(), o);
    },
  );

  ld.command('stop')
    .description('stop the director (with cleanstop, its services leave the IPVS table)')
    .action(async () => {
      const f = validated();
      const pid = runningPid(f);
      if (typeof pid !== 'number') return;
      process.kill(pid, 'SIGTERM');
      if (!(await waitUntil(() => runningPid(f) === undefined, 60_000))) throw new Error(`pid ${pid} did not stop within 60 s`);
    });

  ld.command('reload')
    .description('re-read the file (SIGHUP); only what changed is touched in IPVS')
    .action(() => {
      const f = validated();
      const pid = runningPid(f);
      if (typeof pid !== 'number') {
        process.stderr.write(`ldirectord is stopped for ${f}\n`);
        process.exitCode = 1;
        return;
      }
      process.kill(pid, 'SIGHUP');
    });

  ld.command('status')
    .description("whether the director runs (exit 0; 3 stopped; 1 stale pid file) and each real server's state and weight")
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => printStatus(validated(), !!o.json));
  return ld;
}
