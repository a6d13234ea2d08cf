// Runs inside the 6.1 VM: aavip's ldirectord role driving real IPVS. A client network and a
// server network meet at a director namespace; two real servers (one NAT, one direct routing),
// and a fallback on the director. Writes ipvs.json to the results folder.
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
const root = process.env.AAVIP_ROOT;
const CLI = `${root}/dist/src/cli/main.js`;

const sh = (cmd) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });
const ns = (n, cmd) => sh(`ip netns exec ${n} ${cmd}`);
const out = { steps: {} };
const children = [];
const spawnIn = (n, args) => { const c = spawn('ip', ['netns', 'exec', n, ...args], { stdio: 'ignore' }); children.push(c); return c; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Topology, all on one bridge: client 198.18.0.2/24 — director 198.18.0.1 with the VIP .100, and
// 198.18.2.1 — r1 198.18.2.11 (NAT: routes back through the director), r2 198.18.2.12 (direct
// routing: answers the client itself, from the VIP it carries on lo).
for (const n of ['lvc', 'lvd', 'lvr1', 'lvr2', 'lvsw']) { sh(`ip netns add ${n}`); ns(n, 'ip link set lo up'); }
ns('lvsw', 'ip link add br0 type bridge'); ns('lvsw', 'ip link set br0 up');
for (const [n, p] of [['lvc', 'pc'], ['lvd', 'pd'], ['lvr1', 'p1'], ['lvr2', 'p2']]) {
  sh(`ip link add eth0 netns ${n} type veth peer name ${p} netns lvsw`);
  ns('lvsw', `ip link set ${p} master br0 up`);
  ns(n, 'ip link set eth0 up');
}
ns('lvc', 'ip addr add 198.18.0.2/24 dev eth0'); ns('lvc', 'ip route add default via 198.18.0.1');
ns('lvd', 'ip addr add 198.18.0.1/24 dev eth0'); ns('lvd', 'ip addr add 198.18.0.100/32 dev eth0'); ns('lvd', 'ip addr add 198.18.2.1/24 dev eth0');
ns('lvd', 'sysctl -qw net.ipv4.ip_forward=1');
ns('lvr1', 'ip addr add 198.18.2.11/24 dev eth0'); ns('lvr1', 'ip route add default via 198.18.2.1');
ns('lvr2', 'ip addr add 198.18.2.12/24 dev eth0'); ns('lvr2', 'ip route add 198.18.0.0/24 dev eth0');
// Direct routing: r2 carries the VIP on lo and never answers ARP for it.
ns('lvr2', 'ip addr add 198.18.0.100/32 dev lo'); ns('lvr2', 'sysctl -qw net.ipv4.conf.all.arp_ignore=1'); ns('lvr2', 'sysctl -qw net.ipv4.conf.all.arp_announce=2');

const responder = `${root}/dist/src/lab/responder.js`;
let r1 = spawnIn('lvr1', [process.execPath, responder, 'r1', '8080']);
let r2 = spawnIn('lvr2', [process.execPath, responder, 'r2', '80']);
spawnIn('lvd', [process.execPath, responder, 'fallback', '9090']);
await sleep(800);

mkdirSync('/run/aavip', { recursive: true });
writeFileSync('/mnt/ld.cf', `checkinterval=1
checktimeout=1
quiescent=yes
virtual=198.18.0.100:80
\treal=198.18.2.11:8080 masq 3
\treal=198.18.2.12:80 gate 1
\tfallback=198.18.2.1:9090 masq
\tchecktype=connect
\tscheduler=wrr
`);
const ld = (args) => ns('lvd', `${process.execPath} ${CLI} ldirectord -f /mnt/ld.cf ${args}`);
const ipvsadm = () => ns('lvd', 'ipvsadm -Ln');
const burst = async (n) => {
  const counts = {};
  for (let i = 0; i < n; i++) {
    const a = JSON.parse(ns('lvc', `${process.execPath} -e "import('${root}/dist/src/lab/client.js').then(async m => console.log(JSON.stringify(await m.attempt('198.18.0.100', 80, '198.18.0.2', 3000))))"`));
    counts[a.node ?? `error:${a.error}`] = (counts[a.node ?? `error:${a.error}`] ?? 0) + 1;
  }
  return counts;
};
const waitFor = async (what, pred, ms = 8000) => {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) { const t = ipvsadm(); if (pred(t)) return Date.now() - t0; await sleep(200); }
  throw new Error(`timed out: ${what}\n${ipvsadm()}`);
};

try {
  ld('start --ipvs netlink');
  out.steps.started = await waitFor('both reals in', (t) => /198\.18\.2\.11:8080\s+Masq\s+3/.test(t) && /198\.18\.2\.12:80\s+Route\s+1/.test(t));
  out.table1 = ipvsadm();
  out.burst1 = await burst(24);
  r2.kill(); await sleep(100);
  out.steps.r2Quiesced = await waitFor('r2 at weight 0', (t) => /198\.18\.2\.12:80\s+Route\s+0/.test(t));
  out.burst2 = await burst(12);
  r1.kill();
  out.steps.fallbackIn = await waitFor('fallback in', (t) => /198\.18\.2\.1:9090\s+(Masq|Local)\s+1/.test(t));
  out.burst3 = await burst(6);
  r1 = spawnIn('lvr1', [process.execPath, responder, 'r1', '8080']);
  out.steps.fallbackOut = await waitFor('fallback out, r1 back', (t) => !/198\.18\.2\.1:9090/.test(t) && /198\.18\.2\.11:8080\s+Masq\s+3/.test(t));
  out.status = JSON.parse(ld('status --json'));
  ld('stop');
  out.afterStop = ipvsadm();

  // The same configuration through ipvsadm reaches the same table.
  r2 = spawnIn('lvr2', [process.execPath, responder, 'r2', '80']);
  await sleep(500);
  ld('start --ipvs ipvsadm');
  out.steps.ipvsadmStarted = await waitFor('both reals in (ipvsadm)', (t) => /198\.18\.2\.11:8080\s+Masq\s+3/.test(t) && /198\.18\.2\.12:80\s+Route\s+1/.test(t));
  out.table2 = ipvsadm();
  ld('stop');

} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  for (const c of children) c.kill('SIGKILL');
  writeFileSync('/mnt/ipvs.json', JSON.stringify(out));
}
