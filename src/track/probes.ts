// A tracked service's check, on the ldirectord role's check life cycle (lvs/checks/lifecycle.ts):
// its deadline, its timeout and the cleanup of what it opened are the same code. TCP and HTTP
// are the role's own connect and HTTP checks; a command, a process and a systemd unit are
// check types of their own here.
import { readdir, readFile } from 'node:fs/promises';
import { startCheck, type CheckType } from '../lvs/checks/lifecycle.js';
import { KIND_CHECKS, NEGOTIATE_CHECKS } from '../lvs/checks/registry.js';
import { fail, ok, type CheckResult } from '../lvs/checks/result.js';
import type { CheckTarget } from '../lvs/checks/target.js';
import type { Probe, TrackSpec } from './settings.js';

/** Exit 0 = up; at the deadline the child gets SIGTERM, then SIGKILL (the life cycle's). */
const commandCheck = (argv: string[]): CheckType => ({
  run: (run) => {
    run
      .spawn(argv[0], argv.slice(1))
      .on('exit', (code, signal) => run.settle(code === 0 ? ok('exit 0') : fail(signal ? `killed by ${signal}` : `exit ${code}`)));
  },
});

/** `systemctl is-active --quiet UNIT`: exit 0 when its ActiveState is active. */
const systemdCheck = (unit: string): CheckType => ({
  run: (run) => {
    run
      .spawn('systemctl', ['is-active', '--quiet', unit])
      .on('exit', (code) => run.settle(code === 0 ? ok('active') : fail(`not active (systemctl exit ${code})`)));
  },
});

async function processAlive(p: Extract<Probe, { kind: 'process' }>): Promise<CheckResult> {
  if (p.pidfile) {
    const pid = Number((await readFile(p.pidfile, 'utf8').catch(() => '')).trim().split(/\s+/)[0]);
    if (!Number.isSafeInteger(pid) || pid < 1) return fail(`no pid in ${p.pidfile}`);
    try {
      process.kill(pid, 0);
      return ok(`pid ${pid} runs`);
    } catch (e) {
      // EPERM: it runs, as another user.
      return (e as NodeJS.ErrnoException).code === 'EPERM' ? ok(`pid ${pid} runs`) : fail(`pid ${pid} (${p.pidfile}) is not running`);
    }
  }
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const comm = await readFile(`/proc/${d}/comm`, 'utf8').catch(() => '');
    if (comm.trimEnd() === p.name) return ok(`${p.name} runs (pid ${d})`);
  }
  return fail(`no process named ${p.name}`);
}

const processCheck = (p: Extract<Probe, { kind: 'process' }>): CheckType => ({ run: () => processAlive(p) });

/** The check target the role's checks take, for a local service. */
function targetOf(spec: TrackSpec, host: string, port: number, extra: Partial<CheckTarget> = {}): CheckTarget {
  return {
    service: 'none',
    request: '/',
    receive: '',
    httpmethod: 'GET',
    login: '',
    passwd: '',
    database: '',
    secret: '',
    checkcommand: '',
    host,
    port,
    realPort: port,
    virtualHost: host,
    virtualPort: port,
    protocol: 'tcp',
    timeoutMs: spec.timeoutMs,
    checkcount: 1,
    ...extra,
  };
}

/** Runs one check of `spec`; resolves, never rejects, within its timeout. */
export function runProbe(spec: TrackSpec): Promise<CheckResult> {
  const p = spec.probe;
  switch (p.kind) {
    case 'tcp':
      return startCheck('tcp', KIND_CHECKS.connect, targetOf(spec, p.host, p.port));
    case 'http': {
      const u = new URL(p.url);
      const https = u.protocol === 'https:';
      const t = targetOf(spec, u.hostname.replace(/^\[(.*)\]$/, '$1'), Number(u.port || (https ? 443 : 80)), {
        request: p.url,
        receive: p.body ?? '',
        ...(p.status !== undefined ? { expectStatus: p.status } : {}),
      });
      return startCheck(https ? 'https' : 'http', https ? NEGOTIATE_CHECKS.https : NEGOTIATE_CHECKS.http, t);
    }
    case 'command':
      return startCheck('command', commandCheck(p.argv), targetOf(spec, '', 0));
    case 'systemd':
      return startCheck('systemd', systemdCheck(p.unit), targetOf(spec, '', 0));
    case 'process':
      return startCheck('process', processCheck(p), targetOf(spec, '', 0));
  }
}
