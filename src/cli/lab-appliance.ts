// `aavip lab appliance`: client → VIP → the bucket owner's IPVS → real server, with real daemons
// (src/lab/appliance.ts). It needs IPVS: where the kernel has none (this host), it boots the 6.1
// VM and runs itself there.
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { CheckFigures } from '../lab/appliance-checks.js';
import { APPLIANCE_DEFAULTS, type ApplianceResult, runAppliance } from '../lab/appliance.js';
import { runInVm, VmError } from '../lab/vm.js';
import { built } from '../paths.js';
import { EXIT_LAB_FAILED, EXIT_TIMEOUT } from './lab-vm.js';
import { prefixOption } from './lab-net.js';
import { positiveInt } from './options.js';
import { table } from './progress.js';

interface Options {
  connections: number;
  interval: number;
  deadtime: number;
  prefix: string;
  sync: boolean;
  faults: boolean;
  colocated?: boolean;
  json?: boolean;
}

export function register(lab: Command): void {
  lab
    .command('appliance')
    .description(
      'three real daemons with the ldirectord role and four direct-routing real servers: send connections through the VIP, check each was directed by its ' +
        "bucket's owner and each real server got its weighted share (in the 6.1 VM when this kernel has no IPVS)",
    )
    .option('--connections <n>', 'connections to make', positiveInt, APPLIANCE_DEFAULTS.connections)
    .option('--interval <ms>', 'heartbeat interval', positiveInt, APPLIANCE_DEFAULTS.intervalMs)
    .option(
      '--deadtime <ms>',
      'deadtime (long under emulation: a lease is granted less the nft commit time, seconds in the VM on a busy host)',
      positiveInt,
      APPLIANCE_DEFAULTS.deadtimeMs,
    )
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'apl')
    .option('--no-sync', 'lvs.sync: false (no IPVS connection sync between the nodes)')
    .option('--no-faults', 'skip the fault phases (a director killed with sync on and off, its return, a drain and an undrain)')
    .option(
      '--colocated',
      'the three nodes are real servers too (plus one separate one): the VIP gets a fwmark and the virtual service is on it (no fault phases)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (o: Options) => {
      // The guest loads ip_vs at boot; the host has no such module.
      if (!existsSync('/proc/net/ip_vs')) return inVm(o);
      const r = await runAppliance({
        ...APPLIANCE_DEFAULTS,
        prefix: o.prefix,
        connections: o.connections,
        intervalMs: o.interval,
        deadtimeMs: o.deadtime,
        sync: o.sync,
        faults: o.faults,
        colocated: o.colocated ?? false,
        progress: (m) => process.stderr.write(`${m}\n`),
      });
      process.stdout.write(o.json ? `${JSON.stringify(r)}\n` : `${render(r)}\n`);
      if (!r.ok) process.exitCode = 1;
    });
}

async function inVm(o: Options): Promise<void> {
  const args = [
    '--connections',
    String(o.connections),
    '--interval',
    String(o.interval),
    '--deadtime',
    String(o.deadtime),
    '--prefix',
    o.prefix,
    ...(o.sync ? [] : ['--no-sync']),
    ...(o.faults ? [] : ['--no-faults']),
    ...(o.colocated ? ['--colocated'] : []),
    ...(o.json ? ['--json'] : []),
  ];
  const log = (m: string) => {
    if (!o.json) process.stderr.write(`aavip lab appliance: ${m}\n`);
  };
  try {
    const r = await runInVm({
      script: `exec ${process.execPath} ${built('cli/main.js')} lab appliance ${args.join(' ')}\n`,
      timeoutMs: 1_800_000,
      memoryMb: 1536,
      log,
      onStdout: (c) => process.stdout.write(c),
      onStderr: o.json ? undefined : (c) => process.stderr.write(c),
    });
    if (r.exitCode !== 0 && o.json) process.stderr.write(r.stderr.slice(-4000));
    process.exitCode = r.exitCode;
  } catch (e) {
    if (!(e instanceof VmError)) throw e;
    process.stderr.write(`aavip lab appliance: ${e.message}\n`);
    process.exitCode = e.kind === 'timeout' ? EXIT_TIMEOUT : EXIT_LAB_FAILED;
  }
}

function render(r: ApplianceResult): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    table(
      ['node', 'buckets', 'directed', 'ipvs scheduled', 'synced from peers'],
      r.perNode.map((n) => [n.node, n.buckets, n.directed, n.scheduled, n.synced]),
    ),
    '',
    table(
      ['real server', 'weight', 'served', 'share', 'weighted share'],
      r.perReal.map((s) => [`${s.name} ${s.address}`, s.weight, s.served, pct(s.share), pct(s.weightedShare)]),
    ),
    '',
    `${r.connections} connections, ${r.failed} failed${r.failed ? ` (${JSON.stringify(r.failures)})` : ''}; ` +
      `IPVS entry not on the bucket's owner: ${r.notOnOwner}, missing: ${r.missingEntry}, on several nodes: ${r.onSeveral}`,
    `checks: ${Object.entries(r.checks)
      .map(([k, v]) => `${k} ${v ? 'ok' : 'FAILED'}`)
      .join(', ')}`,
    ...(r.realChecks ? ['', ...renderChecks(r.realChecks)] : []),
    ...(r.directorKill
      ? [
          '',
          table(
            ['director killed', 'sync', 'long-lived', 'went on', 'broke', 'new connections back after'],
            r.directorKill.map((k) => [
              k.director,
              k.sync ? 'on' : 'off',
              k.longLived,
              k.survived,
              k.broken,
              k.servedAgainMs === null ? 'never' : `${k.servedAgainMs} ms`,
            ]),
          ),
        ]
      : []),
    ...(r.returned
      ? [
          `returned, drained and undrained under ${r.returned.longLived} long-lived connections: ${r.returned.resets} lost; afterwards ` +
            r.returned.afterReturn.map((n) => `${n.node} ${n.buckets} buckets, ${n.directed} directed`).join('; '),
        ]
      : []),
  ].join('\n');
}

function renderChecks(c: CheckFigures): string[] {
  const ms = (xs: (number | null)[]) => xs.map((x) => (x === null ? 'never' : `${x} ms`)).join(', ');
  return [
    table(
      ['real server', ...Object.keys(c.perReal[0]?.byNode ?? {}).map((n) => `checks from ${n}`), 'others', `total in ${c.windowS} s`],
      c.perReal.map((p) => [p.name, ...Object.values(p.byNode), p.others, p.total]),
    ),
    `${c.stopped} stopped: at weight 0 on the directors after ${ms(c.quiescedMs)} (checkinterval ${c.checkintervalS} s + checktimeout ${c.checktimeoutS} s); ` +
      `${c.reachedStopped} of ${c.connectionsAfter} new connections reached it, ${c.failedAfter} failed; restarted, back after ${ms(c.restoredMs)}`,
  ];
}
