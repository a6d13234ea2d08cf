// The LDAP negotiate check, as ldirectord's check_ldap does it with Net::LDAP: connect (ldaps when
// the service is ldaps, the certificate not verified: Net::LDAP's default), bind (simple with
// login/passwd when both are set, else anonymous), then read the entry the request names (the
// request without its first character) at scope base with (objectClass=*). Exactly one entry is
// up; a non-empty receive must also match that entry's DN. The check's deadline covers it all: the
// sockets ldapts asks for are made by the life cycle, which destroys them at the deadline with an
// error, and that rejects whatever ldapts still waits for.
import type { Socket, connect as tcpConnect } from 'node:net';
import type { ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { Client } from 'ldapts';
import { startCheck, type CheckRun, type CheckType } from './lifecycle.js';
import { errorText, fail, ok, type CheckResult } from './result.js';
import type { CheckTarget } from './target.js';

/** Perl truth, as in ldirectord's `if ($$v{login} && $$v{passwd})`: "" and "0" are false. */
const perlTrue = (s: string | undefined): boolean => !!s && s !== '0';

async function ldapBody(run: CheckRun, t: CheckTarget): Promise<CheckResult> {
  const tls = t.service === 'ldaps';
  let connected = false;
  // ldapts listens to (and swaps) the socket's error listeners itself: errors are its to handle.
  const keep = <S extends Socket>(s: S, ready: string): S => {
    s.once(ready, () => {
      connected = true;
    });
    return s;
  };
  const createConnection = ((port: number, host: string) => keep(run.tcp(host, port, 'own'), 'connect')) as typeof tcpConnect;
  const createSecureConnection = ((port: number, host: string, options?: ConnectionOptions) =>
    keep(run.tls({ ...options, port, host }, 'own'), 'secureConnect')) as typeof tlsConnect;

  const client = new Client({
    url: `${tls ? 'ldaps' : 'ldap'}://${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`,
    // The request's DN goes to the server as written, as Net::LDAP sends it.
    strictDN: false,
    ...(tls ? { tlsOptions: { rejectUnauthorized: false } } : {}),
    createConnection,
    createSecureConnection,
  });
  try {
    try {
      if (perlTrue(t.login) && perlTrue(t.passwd)) await client.bind(t.login, t.passwd);
      else await client.bind('');
    } catch (e) {
      return fail(connected ? `Bind failed: ${(e as Error).message}` : `Connection failed: ${errorText(e)}`);
    }
    let entries: { dn: string }[];
    try {
      entries = (await client.search(t.request.slice(1), { scope: 'base', filter: '(objectClass=*)' })).searchEntries;
    } catch (e) {
      // ldirectord: a failed search has no entries, which it reports as below.
      return fail(`No answer received: ${(e as Error).message}`);
    }
    if (entries.length !== 1) return fail(`No answer received: ${entries.length} entries`);
    const dn = entries[0].dn;
    // ldirectord tests the receive string with /.+/ first: one of only newlines counts as empty.
    if (/.+/.test(t.receive) && !new RegExp(t.receive).test(dn)) return fail(`Response mismatch: ${dn}`);
    return ok(`Success: ${dn}`);
  } finally {
    // Leave politely (an unbind request, then the socket closes); nothing waits for it.
    client.unbind().catch(() => {});
  }
}

export const ldap: CheckType = { run: ldapBody };

/** The ldap/ldaps check on its own life cycle (as the registry runs it). */
export const ldapCheck = (t: CheckTarget): Promise<CheckResult> => startCheck(t.service, ldap, t);
