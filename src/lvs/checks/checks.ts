// Health checks of real servers, as the director runs them: each check type lives in its own file
// (by protocol family), is registered in registry.ts, and runs on the shared life cycle
// (lifecycle.ts), which owns its deadline, its timeout message and the closing of all it opened.
// A check resolves to { up, message }; it never throws. The hot ones (HTTP and connect) are plain
// callbacks on one socket each, and every deadline is kept by one shared sweep (deadlines.ts).
import { startCheck, type CheckType } from './lifecycle.js';
import { KIND_CHECKS, negotiateCheckFor } from './registry.js';
import { fail, type CheckResult } from './result.js';
import type { CheckTarget } from './target.js';

export type { CheckResult } from './result.js';
export type { CheckTarget } from './target.js';

export const connectCheck = (t: CheckTarget): Promise<CheckResult> => startCheck('connect', KIND_CHECKS.connect, t);

/** ICMP echo; up to `checkcount` tries, each waiting the timeout. */
export const pingCheck = (t: CheckTarget): Promise<CheckResult> => startCheck('ping', KIND_CHECKS.ping, t);

/** `checkcommand VIP VPORT RIP RPORT`, exit 0 = up, killed at the timeout. */
export const externalCheck = (t: CheckTarget): Promise<CheckResult> => startCheck('external', KIND_CHECKS.external, t);

/** The negotiate check of the target's service; a service without one is down, with the reason. */
export function negotiateCheck(t: CheckTarget): Promise<CheckResult> {
  let type: CheckType;
  try {
    type = negotiateCheckFor(t.service);
  } catch (e) {
    return Promise.resolve(fail((e as Error).message));
  }
  return startCheck(t.service, type, t);
}
