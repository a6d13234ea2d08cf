// `aavip vip ...`: drive one VIP on this node by hand or from an OCF agent.
import { type Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { createDataplane } from '../dataplane/index.js';
import { requireClusterip } from '../dataplane/clusterip.js';
import { withVipLock } from '../dataplane/lock.js';
import { interfaceIndex } from '../dataplane/link.js';
import { noBuckets, type Dataplane, type Lease, type Ownership, type VipSpec } from '../dataplane/types.js';
import { parseVipSpec, VIP_DEFAULTS, vipCidr } from '../dataplane/vipspec.js';
import { log } from '../log.js';

interface VipOptions {
  ip: string;
  nic: string;
  mac?: string;
  hashmode?: string;
  seed?: string;
  buckets?: string;
  backend?: string;
  fwmark?: string;
  arpCount: number;
}

const { nft, xt_cluster, clusterip } = VIP_DEFAULTS.buckets;
const BUCKETS_DEFAULT = `(default: the backend's: ${nft} for nft, ${xt_cluster} for xt_cluster, ${clusterip} for clusterip; bucket add|remove: the count the kernel already hashes the VIP into)`;

function vipOptions(cmd: Command): Command {
  return (
    cmd
      .requiredOption('--ip <cidr>', 'the VIP with its prefix, e.g. 198.18.0.100/24')
      .requiredOption('--nic <ifname>', 'the interface that carries it')
      .option('--mac <mac>', "the cluster's multicast MAC, or auto", 'auto')
      .addOption(new Option('--hashmode <mode>', 'sourceip | sourceip-sourceport | sourceip-sourceport-destport').default(VIP_DEFAULTS.hashmode))
      .option('--seed <n>', 'hash seed (decimal, 0x hex, or auto: derived from the VIP address)', 'auto')
      // No commander default: an explicit --buckets is told apart from none (withKernelBuckets).
      .option('--buckets <n>', `number of buckets (CLUSTERIP's total_nodes) ${BUCKETS_DEFAULT}`)
      .option('--backend <b>', 'auto | nft | clusterip | xt_cluster (auto: nft where the kernel has nf_tables jhash, else clusterip)', 'auto')
      .option(
        '--fwmark <n>',
        "firewall mark for the client packets taken (IPVS fwmark service); frames to this node's own MAC pass unhashed; nft only (default: none)",
      )
      .option('--arp-count <n>', 'gratuitous ARPs (IPv6: unsolicited neighbour advertisements) sent when the address appears', (t) => Number(t), 2)
  );
}

/** A VipSpec field as the user wrote it on the command line. */
const OPTION_OF: Record<string, string> = {
  address: '--ip',
  interface: '--nic',
  mac: '--mac',
  hashmode: '--hashmode',
  seed: '--seed',
  buckets: '--buckets',
  backend: '--backend',
  fwmark: '--fwmark',
};

/** Runs an action, reporting input errors by the option the user wrote rather than the spec's field. */
function withOptionNames<A extends unknown[]>(action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await action(...args);
    } catch (e) {
      if (e instanceof InputError && e.where.field && OPTION_OF[e.where.field])
        throw new InputError(e.message, { ...e.where, field: OPTION_OF[e.where.field] });
      throw e;
    }
  };
}

function specOf(o: VipOptions, buckets: string | number | undefined = o.buckets): VipSpec {
  return parseVipSpec({
    address: o.ip,
    interface: o.nic,
    mac: o.mac,
    hashmode: o.hashmode,
    seed: o.seed,
    buckets,
    backend: o.backend,
    fwmark: o.fwmark,
  });
}

function bucketList(text: string | undefined, vip: VipSpec, field: string): number[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((t) => {
    const n = Number(t.trim());
    if (!Number.isInteger(n) || n < 1 || n > vip.buckets) throw new InputError(`'${t}' is not a bucket in 1..${vip.buckets}`, { field });
    return n;
  });
}

const total = (o: Ownership) => o.owned.length + o.incoming.length + o.draining.length;

function leaseOf(text: string | undefined): Lease | undefined {
  if (text === undefined) return undefined;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 1 || ms > 2 ** 31) throw new InputError(`'${text}' is not a lease in milliseconds (1..2^31)`, { field: '--lease' });
  return { ms };
}

/**
 * The spec with the bucket count the kernel already hashes this VIP into (the one source of
 * truth: the other nodes hash with it too). An explicit --buckets that differs is refused, since
 * applying it would rehash every flow away from the other nodes' buckets.
 */
async function withKernelBuckets(spec: VipSpec, o: VipOptions, dp: Dataplane): Promise<VipSpec> {
  const inKernel = (await dp.read(spec)).buckets;
  if (inKernel === undefined || inKernel === spec.buckets) return spec;
  if (o.buckets !== undefined) {
    throw new InputError(
      `the kernel hashes ${vipCidr(spec)} into ${inKernel} buckets, not ${spec.buckets}: changing the count would move every flow ` +
        `away from the other nodes' buckets; give --buckets ${inKernel} (or omit it), or remove the VIP first to change it`,
      { field: '--buckets' },
    );
  }
  return specOf(o, inKernel);
}

function ownershipOf(spec: VipSpec, o: { own: string; incoming: string; draining: string }): Ownership {
  const ownership = {
    owned: bucketList(o.own, spec, '--own'),
    incoming: bucketList(o.incoming, spec, '--incoming'),
    draining: bucketList(o.draining, spec, '--draining'),
  };
  const all = [...ownership.owned, ...ownership.incoming, ...ownership.draining];
  if (new Set(all).size !== all.length) throw new InputError('a bucket is listed twice', { field: '--own/--incoming/--draining' });
  return ownership;
}

type OwnershipOptions = VipOptions & { own: string; incoming: string; draining: string; lease?: string };
const ownershipOptions = (cmd: Command) =>
  cmd
    .addOption(new Option('--own <list>', 'buckets served fully, comma-separated').default('', 'none'))
    .addOption(new Option('--incoming <list>', 'buckets taken over from a live node: new connections only').default('', 'none'))
    .addOption(new Option('--draining <list>', 'buckets handed over: existing connections only').default('', 'none'))
    .option('--lease <ms>', 'nft: the kernel stops serving these buckets after this long unless applied or renewed again (default: none: they never lapse)');

/** `vip apply` and `vip renew`: the whole ownership of this node, with or without a lease. */
function registerOwnershipCommands(vip: Command): void {
  ownershipOptions(
    vipOptions(vip.command('apply').description('make this node serve exactly the given buckets of the VIP (a reconcile: applying twice changes nothing)')),
  ).action(
    withOptionNames(async (o: OwnershipOptions) => {
      const spec = specOf(o);
      const ownership = ownershipOf(spec, o);
      const lease = leaseOf(o.lease);
      const dp = await createDataplane(spec.backend, { arpCount: o.arpCount });
      if (lease && !dp.leases)
        throw new InputError(`the ${dp.backend} backend cannot lease buckets (the kernel has no expiry for them): use nft`, { field: '--lease' });
      await withVipLock(spec, () => dp.apply(spec, ownership, lease));
      log.info({ vip: vipCidr(spec), backend: dp.backend, ...ownership, leaseMs: lease?.ms }, 'vip applied');
    }),
  );

  ownershipOptions(
    vipOptions(vip.command('renew').description("renew the lease on the buckets as last applied: one nft transaction (the daemon's heartbeat path)")),
  ).action(
    withOptionNames(async (o: OwnershipOptions) => {
      const spec = specOf(o);
      const ownership = ownershipOf(spec, o);
      if (o.lease === undefined) throw new InputError('renew needs the lease: --lease <ms>', { field: '--lease' });
      const lease = leaseOf(o.lease);
      const dp = await createDataplane(spec.backend, { arpCount: o.arpCount });
      if (!(await withVipLock(spec, () => dp.renew(spec, ownership, lease!.ms)))) {
        throw new InputError(`the ${dp.backend} backend cannot lease buckets (the kernel has no expiry for them)`, { field: '--backend' });
      }
    }),
  );
}

/** `vip bucket add|remove N`: one bucket changed, in the kernel's bucket count. */
function registerBucketCommands(vip: Command): void {
  const bucket = vip.command('bucket').description('add or remove one bucket, leaving the others as they are');
  for (const verb of ['add', 'remove'] as const) {
    vipOptions(bucket.command(verb).argument('<n>', 'bucket number (1-based)'))
      .addOption(new Option('--keep', 'keep the VIP address when the last bucket goes').hideHelp(verb === 'add'))
      .action(
        withOptionNames(async (n: string, o: VipOptions & { keep?: boolean }) => {
          const given = specOf(o);
          const dp = await createDataplane(given.backend, { arpCount: o.arpCount });
          await withVipLock(given, async () => {
            const spec = await withKernelBuckets(given, o, dp);
            const [b] = bucketList(n, spec, 'bucket');
            const current = (await dp.read(spec)).ownership ?? noBuckets();
            const strip = (xs: number[]) => xs.filter((x) => x !== b);
            const next: Ownership = { owned: strip(current.owned), incoming: strip(current.incoming), draining: strip(current.draining) };
            if (verb === 'add') next.owned = [...next.owned, b].sort((x, y) => x - y);
            if (verb === 'remove' && total(next) === 0 && !o.keep) await dp.remove(spec);
            else await dp.apply(spec, next);
            log.info({ vip: vipCidr(spec), bucket: b, backend: dp.backend, ...next }, `bucket ${verb === 'add' ? 'added' : 'removed'}`);
          });
        }),
      );
  }
}

export function register(program: Command): void {
  const vip = program.command('vip').description('carry a VIP on this node and set which buckets it serves');
  registerOwnershipCommands(vip);
  registerBucketCommands(vip);

  vipOptions(vip.command('status').description('what the kernel carries for the VIP (exit 0 if this node serves at least one bucket, 7 if none)'))
    .option('--json', 'print as JSON')
    .action(
      withOptionNames(async (o: VipOptions & { json?: boolean }) => {
        const spec = specOf(o);
        const dp = await createDataplane(spec.backend, { arpCount: o.arpCount });
        const state = await dp.read(spec);
        const out = { vip: vipCidr(spec), interface: spec.interface, backend: dp.backend, mac: spec.mac, ...state };
        if (o.json) process.stdout.write(JSON.stringify(out) + '\n');
        else {
          const own = state.ownership;
          process.stdout.write(
            `${out.vip} on ${spec.interface} (${dp.backend}): address ${state.addressPresent ? 'present' : 'absent'}, MAC ${state.macJoined ? 'joined' : 'not joined'}\n` +
              (own
                ? `  owned ${own.owned.join(',') || '-'}  incoming ${own.incoming.join(',') || '-'}  draining ${own.draining.join(',') || '-'}` +
                  `${state.buckets ? ` of ${state.buckets}` : ''}${state.leased ? ' (leased: lapse unless renewed)' : ''}\n`
                : '  no bucket rules\n'),
          );
        }
        process.exitCode = state.addressPresent && state.ownership && total(state.ownership) > 0 ? 0 : 7;
      }),
    );

  vipOptions(vip.command('validate').description('check the VIP options and that the interface exists, touching nothing (exit 2 if wrong)')).action(
    withOptionNames(async (o: VipOptions) => {
      const spec = specOf(o);
      await interfaceIndex(spec.interface);
      const dp = await createDataplane(spec.backend, { arpCount: o.arpCount });
      if (dp.backend === 'clusterip') await requireClusterip();
      process.stdout.write(`${vipCidr(spec)} on ${spec.interface}: ${dp.backend}, ${spec.hashmode}, ${spec.buckets} buckets, MAC ${spec.mac}\n`);
    }),
  );

  vipOptions(vip.command('remove').description('remove everything aavip added for the VIP (address, rules, MAC membership)')).action(
    withOptionNames(async (o: VipOptions) => {
      const spec = specOf(o);
      const dp = await createDataplane(spec.backend, { arpCount: o.arpCount });
      await withVipLock(spec, () => dp.remove(spec));
      log.info({ vip: vipCidr(spec), backend: dp.backend }, 'vip removed');
    }),
  );
}
