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
const spawnIn = (n, args) => {
  const c = spawn('ip', ['netns', 'exec', n, ...args], { stdio: 'ignore' });
  children.push(c);
  return c;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Topology, all on one bridge: client 198.18.0.2/24 — director 198.18.0.1 with the VIP .100, and
// 198.18.2.1 — r1 198.18.2.11 (NAT: routes back through the director), r2 198.18.2.12 (direct
// routing: answers the client itself, from the VIP it carries on lo).
for (const n of ['hdrc', 'hdrd', 'hdrr1', 'hdrr2', 'hdrsw']) {
  sh(`ip netns add ${n}`);
  ns(n, 'ip link set lo up');
}
ns('hdrsw', 'ip link add br0 type bridge');
ns('hdrsw', 'ip link set br0 up');
for (const [n, p] of [
  ['hdrc', 'pc'],
  ['hdrd', 'pd'],
  ['hdrr1', 'p1'],
  ['hdrr2', 'p2'],
]) {
  sh(`ip link add eth0 netns ${n} type veth peer name ${p} netns hdrsw`);
  ns('hdrsw', `ip link set ${p} master br0 up`);
  ns(n, 'ip link set eth0 up');
}
ns('hdrc', 'ip addr add 198.18.0.2/24 dev eth0');
ns('hdrc', 'ip route add default via 198.18.0.1');
ns('hdrd', 'ip addr add 198.18.0.1/24 dev eth0');
ns('hdrd', 'ip addr add 198.18.0.100/32 dev eth0');
ns('hdrd', 'ip addr add 198.18.2.1/24 dev eth0');
ns('hdrd', 'sysctl -qw net.ipv4.ip_forward=1');
ns('hdrr1', 'ip addr add 198.18.2.11/24 dev eth0');
ns('hdrr1', 'ip route add default via 198.18.2.1');
ns('hdrr2', 'ip addr add 198.18.2.12/24 dev eth0');
ns('hdrr2', 'ip route add 198.18.0.0/24 dev eth0');
// Direct routing: r2 carries the VIP on lo and never answers ARP for it.
ns('hdrr2', 'ip addr add 198.18.0.100/32 dev lo');
ns('hdrr2', 'sysctl -qw net.ipv4.conf.all.arp_ignore=1');
ns('hdrr2', 'sysctl -qw net.ipv4.conf.all.arp_announce=2');

const responder = `${root}/dist/src/lab/responder.js`;
let r1 = spawnIn('hdrr1', [process.execPath, responder, 'r1', '8080']);
let r2 = spawnIn('hdrr2', [process.execPath, responder, 'r2', '80']);
spawnIn('hdrd', [process.execPath, responder, 'fallback', '9090']);
await sleep(800);

mkdirSync('/run/aavip', { recursive: true });
// A second virtual service names a scheduler the kernel has no module for: IPVS refuses it
// (ENOENT) and the director must manage :80 regardless, report :81, and add it once it is fixed.
const cf = (scheduler81) => `checkinterval=1
checktimeout=1
quiescent=yes
virtual=198.18.0.100:80
\treal=198.18.2.11:8080 masq 3
\treal=198.18.2.12:80 gate 1
\tfallback=198.18.2.1:9090 masq
\tchecktype=connect
\tscheduler=wrr
virtual=198.18.0.100:81
\treal=198.18.2.11:8080 masq 2
\tchecktype=on
\tscheduler=${scheduler81}
`;
writeFileSync('/mnt/ld.cf', cf('wrrr'));
const ld = (args) => ns('hdrd', `${process.execPath} ${CLI} ldirectord -f /mnt/ld.cf ${args}`);
const ipvsadm = () => ns('hdrd', 'ipvsadm -Ln');
const burst = async (n) => {
  const counts = {};
  for (let i = 0; i < n; i++) {
    const a = JSON.parse(
      ns(
        'hdrc',
        `${process.execPath} -e "import('${root}/dist/src/lab/client.js').then(async m => console.log(JSON.stringify(await m.attempt('198.18.0.100', 80, '198.18.0.2', 3000))))"`,
      ),
    );
    counts[a.node ?? `error:${a.error}`] = (counts[a.node ?? `error:${a.error}`] ?? 0) + 1;
  }
  return counts;
};
const waitFor = async (what, pred, ms = 8000) => {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const t = ipvsadm();
    if (pred(t)) return Date.now() - t0;
    await sleep(200);
  }
  throw new Error(`timed out: ${what}\n${ipvsadm()}`);
};

try {
  ld('start --ipvs netlink');
  out.steps.started = await waitFor('both reals in', (t) => /198\.18\.2\.11:8080\s+Masq\s+3/.test(t) && /198\.18\.2\.12:80\s+Route\s+1/.test(t));
  out.table1 = ipvsadm();
  out.status1 = JSON.parse(ld('status --json'));
  out.burst1 = await burst(24);
  r2.kill();
  await sleep(100);
  out.steps.r2Quiesced = await waitFor('r2 at weight 0', (t) => /198\.18\.2\.12:80\s+Route\s+0/.test(t));
  out.burst2 = await burst(12);
  r1.kill();
  out.steps.fallbackIn = await waitFor('fallback in', (t) => /198\.18\.2\.1:9090\s+(Masq|Local)\s+1/.test(t));
  out.burst3 = await burst(6);
  r1 = spawnIn('hdrr1', [process.execPath, responder, 'r1', '8080']);
  out.steps.fallbackOut = await waitFor('fallback out, r1 back', (t) => !/198\.18\.2\.1:9090/.test(t) && /198\.18\.2\.11:8080\s+Masq\s+3/.test(t));
  out.status = JSON.parse(ld('status --json'));
  // Fixed in the file and reloaded: the refused service comes in, :80 is untouched.
  writeFileSync('/mnt/ld.cf', cf('rr'));
  ld('reload');
  out.steps.fixedIn = await waitFor(
    ':81 added after the fix',
    (t) => /TCP\s+198\.18\.0\.100:81 rr/.test(t) && /198\.18\.0\.100:81 rr[\s\S]*198\.18\.2\.11:8080\s+Masq\s+2/.test(t),
  );
  out.tableFixed = ipvsadm();
  out.statusFixed = JSON.parse(ld('status --json'));
  writeFileSync('/mnt/ld.cf', cf('wrrr'));
  ld('stop');
  out.afterStop = ipvsadm();

  // The same configuration through ipvsadm reaches the same table.
  r2 = spawnIn('hdrr2', [process.execPath, responder, 'r2', '80']);
  await sleep(500);
  ld('start --ipvs ipvsadm');
  out.steps.ipvsadmStarted = await waitFor(
    'both reals in (ipvsadm)',
    (t) => /198\.18\.2\.11:8080\s+Masq\s+3/.test(t) && /198\.18\.2\.12:80\s+Route\s+1/.test(t),
  );
  out.table2 = ipvsadm();
  out.status2 = JSON.parse(ld('status --json'));
  ld('stop');

  // The netlink driver's connection-sync daemon messages, against the kernel, read back by ipvsadm too.
  writeFileSync(
    '/tmp/hdr-sync.mjs',
    `import('${root}/dist/src/lvs/ipvs/netlink.js').then(async ({ NetlinkIpvs }) => {
    const ipvs = await NetlinkIpvs.open();
    await ipvs.startSyncDaemon({ state: 'master', interface: 'eth0', syncId: 7, maxLength: 1400, group: '239.1.2.3', port: 8848, ttl: 2 });
    const listed = await ipvs.listSyncDaemons();
    const { execFileSync } = await import('node:child_process');
    const shown = execFileSync('ipvsadm', ['-L', '--daemon'], { encoding: 'utf8' });
    await ipvs.stopSyncDaemon('master');
    const after = await ipvs.listSyncDaemons();
    ipvs.close();
    console.log(JSON.stringify({ listed, shown, after }));
  });
`,
  );
  out.sync = JSON.parse(ns('hdrd', `${process.execPath} /tmp/hdr-sync.mjs`));
} catch (e) {
  out.error = String(e?.stack ?? e);
} finally {
  for (const c of children) c.kill('SIGKILL');
  writeFileSync('/mnt/ipvs.json', JSON.stringify(out));
}
