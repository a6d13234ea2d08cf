// ocf:aavip:vip's actions, each in one process: validate, then read the kernel and change only
// this instance's buckets under the VIP's lock (several instances may start on one node at once).
import type { Logger } from 'pino';
import { InputError } from '../errors.js';
import { createDataplane } from '../dataplane/index.js';
import { requireClusterip } from '../dataplane/clusterip.js';
import { run } from '../exec.js';
import { interfaceIndex } from '../dataplane/link.js';
import { withVipLock } from '../dataplane/lock.js';
import type { Dataplane, VipSpec } from '../dataplane/types.js';
import { parseVipSpec, vipCidr } from '../dataplane/vipspec.js';
import { parseAddress } from '../hash/flow.js';
import { OCF, OcfError, cloneInstance, isProbe, readParameters, type Env, type OcfCode } from './ocf.js';
import {
  VIP_AGENT,
  describeInputError,
  findInterface,
  holdsAny,
  isEmpty,
  serves,
  vipInstance,
  withBuckets,
  type Route,
  type VipInstance,
} from './vip-params.js';

interface Validated {
  instance: VipInstance;
  spec: VipSpec;
  dp: Dataplane;
}

async function connectedRoutes(family: 4 | 6): Promise<Route[]> {
  const r = await run('ip', ['-j', `-${family}`, 'route', 'show', 'table', 'main'], { allowFailure: true });
  try {
    return r.status === 0 ? (JSON.parse(r.stdout) as Route[]) : [];
  } catch {
    return [];
  }
}

/** Everything an action needs, or an OcfError saying why not (with the code Pacemaker acts on). */
async function validate(env: Env): Promise<Validated> {
  const p = readParameters(VIP_AGENT, env);
  const clone = cloneInstance(env);
  const address = parseAddress(p.ip);
  const found = address && (!p.nic || !p.cidr_netmask) ? findInterface(await connectedRoutes(address.family), address, p.nic || undefined) : undefined;
  const instance = vipInstance(p, clone, found);
  let spec: VipSpec;
  try {
    spec = parseVipSpec(instance.vip);
  } catch (e) {
    if (e instanceof InputError) throw new OcfError(OCF.ERR_CONFIGURED, describeInputError(e));
    throw e;
  }
  // What this node lacks is a hard error here only: another node may have it.
  try {
    await interfaceIndex(spec.interface);
  } catch (e) {
    if (e instanceof InputError) throw new OcfError(OCF.ERR_ARGS, `nic: ${e.message}`);
    throw e;
  }
  const dp = await createDataplane(spec.backend, { arpCount: instance.arpCount });
  if (dp.backend === 'clusterip') {
    try {
      await requireClusterip();
    } catch (e) {
      if (e instanceof InputError) throw new OcfError(OCF.ERR_INSTALLED, describeInputError(e));
      throw e;
    }
  }
  return { instance, spec, dp };
}

async function monitor({ instance, spec, dp }: Validated): Promise<OcfCode> {
  const state = await dp.read(spec);
  return state.addressPresent && serves(state.ownership, instance.buckets) ? OCF.SUCCESS : OCF.NOT_RUNNING;
}

/** The lock waits at most for most of the action's timeout, so a stuck holder fails the action, not the cluster. */
const lockTimeout = (env: Env) => {
  const timeout = Number(env.OCF_RESKEY_CRM_meta_timeout ?? 20_000); // Pacemaker's, in ms
  return Math.max(1000, Math.min(60_000, (Number.isFinite(timeout) ? timeout : 20_000) * 0.8));
};

async function start({ instance, spec, dp }: Validated, env: Env, log: Logger): Promise<OcfCode> {
  await withVipLock(
    spec,
    async () => {
      const state = await dp.read(spec);
      if (state.addressPresent && serves(state.ownership, instance.buckets)) return;
      const next = withBuckets(state.ownership, instance.buckets, 'add');
      await dp.apply(spec, next);
      log.info(
        { vip: vipCidr(spec), backend: dp.backend, buckets: instance.buckets, owned: next.owned },
        `serving bucket${instance.buckets.length > 1 ? 's' : ''} ${instance.buckets.join(',')} of ${spec.buckets}`,
      );
    },
    lockTimeout(env),
  );
  // apply is a reconcile that throws if the kernel refuses anything, so no second read: a start
  // on a survivor is on the failover's critical path.
  return OCF.SUCCESS;
}

async function stop({ instance, spec, dp }: Validated, env: Env, log: Logger): Promise<OcfCode> {
  await withVipLock(
    spec,
    async () => {
      const state = await dp.read(spec);
      const next = withBuckets(state.ownership, instance.buckets, 'remove');
      // The last instance on this node takes the whole VIP away (address, rules, MAC membership).
      if (isEmpty(next)) {
        if (state.addressPresent || state.ownership || state.macJoined) {
          await dp.remove(spec);
          log.info({ vip: vipCidr(spec), backend: dp.backend }, 'last bucket stopped: VIP removed');
        }
        return;
      }
      if (!holdsAny(state.ownership, instance.buckets)) return; // another instance's buckets only: leave them
      await dp.apply(spec, next);
      log.info(
        { vip: vipCidr(spec), backend: dp.backend, buckets: instance.buckets, owned: next.owned },
        `stopped serving bucket${instance.buckets.length > 1 ? 's' : ''} ${instance.buckets.join(',')}`,
      );
    },
    lockTimeout(env),
  );
  return OCF.SUCCESS;
}

/** Runs one OCF action of ocf:aavip:vip; the result is the exit code. */
export async function vipAction(action: string, env: Env, log: Logger): Promise<OcfCode> {
  let v: Validated;
  try {
    v = await validate(env);
  } catch (e) {
    if (!(e instanceof OcfError)) throw e;
    // Nothing can have been started with parameters that are not valid here: stop has nothing to
    // do, and a probe finds nothing running. A misconfigured resource stays an error elsewhere.
    if (action === 'stop') {
      log.warn({ reason: e.message }, 'stop: invalid here, so nothing to stop');
      return OCF.SUCCESS;
    }
    if (action === 'monitor' && e.code !== OCF.ERR_CONFIGURED) {
      log.debug({ reason: e.message }, 'monitor: cannot run here');
      return OCF.NOT_RUNNING;
    }
    throw e;
  }
  switch (action) {
    case 'validate-all':
      return OCF.SUCCESS;
    case 'monitor': {
      const rc = await monitor(v);
      if (rc !== OCF.SUCCESS && !isProbe(action, env)) log.warn({ vip: vipCidr(v.spec), buckets: v.instance.buckets }, 'bucket not served');
      return rc;
    }
    case 'start':
      return start(v, env, log);
    case 'stop':
      return stop(v, env, log);
    default:
      return OCF.ERR_UNIMPLEMENTED;
  }
}
