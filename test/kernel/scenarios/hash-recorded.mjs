// Runs inside the 6.1 VM. Records real TCP connections through real CLUSTERIP and real xt_cluster,
// programmed directly with iptables-legacy (not through aavip's backends, so the recording tests
// the hash models alone). Three node namespaces and a client on a bridge, 198.18.0.0/16 only.
//
// For every connection it records the 5-tuple, the node that answered, and the kernel's own bucket:
// CLUSTERIP writes the node number into the connection's conntrack mark on NEW; for xt_cluster one
// CONNMARK rule per bucket (`-m cluster --cluster-local-node k -j CONNMARK --set-mark k`) does the same.
// Each node accepts only the buckets it owns, so the answering node must be the owner of that bucket.
//
// Input: $AAVIP_RESULTS/configs.json ([{mechanism, hashmode, seed, buckets, connections}]).
// Output: $AAVIP_RESULTS/recorded.csv and recorded.json (configs with owners, timings, counts).
// Roles: no argument = the scenario; `serve NAME PORT...` = a node's server; `connect` = the client.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

const ROOT = process.env.AAVIP_ROOT;
const RESULTS = process.env.AAVIP_RESULTS ?? '/mnt';
const SELF = new URL(import.meta.url).pathname;
const PORTS = [8080, 8081, 8082, 8083];
const NODES = 3;

/** A node's server: answers each connection on each port with the node's name. */
async function serve(name, ports) {
  await Promise.all(
    ports.map((port) => {
      const server = createServer((s) => {
        s.on('error', () => s.destroy());
        s.end(`${name}\n`);
      });
      server.listen(port, '0.0.0.0');
      return once(server, 'listening');
    }),
  );
  process.stdout.write('ready\n');
}

/** The client: the planned connections (JSON on stdin), bounded in number and time; JSON results on stdout. */
async function connect() {
  const { attempt } = await import(`${ROOT}/dist/src/lab/client.js`);
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const { plan, concurrency, timeoutMs } = JSON.parse(text);
  const results = new Array(plan.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < plan.length; i = next++) {
      const p = plan[i];
      results[i] = { ...p, ...(await attempt(p.dst, p.dport, p.src, timeoutMs, p.sport)) };
      if (++done % 250 === 0) process.stderr.write(`${done}/${plan.length} connections\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
  process.stdout.write(JSON.stringify(results));
}

const hex = (n) => `0x${n.toString(16)}`;
const mac = (group, k) => `01:00:5e:00:${group.toString(16).padStart(2, '0')}:${k.toString(16).padStart(2, '0')}`;

/** Bucket b's owner: buckets dealt round-robin to the three nodes, rotated per config. */
const ownerOf = (k, b) => ((b - 1 + k) % NODES) + 1;

/** iptables-legacy-restore input for node i: every config's rules. */
function rulesFor(i, configs) {
  const filter = [];
  const mangle = [];
  configs.forEach((c, k) => {
    const owned = Array.from({ length: c.buckets }, (_, j) => j + 1).filter((b) => ownerOf(k, b) === i);
    if (c.mechanism === 'clusterip') {
      // The rule starts the config with one local node; the others are added through /proc.
      filter.push(
        `-A INPUT -d ${c.vip}/32 -i eth0 -p tcp -j CLUSTERIP --new --hashmode ${c.hashmode} --clustermac ${mac(1, k)} ` +
          `--total-nodes ${c.buckets} --local-node ${owned[0]} --hash-init ${c.seed}`,
      );
    } else {
      for (let b = 1; b <= c.buckets; b++) {
        mangle.push(
          `-A PREROUTING -d ${c.vip}/32 -p tcp -m cluster --cluster-total-nodes ${c.buckets} --cluster-local-node ${b} ` +
            `--cluster-hash-seed ${hex(c.seed)} -j CONNMARK --set-mark ${b}`,
        );
      }
      for (const b of owned) mangle.push(`-A PREROUTING -d ${c.vip}/32 -p tcp -m connmark --mark ${b} -j ACCEPT`);
      mangle.push(`-A PREROUTING -d ${c.vip}/32 -p tcp -j DROP`);
    }
  });
  return `*filter\n${filter.join('\n')}\nCOMMIT\n*mangle\n${mangle.join('\n')}\nCOMMIT\n`;
}

/** One shell script per node, so each node costs one process start (slow under emulation). */
function nodeSetup(i, configs) {
  const lines = [
    'set -e',
    // Keep closed connections in the conntrack table until they are read at the end.
    `sysctl -qw ${['close', 'time_wait', 'fin_wait', 'close_wait', 'last_ack'].map((t) => `net.netfilter.nf_conntrack_tcp_timeout_${t}=900`).join(' ')}`,
    `ip -batch - <<'EOF'\n${configs.map((c) => `addr add ${c.vip}/32 dev eth0`).join('\n')}\nEOF`,
    // Not in the batch: `ip -batch` ends quietly after an maddr command.
    ...configs.flatMap((c, k) => (c.mechanism === 'xt_cluster' ? [`ip maddr add ${mac(2, k)} dev eth0`] : [])),
    `iptables-legacy-restore <<'EOF'\n${rulesFor(i, configs)}EOF`,
  ];
  configs.forEach((c, k) => {
    if (c.mechanism !== 'clusterip') return;
    const owned = Array.from({ length: c.buckets }, (_, j) => j + 1).filter((b) => ownerOf(k, b) === i);
    for (const b of owned.slice(1)) lines.push(`echo +${b} > /proc/net/ipt_CLUSTERIP/${c.vip}`);
    // cat, not the shell's read: the kernel's seq_file for this file repeats the first number on 1-byte reads.
    lines.push(`echo "${c.vip} $(cat /proc/net/ipt_CLUSTERIP/${c.vip})"`);
  });
  return lines.join('\n') + '\n';
}

function sh(ns, script, input) {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'sh', '-c', script], { input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`in ${ns}: ${script.slice(0, 200)}... exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

async function scenario() {
  const { NetnsLab } = await import(`${ROOT}/dist/src/lab/netns.js`);
  const configs = JSON.parse(readFileSync(`${RESULTS}/configs.json`, 'utf8')).map((c, k) => ({ ...c, vip: `198.18.0.${100 + k}` }));
  const t0 = Date.now();
  const log = (m) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${m}\n`);
  const lab = await NetnsLab.create({ prefix: 'vmh', nodes: NODES, clientAddresses: 250 });
  const meta = { configs: [], proc: {}, timings: {} };
  try {
    log('lab built');
    for (const i of lab.nodeIds) {
      for (const line of sh(lab.nodeNs(i), nodeSetup(i, configs)).trim().split('\n').filter(Boolean)) {
        const [vip, nodes] = line.split(' ');
        (meta.proc[vip] ??= {})[`node${i}`] = nodes ?? '';
      }
      const server = lab.spawn(lab.nodeNs(i), [process.execPath, SELF, 'serve', `node${i}`, ...PORTS.map(String)]);
      await once(server.stdout, 'data');
    }
    // xt_cluster VIPs are reached through their multicast MAC, as a cluster's router would.
    configs.forEach((c, k) => {
      if (c.mechanism === 'xt_cluster') sh(lab.clientNs, `ip neigh replace ${c.vip} lladdr ${mac(2, k)} nud permanent dev eth0`);
    });
    meta.timings.setupMs = Date.now() - t0;
    log('rules and servers up');

    // Many source addresses and ports, all four destination ports, configs interleaved.
    const sources = lab.clientSources;
    const plan = [];
    const longest = Math.max(...configs.map((c) => c.connections));
    for (let j = 0; j < longest; j++) {
      configs.forEach((c, k) => {
        // Source ports chosen here, all distinct and spread: the kernel's ephemeral choice would
        // repeat a port now and then, and one tuple recorded twice would make a mismatch ambiguous.
        if (j < c.connections)
          plan.push({
            config: k,
            src: sources[(j * 7 + k * 31) % sources.length],
            sport: 20_000 + ((plan.length * 7919) % 40_000),
            dst: c.vip,
            dport: PORTS[(j + k) % PORTS.length],
          });
      });
    }
    const t1 = Date.now();
    const out = sh(lab.clientNs, `exec ${process.execPath} ${SELF} connect`, JSON.stringify({ plan, concurrency: 24, timeoutMs: 15_000 }));
    const attempts = JSON.parse(out);
    meta.timings.connectMs = Date.now() - t1;
    log(`${attempts.length} connections made`);

    // The kernel's bucket: the conntrack mark of the connection, on the node that holds it.
    const kernel = new Map();
    for (const i of lab.nodeIds) {
      const listing = sh(lab.nodeNs(i), 'conntrack -L -p tcp 2>/dev/null');
      for (const m of listing.matchAll(/^tcp\s+6\s+\d+\s+\S+\s+src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) .*?mark=(\d+)/gm)) {
        kernel.set(`${m[1]}:${m[3]}>${m[2]}:${m[4]}`, { node: `node${i}`, mark: Number(m[5]) });
      }
    }
    const header = 'config,mechanism,hashmode,seed,buckets,src_ip,src_port,dst_ip,dst_port,proto,answered_by,conntrack_node,kernel_bucket,error';
    const rows = attempts.map((a) => {
      const c = configs[a.config];
      const k = kernel.get(`${a.src}:${a.sport}>${a.dst}:${a.dport}`);
      return [
        a.config,
        c.mechanism,
        c.hashmode,
        hex(c.seed),
        c.buckets,
        a.src,
        a.sport,
        a.dst,
        a.dport,
        'tcp',
        a.node ?? '',
        k?.node ?? '',
        k?.mark ?? '',
        a.error ?? '',
      ].join(',');
    });
    writeFileSync(`${RESULTS}/recorded.csv`, [header, ...rows].join('\n') + '\n');
    meta.configs = configs.map((c, k) => ({ ...c, owners: Array.from({ length: c.buckets }, (_, j) => ownerOf(k, j + 1)) }));
    meta.timings.totalMs = Date.now() - t0;
    if (process.env.DEBUG)
      meta.debug =
        sh(lab.nodeNs(1), 'iptables-legacy-save -c; ip maddr show dev eth0; ip addr show dev eth0') +
        sh(lab.clientNs, 'ip neigh show; ip -s link show dev eth0');
    log('recorded');
  } finally {
    writeFileSync(`${RESULTS}/recorded.json`, JSON.stringify(meta, null, 1));
    await lab.destroy();
  }
}

const role = process.argv[2];
if (role === 'serve') await serve(process.argv[3], process.argv.slice(4).map(Number));
else if (role === 'connect') await connect();
else await scenario();
