// Runs inside the 6.1 VM: what conntrack and nft see of a direct-routed IPVS flow on a director,
// and what the IPVS sync daemon gives a backup director. Measuring only: the sync daemons are
// started here with ipvsadm (the measuring tool, not the product).
//
// One bridge: client apl-c 198.18.0.2 — directors apl-d1 198.18.0.11 and apl-d2 198.18.0.12, both
// with the VIP 198.18.0.100 on eth0 and the same IPVS table (VIP:80 rr, gate to r1 and r2) — real
// servers apl-r1 198.18.0.21 and apl-r2 198.18.0.22 with the VIP on lo (arp_ignore=1,
// arp_announce=2). The client reaches the VIP through a permanent neighbour entry, so which
// director gets its packets is chosen by that entry's MAC ("moving the client's MAC route").
// Writes conntrack-ipvs.json to the results folder.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const root = process.env.AAVIP_ROOT;
const VIP = '198.18.0.100';
const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const ns = (n, cmd) => sh(`ip netns exec ${n} ${cmd}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const out = {};
const children = [];
const t0 = Date.now();
const say = (m) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)}s ${m}\n`);

const NS = ['apl-sw', 'apl-c', 'apl-d1', 'apl-d2', 'apl-r1', 'apl-r2'];
const addr = { 'apl-c': '198.18.0.2', 'apl-d1': '198.18.0.11', 'apl-d2': '198.18.0.12', 'apl-r1': '198.18.0.21', 'apl-r2': '198.18.0.22' };
for (const n of NS) {
  sh(`ip netns add ${n}`);
  ns(n, 'ip link set lo up');
}
ns('apl-sw', 'ip link add br0 type bridge mcast_snooping 0');
ns('apl-sw', 'ip link set br0 up');
for (const [n, a] of Object.entries(addr)) {
  const port = `p-${n.slice(4)}`;
  sh(`ip link add eth0 netns ${n} type veth peer name ${port} netns apl-sw`);
  ns('apl-sw', `ip link set ${port} master br0 up`);
  ns(n, 'ip link set eth0 up');
  ns(n, `ip addr add ${a}/24 dev eth0`);
}
const mac = (n) => ns(n, 'cat /sys/class/net/eth0/address').trim();
for (const d of ['apl-d1', 'apl-d2']) {
  ns(d, `ip addr add ${VIP}/32 dev eth0`);
  ns(d, `ipvsadm -A -t ${VIP}:80 -s rr`);
  ns(d, `ipvsadm -a -t ${VIP}:80 -r ${addr['apl-r1']}:80 -g -w 1`);
  ns(d, `ipvsadm -a -t ${VIP}:80 -r ${addr['apl-r2']}:80 -g -w 1`);
}
for (const r of ['apl-r1', 'apl-r2']) {
  ns(r, `ip addr add ${VIP}/32 dev lo`);
  ns(r, 'sysctl -qw net.ipv4.conf.all.arp_ignore=1');
  ns(r, 'sysctl -qw net.ipv4.conf.all.arp_announce=2');
  children.push(spawn('ip', ['netns', 'exec', r, process.execPath, `${root}/dist/src/lab/responder.js`, r.slice(4), '80'], { stdio: 'ignore' }));
}
const toDirector = (d) => ns('apl-c', `ip neigh replace ${VIP} lladdr ${mac(d)} dev eth0 nud permanent`);

// What aavip's bucket chain sees: nft at prerouting, priority mangle (after conntrack at -200,
// before IPVS at LOCAL_IN). One counting rule per (packet kind, ct fact); no verdict, so each
// packet goes through every rule.
const FACTS = ['state new', 'state established', 'state related', 'state invalid', 'state untracked', 'status confirmed'];
const KINDS = { syn: 'tcp flags & (syn | ack) == syn', other: 'tcp flags & syn == 0' };
const rules = Object.entries(KINDS).flatMap(([k, m]) => [
  `ip daddr ${VIP} tcp dport 80 ${m} counter comment "${k} all"`,
  ...FACTS.map((f) => `ip daddr ${VIP} tcp dport 80 ${m} ct ${f} counter comment "${k} ${f}"`),
]);
const nftRules = `table ip aplm {\n chain pre {\n  type filter hook prerouting priority mangle; policy accept;\n${rules.map((r) => `  ${r}\n`).join('')} }\n}\n`;
const counters = (d) => {
  const j = JSON.parse(ns(d, 'nft -j list table ip aplm'));
  const c = {};
  for (const { rule } of j.nftables) if (rule) c[rule.comment] = rule.expr.find((e) => e.counter).counter.packets;
  return c;
};
const resetCounters = (d) => {
  ns(d, 'nft delete table ip aplm 2>/dev/null || true');
  ns(d, `nft -f - <<'EOF'\n${nftRules}EOF`);
};

/** One long-lived connection from the client (the lab's holder): open, probe (one data packet each way), close. */
function holder() {
  const c = spawn(
    'ip',
    [
      'netns',
      'exec',
      'apl-c',
      process.execPath,
      `${root}/dist/src/lab/holder.js`,
      JSON.stringify({ target: VIP, port: 80, sources: [addr['apl-c']], count: 1, timeoutMs: 1500 }),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(c);
  const lines = createInterface({ input: c.stdout })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value);
  return {
    opened: next().then((o) => o.opened[0]),
    async probe() {
      c.stdin.write('probe\n');
      const r = await next();
      return { alive: r.alive[0], closed: r.closed[0] };
    },
    close() {
      c.stdin.write('close\n');
      c.stdin.end();
    },
  };
}

const flowOf = (h) => `${addr['apl-c']}:${h.sport}`;
/** The flow's lines in a director's IPVS connection table (ipvsadm -Lnc: pro expire state source virtual destination). */
const ipvsConn = (d, h) =>
  ns(d, 'ipvsadm -Lnc')
    .split('\n')
    .filter((l) => l.includes(` ${flowOf(h)} `))
    .map((l) => l.trim().split(/\s+/));
/** Conntrack entries on a director for the flow (conntrack -L prints them on stdout, a summary on stderr). */
const conntrackOf = (d, h) => ns(d, `conntrack -L -p tcp --orig-port-src ${h.sport} 2>/dev/null || true`).split('\n').filter(Boolean);

/** A direct-routed connection through apl-d1 with the given vs.conntrack: 5 probes, then what d1 saw. */
async function directed(conntrack) {
  ns('apl-d1', `sysctl -qw net.ipv4.vs.conntrack=${conntrack}`);
  resetCounters('apl-d1');
  const h = holder();
  const opened = await h.opened;
  const probes = [];
  for (let i = 0; i < 5; i++) probes.push(await h.probe());
  const r = { opened, probes, conntrackWhileOpen: conntrackOf('apl-d1', opened), ipvs: ipvsConn('apl-d1', opened), counters: counters('apl-d1') };
  h.close();
  await sleep(300);
  r.conntrackAfterClose = conntrackOf('apl-d1', opened);
  return r;
}

try {
  toDirector('apl-d1');
  await sleep(500);
  say('vs.conntrack=0');
  out.conntrack0 = await directed(0);
  say('vs.conntrack=1');
  out.conntrack1 = await directed(1);
  ns('apl-d1', 'sysctl -qw net.ipv4.vs.conntrack=0');

  // Sync: d1 master, d2 backup (defaults: sync_threshold "3 50", sync_refresh_period 0).
  ns('apl-d1', 'ipvsadm --start-daemon master --mcast-interface eth0 --syncid 13');
  ns('apl-d2', 'ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 13');
  out.syncSysctls = ns('apl-d1', 'sysctl net.ipv4.vs.sync_threshold net.ipv4.vs.sync_refresh_period net.ipv4.vs.sync_version');
  await sleep(500);
  resetCounters('apl-d1');
  say('sync: one connection, polled on the backup');
  const h = holder();
  const opened = await h.opened;
  const tOpen = Date.now();
  const seen = { afterProbes: null, ms: null, packetsAtMaster: null, quietMs: 3000 };
  // First without sending anything (the handshake and the client's ACKs of the greeting only), then one probe at a time.
  for (let k = 0; k <= 8 && seen.ms === null; k++) {
    if (k > 0) await h.probe();
    const until = Date.now() + (k === 0 ? seen.quietMs : 400);
    while (Date.now() < until) {
      if (ipvsConn('apl-d2', opened).length) {
        seen.ms = Date.now() - tOpen;
        seen.afterProbes = k;
        seen.packetsAtMaster = counters('apl-d1')['other all'] + counters('apl-d1')['syn all'];
        break;
      }
      await sleep(20);
    }
  }
  out.sync = { opened, seen, masterEntry: ipvsConn('apl-d1', opened), backupEntry: ipvsConn('apl-d2', opened) };
  // The flow moved to the backup mid-stream: does it still reach its real server?
  resetCounters('apl-d2');
  toDirector('apl-d2');
  await sleep(200);
  const moved = [];
  for (let i = 0; i < 3; i++) moved.push(await h.probe());
  out.sync.movedProbes = moved;
  out.sync.backupEntryAfterMove = ipvsConn('apl-d2', opened);
  out.sync.backupCounters = counters('apl-d2');
  h.close();

  // A connection moved to the backup before it was synced (right after the handshake).
  say('sync: a young connection moved at once');
  toDirector('apl-d1');
  await sleep(200);
  const y = holder();
  const yOpened = await y.opened;
  const youngBackupBefore = ipvsConn('apl-d2', yOpened);
  toDirector('apl-d2');
  out.young = { opened: yOpened, backupEntryBeforeMove: youngBackupBefore, probe: await y.probe(), masterEntry: ipvsConn('apl-d1', yOpened) };
  out.young.backupEntryAfter = ipvsConn('apl-d2', yOpened);
  y.close();
  out.sloppyTcp = ns('apl-d2', 'sysctl -n net.ipv4.vs.sloppy_tcp').trim();
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  for (const c of children) c.kill('SIGKILL');
  out.guestSeconds = (Date.now() - t0) / 1000;
  writeFileSync(`${process.env.AAVIP_RESULTS}/conntrack-ipvs.json`, JSON.stringify(out, null, 1));
}
