// Runs inside the 6.1 VM: `aavip up` with lvs.config on node n1 starts the IPVS sync daemon as
// master and backup (replacing a stale one, setting sync_version 1); a connection n1 directs
// reaches the connection table of n2 (the same IPVS table and a plain kernel backup daemon with the
// cluster's syncid, set up by ipvsadm); SIGTERM removes the daemons, `aavip down` removes those a
// SIGKILL left, and `lvs.sync: false` starts none. One aavip daemon only: under emulation on a
// shared machine, two of them kept each other's leases from renewing for minutes. Writes sync.json
// to the results folder.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const root = process.env.AAVIP_ROOT;
const CLI = `${root}/dist/src/cli/main.js`;
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const ns = (n, cmd) => sh(`ip netns exec ${n} ${cmd}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = { steps: {} };
const children = new Set();
const logs = {};
const env = { ...process.env, AAVIP_STATE_DIR: '/tmp/aavip-state', AAVIP_LOG_LEVEL: 'info' };

function spawnIn(n, args, name) {
  const c = spawn('ip', ['netns', 'exec', n, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  children.add(c);
  c.on('exit', () => children.delete(c));
  if (name) {
    logs[name] = '';
    c.stderr.on('data', (d) => {
      logs[name] += d;
    });
  }
  return c;
}
async function stop(c) {
  if (c.exitCode !== null || c.signalCode !== null) return c.exitCode;
  const done = new Promise((r) => c.once('exit', (code) => r(code)));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
  const code = await done;
  clearTimeout(t);
  return code;
}
/** Polls `f` (bounded by count and by 90 s) until it returns a truthy value. */
async function until(what, f, tries = 120, everyMs = 500) {
  const deadline = Date.now() + 90_000;
  for (let i = 0; i < tries && Date.now() < deadline; i++) {
    const v = await f().catch(() => undefined);
    if (v) return v;
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}
// The client: a connection to the VIP (up to 5 tries of 8 s: the VM stalls), its greeting and
// port printed, then held open (60 s at most).
const HOLD = `const net = require('node:net');
let tries = 0;
const attempt = () => {
  const s = net.connect({ host: '198.18.0.100', port: 80 });
  s.setEncoding('utf8');
  const t = setTimeout(() => { s.destroy(); retry('timeout'); }, 8000);
  s.once('data', (d) => { clearTimeout(t); console.log(d.trim() + ' ' + s.localPort); });
  s.on('error', (e) => { clearTimeout(t); retry(e.message); });
};
const retry = (why) => { if (++tries >= 5) { console.log('error ' + why); process.exit(1); } attempt(); };
attempt();
setTimeout(() => process.exit(0), 60000);`;
// The control socket is a file: asked from here directly (a CLI process per poll is slow under emulation).
const { askDaemon } = await import(`${root}/dist/src/daemon/control-client.js`);
const status = (node) => askDaemon(`/run/aavip/synlab-${node}.sock`, { cmd: 'status' }, 20_000);
const step = (what) => process.stderr.write(`step: ${what}\n`);
const daemons = (node) => ns(`syn-${node}`, 'ipvsadm -L --daemon').trim();

try {
  // One bridge: client .2, node n1 .11 (the VIP .100), n2 .12 (a backup), a direct-routing real r1 .21.
  for (const n of ['syn-sw', 'syn-c', 'syn-n1', 'syn-n2', 'syn-r1']) {
    sh(`ip netns add ${n}`);
    ns(n, 'ip link set lo up');
  }
  ns('syn-sw', 'ip link add br0 type bridge mcast_snooping 0');
  ns('syn-sw', 'ip link set br0 up');
  for (const [n, p, a] of [
    ['syn-c', 'pc', '198.18.0.2'],
    ['syn-n1', 'p1', '198.18.0.11'],
    ['syn-n2', 'p2', '198.18.0.12'],
    ['syn-r1', 'pr', '198.18.0.21'],
  ]) {
    sh(`ip link add eth0 netns ${n} type veth peer name ${p} netns syn-sw`);
    ns('syn-sw', `ip link set ${p} master br0 up`);
    ns(n, 'ip link set eth0 up');
    ns(n, `ip addr add ${a}/24 dev eth0`);
  }
  ns('syn-r1', 'ip addr add 198.18.0.100/32 dev lo');
  ns('syn-r1', 'sysctl -qw net.ipv4.conf.all.arp_ignore=1');
  ns('syn-r1', 'sysctl -qw net.ipv4.conf.all.arp_announce=2');
  spawnIn('syn-r1', [process.execPath, `${root}/dist/src/lab/responder.js`, 'r1', '80']);

  mkdirSync('/tmp/syn', { recursive: true });
  writeFileSync('/tmp/syn/authkey', randomBytes(32));
  chmodSync('/tmp/syn/authkey', 0o600);
  writeFileSync(
    '/tmp/syn/ld.cf',
    'checkinterval=1\nchecktimeout=1\nvirtual=198.18.0.100:80\n\treal=198.18.0.21:80 gate\n\tchecktype=connect\n\tscheduler=rr\n',
  );
  // Timings for software emulation on a shared machine: daemons stall there for 0.8 s (spec/appliance.md)
  // to 1.3 s (seen here), which let a 1 s deadtime's lease lapse and the buckets go unserved.
  const config = (name, sync) => {
    const file = `/tmp/syn/${name}.yaml`;
    writeFileSync(
      file,
      `cluster:
  name: synlab
  authkey: /tmp/syn/authkey
  heartbeat: { interval: 500ms, deadtime: 5000ms }
  nodes:
    - { id: 1, name: n1, address: 198.18.0.11 }
vips:
  - { address: 198.18.0.100/24, interface: eth0, backend: nft, hashmode: sourceip-sourceport }
lvs:
  config: /tmp/syn/ld.cf
${sync}
`,
    );
    return file;
  };
  const on = config('on', '');
  const off = config('off', '  sync: false');
  const up = (file, logName) => spawnIn('syn-n1', [process.execPath, CLI, 'up', '--config', file, '--node', 'n1'], logName);

  // n2: the IPVS service n1's ldirectord role sets up, and a kernel backup daemon on the cluster's syncid.
  const { syncIdOf } = await import(`${root}/dist/src/appliance/settings.js`);
  out.syncId = syncIdOf('synlab');
  ns('syn-n2', 'ipvsadm -A -t 198.18.0.100:80 -s rr');
  ns('syn-n2', 'ipvsadm -a -t 198.18.0.100:80 -r 198.18.0.21:80 -g -w 1');
  ns('syn-n2', `ipvsadm --start-daemon backup --mcast-interface eth0 --syncid ${out.syncId}`);
  // A stale backup with another syncid, and sync_version 0, on n1 before aavip starts.
  ns('syn-n1', 'ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 99');
  ns('syn-n1', 'sysctl -qw net.ipv4.vs.sync_version=0');
  out.before = daemons('n1');

  step('starting n1');
  const n1 = up(on, 'n1');
  await until("n1's sync", async () => (await status('n1')).sync?.running?.length === 2);
  step('sync running');
  out.status1 = await status('n1');
  out.daemons1 = daemons('n1');
  out.syncVersion1 = ns('syn-n1', 'sysctl -n net.ipv4.vs.sync_version').trim();

  // One connection from the client, held open: n1 directs it, and its master sends it to n2's backup.
  await until('n1 serving', async () => (await status('n1')).vips[0].local.owned.length === 256);
  await until('the real server in the table', async () => /198\.18\.0\.21:80\s+Route\s+1/.test(ns('syn-n1', 'ipvsadm -Ln')));
  step('serving, the real server up: one connection');
  const client = spawn('ip', ['netns', 'exec', 'syn-c', process.execPath, '-e', HOLD], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(client);
  out.greeting = await new Promise((resolve) => {
    client.stdout.setEncoding('utf8');
    client.stdout.once('data', (d) => resolve(d.trim()));
    client.once('exit', (code) => resolve(`client exited ${code}`));
  });
  const tables = () => Object.fromEntries(['n1', 'n2'].map((n) => [n, ns(`syn-${n}`, 'ipvsadm -Lnc')]));
  out.connTables = await until(
    'the connection in both IPVS tables',
    async () => {
      const t = tables();
      return Object.values(t).every((x) => x.includes('198.18.0.100:80')) ? t : undefined;
    },
    20,
    1000,
  ).catch(tables);
  client.kill('SIGKILL');
  step(
    `greeting ${out.greeting}; n1: ${out.connTables.n1.trim().split('\n').slice(2).join(' | ')}; n2: ${out.connTables.n2.trim().split('\n').slice(2).join(' | ')}`,
  );
  if (!/^r1 /.test(out.greeting)) step(`client neighbours: ${ns('syn-c', 'ip neigh').trim()} | n1 log tail: ${logs.n1.slice(-1500)}`);
  step(`n1 stats: ${ns('syn-n1', 'ipvsadm -Ln --stats').trim().split('\n').slice(3).join(' | ')}`);

  step('SIGTERM');
  out.exit1 = await stop(n1);
  out.afterStop1 = daemons('n1');

  // lvs.sync: false: the ldirectord role without sync.
  step('n1 with sync: false');
  const n1off = up(off, 'n1off');
  await until('n1 without sync', async () => (await status('n1')).lvs?.length === 1);
  out.statusOff = (await status('n1')).sync;
  out.daemonsOff = daemons('n1');
  // A reload (SIGHUP) that switches sync on, with syncid 42, starts the daemons.
  step('reload to sync: { syncid: 42 }');
  config('off', '  sync: { syncid: 42 }');
  n1off.kill('SIGHUP');
  await until('sync after the reload', async () => (await status('n1')).sync?.running?.filter((d) => d.syncId === 42).length === 2);
  out.daemonsReloaded = daemons('n1');
  out.exitOff = await stop(n1off);
  out.afterReloadedStop = daemons('n1');

  // A daemon killed without a word leaves its sync daemons; `aavip down` removes them (and the VIP).
  step('n1 SIGKILLed, then aavip down');
  const n1again = up(on, 'n1again');
  await until('n1 sync again', async () => (await status('n1')).sync?.running?.length === 2);
  n1again.kill('SIGKILL');
  await new Promise((r) => (n1again.exitCode !== null || n1again.signalCode !== null ? r() : n1again.once('exit', r)));
  out.afterKill = daemons('n1');
  out.down = ns('syn-n1', `${process.execPath} ${CLI} down --config ${on} --node n1 2>&1; echo "exit $?"`);
  out.afterDown = daemons('n1');
  step('done');
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  for (const c of children) c.kill('SIGKILL');
  out.logs = logs;
  writeFileSync('/mnt/sync.json', JSON.stringify(out));
}
