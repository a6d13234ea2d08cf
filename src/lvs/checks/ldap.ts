// The LDAP negotiate check, as ldirectord's check_ldap does it with Net::LDAP: connect (ldaps when
// the service is ldaps, the certificate not verified: Net::LDAP's default), bind (simple with
// login/passwd when both are set, else anonymous), then read the entry the request names (the
// request without its first character) at scope base with (objectClass=*). Exactly one entry is
// up; a non-empty receive must also match that entry's DN. One deadline covers it all.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { Client } from 'ldapts';
import type { CheckTarget } from './checks.js';
import { withTimeout } from './deadlines.js';
import { errorText, fail, ok, type CheckResult } from './result.js';

/** Perl truth, as in ldirectord's `if ($$v{login} && $$v{passwd})`: "" and "0" are false. */
const perlTrue = (s: string | undefined): boolean => !!s && s !== '0';

export async function ldapCheck(t: CheckTarget): Promise<CheckResult> {
  const tls = t.service === 'ldaps';
  let sock: Socket | undefined;
  let connected = false;
  // The socket is made here, not inside ldapts, so the deadline can destroy it whatever state the
  // client is in.
  const keep = <S extends Socket>(s: S, ready: string): S => {
    sock = s;
    s.once(ready, () => { connected = true; });
    return s;
  };
  const createConnection = ((port: number, host: string) => keep(tcpConnect(port, host), 'connect')) as typeof tcpConnect;
  const createSecureConnection = ((port: number, host: string, options?: ConnectionOptions) =>
    keep(tlsConnect(port, host, options), 'secureConnect')) as typeof tlsConnect;

  const run = async (): Promise<CheckResult> => {
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
  };

  // On the deadline the socket is destroyed with an error, not plainly: that rejects what ldapts
  // still waits for, so nothing is left pending. ldapts swaps the socket's error listeners once
  // connected, hence the fresh no-op one.
  const r = await withTimeout(run().catch((e: unknown) => fail(errorText(e))), t.timeoutMs, () => {
    if (sock && !sock.destroyed) {
      sock.on('error', () => {});
      sock.destroy(new Error('timed out'));
    }
  });
  return r === 'timeout' ? fail(`${t.service} check timed out`) : r;
}
