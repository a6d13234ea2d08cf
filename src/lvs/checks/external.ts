// ldirectord's external check: `checkcommand VIP VPORT RIP RPORT`, exit 0 = up. The child is the
// life cycle's: still running when the check ends (its deadline), it gets SIGTERM, then SIGKILL.
import type { CheckType } from './lifecycle.js';
import { fail, ok } from './result.js';

export const external: CheckType = {
  run: (run, t) => {
    const args = t.protocol === 'fwm' ? [t.virtualHost, '0', t.host, String(t.realPort)] : [t.virtualHost, String(t.virtualPort), t.host, String(t.realPort)];
    run.spawn(t.checkcommand, args).on('exit', (code, signal) => run.settle(code === 0 ? ok('exit 0') : fail(signal ? `killed by ${signal}` : `exit ${code}`)));
  },
};
