// The dns negotiate check: the request names a host (an A lookup) or an address (a reverse
// lookup); some answer must match the receive string, which ldirectord requires.
import { isIP } from 'node:net';
import type { CheckType } from './lifecycle.js';
import { fail, ok } from './result.js';

export const dns: CheckType = {
  run: async (run, t) => {
    const name = t.request.replace(/^\//, '');
    // The resolver is the check's: cancelled when the check ends, which ends the lookup too.
    const resolver = run.resolver({ timeout: t.timeoutMs, tries: 1 });
    resolver.setServers([t.host.includes(':') ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`]);
    const answers = isIP(name) ? await resolver.reverse(name) : await resolver.resolve4(name);
    if (!t.receive) return fail('no receive string: ldirectord counts a dns check without one as down');
    const re = new RegExp(t.receive);
    return answers.some((a) => re.test(a)) ? ok(`answered ${answers.join(',')}`) : fail(`answers ${answers.join(',')} do not match`);
  },
};
