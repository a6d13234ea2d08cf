// `aavip hash owner`: which bucket the kernel puts each flow in, and with --config which node
// serves it.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { assign } from '../assignment/assign.js';
import { loadSharedConfig, type SharedConfig } from '../config/cluster.js';
import { parseVipSpec, vipCidr } from '../dataplane/vipspec.js';
import type { VipSpec } from '../dataplane/types.js';
import { InputError } from '../errors.js';
import { parseFlowLine } from '../hash/csv.js';
import { formatAddress, parseAddress, protocolName } from '../hash/flow.js';
import type { Hashmode } from '../hash/hashmode.js';
import { bucketOf, checkParams, LIMITS, type HashParams, type Mechanism } from '../hash/mechanisms.js';
import { hashmodeOption, mechanismOption, positiveInt, seedOrAutoOption } from './options.js';

interface OwnerOptions {
  config?: string;
  vip?: string;
  mechanism?: Mechanism;
  hashmode?: Hashmode;
  seed?: number | 'auto';
  ip?: string;
  buckets?: number;
  json?: boolean;
}

/** What to hash with, and with --config the node owning each bucket. */
interface Model {
  params: HashParams;
  nodeOf?: (bucket: number) => string;
}

const usage = (message: string) => new InputError(message, { field: 'options' });

/** `seed: auto` as the daemon derives it: through parseVipSpec itself, so the two cannot differ. */
function autoSeedOf(ip: string): number {
  const address = parseAddress(ip.replace(/\/\d+$/, ''));
  if (!address) throw new InputError(`'${ip}' is not an IP address`, { field: '--ip' });
  return parseVipSpec({ address: `${formatAddress(address)}/${address.family === 4 ? 32 : 128}`, interface: 'lo', seed: 'auto', backend: 'nft' }).seed;
}

function manualModel(o: OwnerOptions): Model {
  if (!o.mechanism) throw usage("--mechanism is required (or --config FILE to take a VIP's settings)");
  if (!o.buckets) throw usage("--buckets is required (or --config FILE to take a VIP's settings)");
  if (o.seed === 'auto' && !o.ip) throw usage('--seed auto derives the seed from the VIP address: give it with --ip');
  if (o.ip && o.seed !== 'auto') throw usage('--ip is only for --seed auto');
  const seed = o.seed === 'auto' ? autoSeedOf(o.ip!) : (o.seed ?? 0);
  if (o.seed === 'auto') process.stderr.write(`seed auto for ${o.ip}: ${seed} (0x${seed.toString(16).padStart(8, '0')})\n`);
  return { params: { mechanism: o.mechanism, hashmode: o.hashmode ?? 'sourceip', seed, buckets: o.buckets } };
}

function pickVip(config: SharedConfig, wanted: string | undefined): VipSpec {
  const list = config.vips.map(vipCidr).join(', ');
  if (wanted === undefined) {
    if (config.vips.length === 1) return config.vips[0];
    throw usage(`${config.file} has ${config.vips.length} VIPs: choose one with --vip (${list})`);
  }
  const address = parseAddress(wanted.replace(/\/\d+$/, ''));
  const vip = address && config.vips.find((v) => formatAddress(v.address) === formatAddress(address));
  if (!vip) throw usage(`${config.file} has no VIP ${wanted} (it has ${list})`);
  return vip;
}

async function configModel(o: OwnerOptions & { config: string }): Promise<Model> {
  const given = (['mechanism', 'hashmode', 'seed', 'buckets', 'ip'] as const).filter((k) => o[k] !== undefined);
  if (given.length) throw usage(`--config takes the mechanism, hashmode, seed and buckets from the VIP: leave out ${given.map((k) => `--${k}`).join(', ')}`);
  const config = loadSharedConfig(o.config);
  const vip = pickVip(config, o.vip);
  // backend auto: the mechanism the daemon would pick on this kernel.
  const { resolveBackend } = await import('../dataplane/index.js');
  const mechanism = await resolveBackend(vip.backend);
  const owners = assign(config.nodes, new Set(config.nodes.map((n) => n.id)), vip.buckets);
  const names = new Map(config.nodes.map((n) => [n.id, n.name]));
  process.stderr.write(
    `${vipCidr(vip)}: ${mechanism}${vip.backend === 'auto' ? ' (backend auto, on this kernel)' : ''}, ${vip.hashmode}, ` +
      `seed ${vip.seed} (0x${vip.seed.toString(16).padStart(8, '0')}), ${vip.buckets} buckets; owners with every node live at its configured weight\n`,
  );
  return { params: { mechanism, hashmode: vip.hashmode, seed: vip.seed, buckets: vip.buckets }, nodeOf: (b) => names.get(owners[b - 1]) ?? '-' };
}

async function printOwners(model: Model, json: boolean | undefined): Promise<void> {
  const { params, nodeOf } = model;
  const problems = checkParams(params);
  if (problems.length) throw new InputError(problems.join('; '), { field: 'options' });
  const out: string[] = [];
  let line = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line++;
    const flow = parseFlowLine(text, line);
    if (!flow) continue;
    if (!LIMITS[params.mechanism].families.includes(flow.src.family))
      throw new InputError(`${params.mechanism} does not hash IPv${flow.src.family}`, { file: 'stdin', line, field: 'src_ip' });
    const bucket = bucketOf(params, flow);
    const node = nodeOf?.(bucket);
    out.push(
      json
        ? JSON.stringify({
            src: formatAddress(flow.src),
            srcPort: flow.srcPort,
            dst: formatAddress(flow.dst),
            dstPort: flow.dstPort,
            proto: protocolName(flow.proto),
            bucket,
            ...(node ? { node } : {}),
          })
        : node
          ? `${bucket} ${node}`
          : String(bucket),
    );
    if (out.length >= 4096) {
      process.stdout.write(out.join('\n') + '\n');
      out.length = 0;
    }
  }
  if (out.length) process.stdout.write(out.join('\n') + '\n');
}

export function register(program: Command): void {
  const hash = program.command('hash').description('kernel-exact bucket models');
  hash
    .command('owner')
    .description(
      'read flows as CSV on stdin (src_ip,src_port,dst_ip,dst_port,proto) and print the 1-based bucket of each.\n' +
        "With --config, the VIP's own mechanism, hashmode, seed (auto resolved as the daemon does) and buckets are used, and each line\n" +
        'is "BUCKET NODE": the node owning the bucket when every configured node is live at its configured weight, computed with the\n' +
        "daemon's bucket assignment (a drained or dead node's buckets are elsewhere: `aavip status` shows the running cluster)",
    )
    .option('--config <file>', 'take the settings of a VIP of this cluster.yaml (the key and interfaces are not needed)')
    .option('--vip <address>', 'with --config: which VIP (default: the only one)')
    .option('--mechanism <m>', 'clusterip | xt_cluster | nft (required without --config)', mechanismOption)
    .option(
      '--hashmode <mode>',
      "sourceip | sourceip-sourceport | sourceip-sourceport-destport (default: sourceip; note a VIP's default is sourceip-sourceport)",
      hashmodeOption,
    )
    .option('--seed <n>', 'hash_init / hash seed (decimal or 0x hex), or auto as a VIP derives it from its address (needs --ip); default 0', seedOrAutoOption)
    .option('--ip <address>', 'the VIP address, for --seed auto')
    .option('--buckets <n>', "number of buckets (CLUSTERIP's total_nodes; required without --config)", positiveInt)
    .option('--json', 'print one JSON object a line')
    .action(async (o: OwnerOptions) => {
      if (o.vip !== undefined && o.config === undefined) throw usage('--vip needs --config');
      const model = o.config !== undefined ? await configModel(o as OwnerOptions & { config: string }) : manualModel(o);
      await printOwners(model, o.json);
    });
}
