// IPVS weight changes per second: aavip's in-process generic netlink against forking `ipvsadm`
// for each change (what ldirectord does), on real IPVS — Debian's 6.1 kernel in the VM lab, since
// the host kernel has no IPVS. One service, one real server, its weight changed over and over.
// Usage (root): node dist/bench/ipvs-weights.js [--changes N] [--json]
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runInVm } from '../src/lab/vm.js';
import type { IpvsServiceState } from '../src/lvs/config/desired.js';
import { NetlinkIpvs } from '../src/lvs/ipvs/netlink.js';

export interface IpvsWeightsResult {
  netlinkPerSec: number;
  ipvsadmPerSec: number;
  ratio: number;
  netlinkChanges: number;
  ipvsadmChanges: number;
}

const SERVICE = '198.18.9.9:80';
const REAL = '198.18.2.11:80';

/** Inside the VM: the measurement itself. Fewer ipvsadm runs, since each costs a fork and exec. */
async function measure(changes: number): Promise<IpvsWeightsResult> {
  execFileSync('ipvsadm', ['-A', '-t', SERVICE, '-s', 'wrr']);
  execFileSync('ipvsadm', ['-a', '-t', SERVICE, '-r', REAL, '-m', '-w', '1']);
  const svc: IpvsServiceState = {
    protocol: 'tcp',
    family: 4,
    address: SERVICE,
    scheduler: 'wrr',
    persistent: null,
    netmask: null,
    schedflags: null,
    ops: false,
    realServers: [],
  };
  const ipvs = await NetlinkIpvs.open();
  try {
    let t0 = performance.now();
    for (let i = 0; i < changes; i++) {
      await ipvs.apply([{ op: 'edit-dest', service: svc, dest: { address: REAL, forwarding: 'masq', weight: (i % 7) + 1, lower: 0, upper: 0 } }]);
    }
    const netlinkPerSec = changes / ((performance.now() - t0) / 1000);
    const forks = Math.max(10, Math.floor(changes / 4));
    t0 = performance.now();
    for (let i = 0; i < forks; i++) execFileSync('ipvsadm', ['-e', '-t', SERVICE, '-r', REAL, '-m', '-w', String((i % 7) + 1)]);
    const ipvsadmPerSec = forks / ((performance.now() - t0) / 1000);
    return { netlinkPerSec, ipvsadmPerSec, ratio: netlinkPerSec / ipvsadmPerSec, netlinkChanges: changes, ipvsadmChanges: forks };
  } finally {
    ipvs.close();
    execFileSync('ipvsadm', ['-D', '-t', SERVICE]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const changes = Number(arg('changes') ?? 400);
  if (!Number.isInteger(changes) || changes < 10 || changes > 100_000) {
    process.stderr.write('--changes: an integer from 10 to 100000\n');
    process.exit(2);
  }
  if (process.argv.includes('--inside')) {
    process.stdout.write(JSON.stringify(await measure(changes)) + '\n');
  } else {
    const self = fileURLToPath(import.meta.url);
    const r = await runInVm({
      script: `exec ${process.execPath} ${self} --inside --changes ${changes}\n`,
      timeoutMs: 600_000,
      log: (m) => process.stderr.write(`[vm] ${m}\n`),
    });
    if (r.exitCode !== 0) {
      process.stderr.write(r.stderr);
      process.exit(1);
    }
    const result = JSON.parse(r.stdout) as IpvsWeightsResult;
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(`netlink ${result.netlinkPerSec.toFixed(0)}/s, ipvsadm ${result.ipvsadmPerSec.toFixed(1)}/s: ${result.ratio.toFixed(1)}x\n`);
  }
}
