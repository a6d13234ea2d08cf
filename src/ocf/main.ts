// The Node side of aavip's OCF resource agents: `node main.js vip ACTION`, exec'd by the shell
// agent that `aavip agents install` puts under /usr/lib/ocf/resource.d/aavip. One process per
// action; meta-data loads nothing but the parameter table (it must work as any user).
import { OCF, OcfError, clusterLogger, exitReason, renderMetaData, type OcfCode } from './ocf.js';
import { VIP_AGENT } from './vip-params.js';

const ACTIONS = ['start', 'stop', 'monitor', 'validate-all'];
const [agent, action] = process.argv.slice(2);

async function main(): Promise<OcfCode> {
  if (agent !== 'vip') {
    process.stderr.write(`usage: main.js vip ACTION (no agent '${agent ?? ''}')\n`);
    return OCF.ERR_ARGS;
  }
  const usage = () => process.stdout.write(`usage: ${VIP_AGENT.name} {${[...ACTIONS, 'meta-data'].join('|')}}\n`);
  if (action === 'meta-data') {
    process.stdout.write(renderMetaData(VIP_AGENT));
    return OCF.SUCCESS;
  }
  if (action === 'usage' || action === 'help') {
    usage();
    return OCF.SUCCESS;
  }
  if (!ACTIONS.includes(action)) {
    usage();
    return OCF.ERR_UNIMPLEMENTED;
  }

  const log = clusterLogger(agent, process.env);
  // The dataplane's own logger: quiet unless something is wrong, or when the cluster asks for debug.
  process.env.AAVIP_LOG_LEVEL ??= process.env.HA_debug === '1' ? 'debug' : 'warn';
  const { vipAction } = await import('./vip.js');
  try {
    return await vipAction(action, process.env, log);
  } catch (e) {
    if (e instanceof OcfError) {
      exitReason(e.message);
      log[e.code === OCF.NOT_RUNNING ? 'info' : 'error']({ action, rc: e.code }, e.message);
      return e.code;
    }
    const message = e instanceof Error ? e.message : String(e);
    exitReason(`${action} failed: ${message}`);
    log.error({ action, err: e instanceof Error ? e.stack : message }, `${action} failed`);
    return OCF.ERR_GENERIC;
  }
}

void main().then((code) => {
  process.exitCode = code;
  // A handle left open somewhere must not hold the action until Pacemaker's timeout.
  setTimeout(() => process.exit(code), 3000).unref();
});
