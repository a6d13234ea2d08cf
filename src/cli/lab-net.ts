// `aavip lab up|status|down|demo`: a three-node active/active VIP in network namespaces.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { bucketsOf } from '../assignment/assign.js';
import { run } from '../exec.js';
import { VipLab, summarize, nodeName, VIP_ADDRESS } from '../lab/vip-lab.js';
import { NetnsLab } from '../lab/netns.js';
import { log } from '../log.js';
import { InputError } from '../errors.js';
import { hashmodeOption, positiveInt } from './options.js';
import { progressBar, table } from './progress.js';
import { runDir } from '../paths.js';

/** The demo is a bounded burst, not a load test. */
const MAX_DEMO_CONNECTIONS = 20_000;

const STATE_DIR = runDir();
const statePath = (prefix: string) => `${STATE_DIR}/lab-${prefix}.json`;

export function prefixOption(text: string): string {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(text)) throw new InvalidArgumentError('1-8 lower-case letters or digits, starting with a letter');
  return text;
}

export function register(lab: Command): void {
  registerDemo(lab);
  registerUpStatusDown(lab);
}

interface DemoOptions {
  hashmode: never;
  connections: number;
  buckets: number;
  prefix: string;
  json?: boolean;
}

function registerDemo(lab: Command): void {
  lab
    .command('demo')
    .description('build a three-node active/active VIP in namespaces, send real connections, check each answer against the hash model, tear down')
    .option('--hashmode <mode>', 'sourceip | sourceip-sourceport | sourceip-sourceport-destport', hashmodeOption, 'sourceip-sourceport')
    .option('--connections <n>', 'connections to make', positiveInt, 600)
    .option('--buckets <n>', 'buckets', positiveInt, 256)
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'aavdemo')
    .option('--json', 'print the result as JSON')
    .action(runDemo);
}

async function runDemo(o: DemoOptions): Promise<void> {
  const t0 = performance.now();
  if (o.connections > MAX_DEMO_CONNECTIONS) throw new InputError(`at most ${MAX_DEMO_CONNECTIONS} connections`, { field: '--connections' });
  // Interrupted while building or running: tear down (namespaces and the processes in them), exit 130.
  let vl: VipLab | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    if (vl) void vl.destroy().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  if (!o.json) process.stderr.write(`building the lab: switch, 3 nodes, client (namespaces ${o.prefix}-*) ...\n`);
  try {
    vl = await VipLab.create({ prefix: o.prefix, hashmode: o.hashmode, buckets: o.buckets });
  } catch (e) {
    if (interrupted) process.exit(130);
    throw e;
  }
  if (interrupted) {
    await vl.destroy();
    process.exit(130);
  }
  try {
    if (!o.json)
      process.stderr.write(
        `VIP ${VIP_ADDRESS} (${vl.vip.hashmode}, ${vl.vip.buckets} buckets, nft) on 3 nodes; ${o.connections} connections from ${vl.lab.clientSources.length} client addresses ...\n`,
      );
    const bar = o.json ? undefined : progressBar('connections');
    const attempts = await vl.burst(o.connections, 32, 3_000, bar && ((done, total) => bar.update(done, total)));
    bar?.finish();
    const s = await reportDemo(vl, attempts, t0, o.json);
    if (s.failed > 0 || s.mispredicted > 0) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await vl.destroy();
  }
}

/** Prints what the demo's connections showed (a table, or JSON) and returns the summary. */
async function reportDemo(vl: VipLab, attempts: Parameters<typeof summarize>[1], t0: number, json?: boolean) {
  const s = summarize(vl, attempts);
  const neigh = await vl.lab.exec(vl.lab.clientNs, ['ip', 'neigh', 'show', VIP_ADDRESS]);
  const clientSeesMac = neigh.stdout.match(/lladdr ([0-9a-f:]+)/)?.[1];
  const result = {
    ...s,
    hashmode: vl.vip.hashmode,
    buckets: vl.vip.buckets,
    seed: vl.vip.seed,
    vip: VIP_ADDRESS,
    clusterMac: vl.vip.mac,
    clientSeesMac,
    bucketsPerNode: Object.fromEntries(vl.lab.nodeIds.map((i) => [nodeName(i), bucketsOf(vl.owners, i).length])),
    seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
  };
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  else {
    process.stdout.write(
      table(
        ['node', 'buckets', 'answered', 'share'],
        vl.lab.nodeIds.map((i) => {
          const n = s.perNode[nodeName(i)] ?? 0;
          return [nodeName(i), result.bucketsPerNode[nodeName(i)], n, `${((100 * n) / s.connections).toFixed(1)}%`];
        }),
      ) + '\n',
    );
    process.stdout.write(
      `\n${s.connections} connections, ${s.failed} failed, ${s.mispredicted} answered by a node other than the model's prediction\n` +
        `client's neighbour entry for the VIP: ${clientSeesMac} (cluster MAC ${vl.vip.mac})\n`,
    );
  }
  return s;
}

function registerUpStatusDown(lab: Command): void {
  lab
    .command('up')
    .description('build the lab and leave it running (the VIP on every node, a responder on :8080)')
    .option('--hashmode <mode>', 'hashmode', hashmodeOption, 'sourceip-sourceport')
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'aavip')
    .action(async (o: { hashmode: never; prefix: string }) => {
      const vl = await VipLab.create({ prefix: o.prefix, hashmode: o.hashmode });
      // The responders must outlive this command: hand their PIDs to `lab down`.
      const pids = vl.lab.detachAll();
      await mkdir(STATE_DIR, { recursive: true });
      await writeFile(statePath(o.prefix), JSON.stringify({ prefix: o.prefix, pids, vip: VIP_ADDRESS, args: vl.vipArgs() }));
      log.info({ prefix: o.prefix, nodes: vl.lab.nodeIds.map((i) => vl.lab.nodeNs(i)), client: vl.lab.clientNs, vip: VIP_ADDRESS }, 'lab up');
    });

  lab
    .command('status')
    .description("the lab's namespaces and what each node carries")
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'aavip')
    .option('--json', 'print as JSON')
    .action(async (o: { prefix: string; json?: boolean }) => {
      const state = JSON.parse(await readFile(statePath(o.prefix), 'utf8').catch(() => 'null')) as { args: string[] } | null;
      const list = (await run('ip', ['netns', 'list'])).stdout
        .split('\n')
        .map((l) => l.split(' ')[0])
        .filter((n) => n.startsWith(`${o.prefix}-`))
        .sort();
      const nodes = [];
      for (const ns of list.filter((n) => /-n\d+$/.test(n))) {
        const r = state
          ? await run('ip', ['netns', 'exec', ns, process.execPath, process.argv[1], 'vip', 'status', ...state.args, '--json'], { allowFailure: true })
          : undefined;
        nodes.push({ namespace: ns, vip: r?.stdout ? JSON.parse(r.stdout) : null });
      }
      const out = { namespaces: list, nodes };
      if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
      else if (list.length === 0) process.stdout.write(`no lab with prefix ${o.prefix}\n`);
      else
        process.stdout.write(
          table(
            ['namespace', 'owned buckets', 'address'],
            nodes.map((n) => [n.namespace, n.vip?.ownership?.owned.length ?? 0, n.vip?.addressPresent ? 'yes' : 'no']),
          ) + '\n',
        );
      if (list.length === 0) process.exitCode = 3;
    });

  lab
    .command('down')
    .description('remove the lab: its processes (by PID) and namespaces')
    .option('--prefix <p>', 'namespace name prefix', prefixOption, 'aavip')
    .action(async (o: { prefix: string }) => {
      const state = JSON.parse(await readFile(statePath(o.prefix), 'utf8').catch(() => 'null')) as { pids: number[] } | null;
      for (const pid of state?.pids ?? []) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      await NetnsLab.remove(o.prefix);
      await rm(statePath(o.prefix), { force: true });
      log.info({ prefix: o.prefix }, 'lab down');
    });
}
