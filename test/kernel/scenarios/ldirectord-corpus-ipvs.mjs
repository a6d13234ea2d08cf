// Runs inside the 6.1 VM: each real-world ldirectord.cf that aavip accepts, loaded by aavip's
// ldirectord role on real IPVS, in a namespace where no real server answers (so every check
// fails). What the kernel then holds (`ipvsadm -S -n`) goes to corpus-ipvs.json; the host compares
// it with the table aavip's model asks for.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const root = process.env.AAVIP_ROOT;
const results = process.env.AAVIP_RESULTS;
const CLI = `${root}/dist/src/cli/main.js`;
const NS = 'hcorp';
const files = JSON.parse(readFileSync(`${results}/corpus.json`, 'utf8'));
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const table = () => sh(`ip netns exec ${NS} ipvsadm -S -n`).split('\n').filter(Boolean).sort();
const role = (file, args) =>
  spawnSync('ip', ['netns', 'exec', NS, process.execPath, CLI, 'ldirectord', '-f', file, ...args], { encoding: 'utf8', timeout: 120_000 });

// The files name logs under /var/log, read-only here (the host's root): a scratch one instead.
sh('mount -t tmpfs tmpfs /var/log && mkdir -p /var/log/ldirectord /run/aavip');
sh(`ip netns add ${NS} && ip netns exec ${NS} ip link set lo up`);
const out = {};
try {
  for (const { name, checkMs, expected } of files) {
    const path = `${results}/cf-${name}`;
    sh(`ip netns exec ${NS} ipvsadm -C`);
    const started = role(path, ['start', '--ipvs', 'netlink']);
    if (started.status !== 0) {
      out[name] = { started: false, status: started.status, stderr: started.stderr.slice(-600) };
      continue;
    }
    // Every check fails at once here (no route, or refused); a real goes down after checkcount
    // rounds. Read until the table is the one expected, bounded by those rounds and 10 s more.
    const t0 = Date.now();
    let last = table();
    while (last.join('\n') !== expected.join('\n') && Date.now() - t0 < checkMs + 10_000) {
      await sleep(250);
      last = table();
    }
    const since = Date.now();
    const stopped = role(path, ['stop']);
    out[name] = { started: true, table: last, ms: since - t0, stopStatus: stopped.status, afterStop: table() };
    process.stderr.write(`${name}: ${last.length} lines after ${since - t0} ms\n`);
  }
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  spawnSync('ip', ['netns', 'delete', NS]);
}
writeFileSync(`${results}/corpus-ipvs.json`, JSON.stringify(out));
