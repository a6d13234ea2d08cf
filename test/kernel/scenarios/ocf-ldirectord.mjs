// Runs inside the 6.1 VM: resource-agents' ocf-tester on ocf:aavip:ldirectord against real IPVS.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const root = process.env.AAVIP_ROOT;
const agent = '/usr/lib/ocf/resource.d/aavip/ldirectord';
execFileSync('ip', ['link', 'set', 'lo', 'up']);
const responder = spawn(process.execPath, [`${root}/dist/src/lab/responder.js`, 'r1', '18080'], { stdio: 'ignore' });
writeFileSync('/mnt/ld.cf', 'checkinterval=1\nchecktimeout=1\nvirtual=127.0.0.100:80\n\treal=127.0.0.1:18080 masq 2\n\tchecktype=connect\n');
writeFileSync('/mnt/broken.cf', 'virtual=127.0.0.100:80\n\treal=127.0.0.1:18080\n');
const out = {};
const sh = (cmd, env = {}) => {
  try {
    return {
      status: 0,
      out: execFileSync('sh', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, OCF_ROOT: '/usr/lib/ocf', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
    };
  } catch (e) {
    return { status: e.status, out: String(e.stdout) + String(e.stderr) };
  }
};
try {
  out.tester = sh(`ocf-tester -n ld -o configfile=/mnt/ld.cf ${agent} 2>&1`);
  out.start = sh(`${agent} start`, { OCF_RESKEY_configfile: '/mnt/ld.cf' }).status;
  await new Promise((r) => setTimeout(r, 2500));
  out.table = sh('ipvsadm -Ln').out;
  out.monitor = sh(`${agent} monitor`, { OCF_RESKEY_configfile: '/mnt/ld.cf' }).status;
  out.stop = sh(`${agent} stop`, { OCF_RESKEY_configfile: '/mnt/ld.cf' }).status;
  out.monitorStopped = sh(`${agent} monitor`, { OCF_RESKEY_configfile: '/mnt/ld.cf' }).status;
  out.tableAfter = sh('ipvsadm -Ln').out;
  out.validateBroken = sh(`${agent} validate-all`, { OCF_RESKEY_configfile: '/mnt/broken.cf' }).status;
} finally {
  responder.kill();
  writeFileSync('/mnt/ocf.json', JSON.stringify(out));
}
