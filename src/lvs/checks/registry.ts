// Every check, registered by what selects it: the negotiate checks by service (a Record over
// Service, so a service added to the model without a check does not compile), and the
// connect/ping/external kinds by name. Nothing falls back: a service without a check is an error.
import { SERVICES, type Service } from '../config/model.js';
import { connect } from './connect.js';
import { dns } from './dns.js';
import { external } from './external.js';
import { http, httpProxy, https } from './http.js';
import { ldap } from './ldap.js';
import type { CheckType } from './lifecycle.js';
import { ftp, imap, imaps, nntp, pop, pops, smtp } from './mail.js';
import { ping } from './ping.js';
import { radius } from './radius.js';
import { ok } from './result.js';
import { sip } from './sip.js';
import { simpletcp } from './simpletcp.js';
import { mysql, pgsql } from './sql.js';

/** service=none: never checked, always up (ldirectord's). */
const none: CheckType = { run: (run) => run.settle(ok('service none: not checked')) };

export const NEGOTIATE_CHECKS: Readonly<Record<Service, CheckType>> = {
  http,
  https,
  http_proxy: httpProxy,
  smtp,
  submission: smtp,
  pop,
  pops,
  imap,
  imaps,
  ftp,
  nntp,
  dns,
  simpletcp,
  sip,
  mysql,
  pgsql,
  ldap,
  ldaps: ldap,
  radius,
  // No Oracle client library: a TCP connect (see the README's limits).
  oracle: connect,
  none,
};

export const KIND_CHECKS = { connect, ping, external } as const satisfies Record<string, CheckType>;

/** The negotiate check for `service`; throws, naming the service and the known ones, when there is none. */
export function negotiateCheckFor(service: string): CheckType {
  const type = Object.hasOwn(NEGOTIATE_CHECKS, service) ? NEGOTIATE_CHECKS[service as Service] : undefined;
  if (!type) throw new Error(`no negotiate check for service "${service}" (known: ${SERVICES.join(', ')})`);
  return type;
}
