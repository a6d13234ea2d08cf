// The ldirectord role's LDAP and RADIUS negotiate checks against a real slapd and a real
// FreeRADIUS, each started here on loopback (free high ports) with its own small configuration in a
// temporary directory. Every case also runs ldirectord's own check_ldap / check_radius — the subs
// taken from /usr/sbin/ldirectord, run by Perl with Net::LDAP and Authen::Radius against the same
// server — and both must reach the case's verdict: the semantics are ldirectord's, not a reading of them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { negotiateCheck, type CheckResult, type CheckTarget } from '../../src/lvs/checks/checks.js';
import { ldapCheck } from '../../src/lvs/checks/ldap.js';
import { radiusCheck } from '../../src/lvs/checks/radius.js';

const LDIRECTORD = '/usr/sbin/ldirectord';
const SLAPD = '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const FREERADIUS = '/usr/sbin/freeradius';
/** A server not ready by then has failed to start. */
const START_MS = 20_000;
/** How long a stopped server may take to exit before it is killed. */
const STOP_MS = 5_000;
/** How late a check may finish past its timeout on a busy machine. */
const LATE_MS = 1_500;

const tempDirs: string[] = [];
const children: ChildProcess[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

/** A port free on 127.0.0.1 just now (the kernel picks it; the server binds it a moment later). */
function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === 'tcp') {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    } else {
      const s = createSocket('udp4');
      s.once('error', reject);
      s.bind(0, '127.0.0.1', () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    }
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

interface Server {
  child: ChildProcess;
  output: () => string;
}

/** Starts a server in the foreground; resolves once `ready` holds, throws with its output if it exits or takes too long. */
async function startServer(cmd: string, args: string[], ready: (output: string) => boolean | Promise<boolean>): Promise<Server> {
  if (!existsSync(cmd)) throw new Error(`${cmd} is missing: install the Debian packages in .ci/apt-packages (bash .ci/setup)`);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exit ${code ?? signal}`;
  });
  child.once('error', (e) => {
    exited = e.message;
  });
  const until = Date.now() + START_MS;
  while (Date.now() < until) {
    if (exited) throw new Error(`${cmd} ${args.join(' ')} did not start (${exited}):\n${out}`);
    if (await ready(out)) return { child, output: () => out };
    await sleep(100);
  }
  throw new Error(`${cmd} ${args.join(' ')} not ready after ${START_MS} ms:\n${out}`);
}

/** SIGTERM to the server's PID, SIGKILL if it is still there after STOP_MS. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(child.pid!, s);
    } catch {
      /* exited meanwhile */
    }
  };
  signal('SIGCONT'); // a stopped process would not act on SIGTERM
  signal('SIGTERM');
  if (await Promise.race([gone.then(() => true), sleep(STOP_MS).then(() => false)])) return;
  signal('SIGKILL');
  await Promise.race([gone, sleep(STOP_MS)]);
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout),
    );
  });
}

// ---- ldirectord's own checks ------------------------------------------------------------------

/** The Perl harness: ldirectord's subs as they are, with service_set and ld_debug stubbed out. */
function writeHarness(dir: string): string {
  const source = readFileSync(LDIRECTORD, 'utf8');
  const subs = ['ld_service_to_port', 'ld_checkport', 'check_ldap', 'check_radius'].map((name) => {
    const m = new RegExp(`^sub ${name}\\n\\{\\n[\\s\\S]*?^\\}$`, 'm').exec(source);
    if (!m) throw new Error(`sub ${name} not found in ${LDIRECTORD}`);
    return m[0];
  });
  const file = join(dir, 'ldirectord-checks.pl');
  writeFileSync(
    file,
    `no warnings;
use JSON::PP;
$SERVICE_UP = 0;
$SERVICE_DOWN = 1;
my @states;
sub service_set { my ($v, $r, $state, $opts, $msg) = @_; push @states, $state . (defined $msg ? ": $msg" : ''); }
sub ld_debug {}
${subs.join('\n\n')}
my $in = decode_json($ARGV[0]);
my $rc = $in->{fn} eq 'ldap' ? check_ldap($in->{v}, $in->{r}) : check_radius($in->{v}, $in->{r});
print encode_json({ up => ($rc == $SERVICE_UP ? JSON::PP::true : JSON::PP::false), states => \\@states }), "\\n";
`,
  );
  return file;
}

let harness: string;

/** ldirectord's verdict on the target (its checktimeout and negotiatetimeout are whole seconds). */
async function ldirectordCheck(t: CheckTarget): Promise<{ up: boolean; states: string[] }> {
  const seconds = Math.ceil(t.timeoutMs / 1000);
  const v = { service: t.service, login: t.login, passwd: t.passwd, secret: t.secret, checkport: t.port, checktimeout: seconds, negotiatetimeout: seconds };
  const r = { server: t.host, port: t.realPort, request: t.request, receive: t.receive };
  const out = await run('perl', [harness, JSON.stringify({ fn: t.service === 'radius' ? 'radius' : 'ldap', v, r })], t.timeoutMs + 15_000);
  return JSON.parse(out) as { up: boolean; states: string[] };
}

function target(over: Partial<CheckTarget>): CheckTarget {
  return {
    service: 'ldap',
    request: '/',
    receive: '',
    httpmethod: 'GET',
    login: '',
    passwd: '',
    database: '',
    secret: '',
    checkcommand: '/bin/true',
    host: '127.0.0.1',
    port: 0,
    realPort: 0,
    virtualHost: '192.0.2.1',
    virtualPort: 0,
    protocol: 'tcp',
    timeoutMs: 2000,
    checkcount: 1,
    ...over,
  };
}

/** Runs aavip's check and ldirectord's side by side; both must say `up`. Returns aavip's result and time. */
async function both(check: (t: CheckTarget) => Promise<CheckResult>, t: CheckTarget, up: boolean): Promise<{ result: CheckResult; ms: number }> {
  const started = performance.now();
  const [[result, ms], theirs] = await Promise.all([check(t).then((r) => [r, performance.now() - started] as const), ldirectordCheck(t)]);
  expect({ aavip: result.up, message: result.message }).toMatchObject({ aavip: up });
  expect({ ldirectord: theirs.up, states: theirs.states }).toMatchObject({ ldirectord: up });
  expect(ms).toBeLessThan(t.timeoutMs + LATE_MS);
  return { result, ms };
}

beforeAll(() => {
  if (!existsSync(LDIRECTORD)) throw new Error(`${LDIRECTORD} is missing: install the Debian packages in .ci/apt-packages (bash .ci/setup)`);
  harness = writeHarness(tempDir('aavip-ldirectord-checks-'));
});

afterAll(async () => {
  await Promise.all(children.map(stopServer));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

// ---- LDAP -------------------------------------------------------------------------------------

describe('ldap negotiate check against slapd', () => {
  const BASE = 'dc=example,dc=com';
  const ALICE = `uid=alice,ou=people,${BASE}`;
  let slapd: Server;
  let port: number;
  let tlsPort: number;
  const ldap = (over: Partial<CheckTarget>) => target({ service: 'ldap', port, realPort: port, virtualPort: 389, ...over });

  beforeAll(async () => {
    const dir = tempDir('aavip-slapd-');
    mkdirSync(join(dir, 'db'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ]);
    const conf = join(dir, 'slapd.conf');
    writeFileSync(
      conf,
      `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile ${dir}/slapd.pid
argsfile ${dir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile ${dir}/cert.pem
TLSCertificateKeyFile ${dir}/key.pem
database mdb
suffix "${BASE}"
rootdn "cn=admin,${BASE}"
rootpw adminpw
directory ${dir}/db
maxsize 10485760
`,
    );
    writeFileSync(
      join(dir, 'data.ldif'),
      `dn: ${BASE}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,${BASE}
objectClass: organizationalUnit
ou: people

dn: ${ALICE}
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Liddell
userPassword: wonderland
`,
    );
    await run(SLAPADD, ['-f', conf, '-l', join(dir, 'data.ldif')]);
    port = await freePort('tcp');
    tlsPort = await freePort('tcp');
    // -d (even 0) keeps slapd in the foreground, so the test holds its PID.
    slapd = await startServer(
      SLAPD,
      ['-f', conf, '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${tlsPort}/`, '-d', '0'],
      async () => (await tcpOpen(port)) && (await tcpOpen(tlsPort)),
    );
  });

  it('anonymous bind, the suffix as base: up', async () => {
    const { result } = await both(ldapCheck, ldap({ request: `/${BASE}` }), true);
    expect(result.message).toBe(`Success: ${BASE}`);
  });

  it('is what a negotiate check of service ldap runs', async () => {
    expect(await negotiateCheck(ldap({ request: `/${BASE}` }))).toEqual({ up: true, message: `Success: ${BASE}` });
    expect((await negotiateCheck(ldap({ request: '/dc=nowhere' }))).up).toBe(false);
  });

  it('bound as a user with its password, receive matching the DN: up', async () => {
    await both(ldapCheck, ldap({ request: `/ou=people,${BASE}`, receive: '^ou=people,dc=example', login: ALICE, passwd: 'wonderland' }), true);
  });

  it('receive not matching the DN: down, "Response mismatch"', async () => {
    const { result } = await both(ldapCheck, ldap({ request: `/ou=people,${BASE}`, receive: '^uid=' }), false);
    expect(result.message).toMatch(/^Response mismatch/);
  });

  it('a base that does not exist: down', async () => {
    const { result } = await both(ldapCheck, ldap({ request: `/ou=nobody,${BASE}` }), false);
    expect(result.message).toMatch(/^No answer received/);
  });

  it('a wrong password: down, "Bind failed"', async () => {
    const { result } = await both(ldapCheck, ldap({ request: `/${BASE}`, login: ALICE, passwd: 'looking-glass' }), false);
    expect(result.message).toMatch(/^Bind failed/);
  });

  it('a password of "0" is false to Perl: ldirectord binds anonymously, and so does aavip', async () => {
    await both(ldapCheck, ldap({ request: `/${BASE}`, login: ALICE, passwd: '0' }), true);
  });

  it('service ldaps: TLS (certificate not verified), up', async () => {
    const { result } = await both(ldapCheck, ldap({ service: 'ldaps', port: tlsPort, realPort: tlsPort, virtualPort: 636, request: `/${BASE}` }), true);
    expect(result.message).toBe(`Success: ${BASE}`);
  });

  it('slapd hung (SIGSTOP, its socket still accepting): down at the timeout', async () => {
    process.kill(slapd.child.pid!, 'SIGSTOP');
    try {
      const { result, ms } = await both(ldapCheck, ldap({ request: `/${BASE}` }), false);
      expect(result.message).toBe('ldap check timed out');
      expect(ms).toBeGreaterThanOrEqual(1900);
    } finally {
      process.kill(slapd.child.pid!, 'SIGCONT');
    }
  });

  it('slapd stopped: down', async () => {
    await stopServer(slapd.child);
    expect(slapd.child.exitCode ?? slapd.child.signalCode).not.toBeNull();
    const { result } = await both(ldapCheck, ldap({ request: `/${BASE}` }), false);
    expect(result.message).toMatch(/^Connection failed/);
  });
});

// ---- RADIUS -----------------------------------------------------------------------------------

describe('radius negotiate check against FreeRADIUS', () => {
  const SECRET = 'loopback-secret';
  let radiusd: Server;
  let port: number;
  // FreeRADIUS answers a reject after reject_delay (1 s, its default): the timeout leaves room for it.
  const radius = (over: Partial<CheckTarget>) =>
    target({
      service: 'radius',
      protocol: 'udp',
      port,
      realPort: port,
      virtualPort: 1812,
      login: 'alice',
      passwd: 'wonderland',
      secret: SECRET,
      timeoutMs: 3000,
      ...over,
    });

  beforeAll(async () => {
    const dir = tempDir('aavip-freeradius-');
    port = await freePort('udp');
    writeFileSync(join(dir, 'users'), 'alice Cleartext-Password := "wonderland"\n');
    writeFileSync(
      join(dir, 'radiusd.conf'),
      `prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = \${exec_prefix}/sbin
raddbdir = ${dir}
confdir = \${raddbdir}
logdir = \${raddbdir}
run_dir = \${raddbdir}
libdir = /usr/lib/freeradius
name = freeradius
pidfile = \${run_dir}/freeradius.pid
hostname_lookups = no
log {
	destination = stdout
}
security {
	allow_core_dumps = no
	reject_delay = 1
	status_server = no
}
client loopback {
	ipaddr = 127.0.0.1
	secret = ${SECRET}
}
modules {
	pap {
	}
	files {
		filename = \${raddbdir}/users
	}
}
server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = ${port}
	}
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
}
`,
    );
    // -X: foreground, one thread, every request logged (the output shows in a failure).
    radiusd = await startServer(FREERADIUS, ['-X', '-d', dir], (out) => out.includes('Ready to process requests'));
  });

  it('the right secret and password (Access-Accept): up', async () => {
    const { result } = await both(radiusCheck, radius({}), true);
    expect(result.message).toBe('Access-Accept');
    expect(radiusd.output()).toMatch(/Sent Access-Accept/);
  });

  it('is what a negotiate check of service radius runs', async () => {
    expect(await negotiateCheck(radius({}))).toEqual({ up: true, message: 'Access-Accept' });
    expect((await negotiateCheck(radius({ passwd: 'looking-glass' }))).up).toBe(false);
  });

  it('a wrong password (Access-Reject): down, as check_pwd returns "" for a reject', async () => {
    const { result } = await both(radiusCheck, radius({ passwd: 'looking-glass' }), false);
    expect(result.message).toBe('Access-Reject');
  });

  it('a wrong secret (the reply does not verify): down', async () => {
    const { result } = await both(radiusCheck, radius({ secret: 'not-the-secret' }), false);
    expect(result.message).toBe('bad response authenticator');
  });

  it('FreeRADIUS hung (SIGSTOP): down at the timeout, the request sent once', async () => {
    const before = (radiusd.output().match(/Received Access-Request/g) ?? []).length;
    process.kill(radiusd.child.pid!, 'SIGSTOP');
    try {
      const { result, ms } = await both(radiusCheck, radius({}), false);
      expect(result.message).toBe('radius check timed out');
      expect(ms).toBeGreaterThanOrEqual(2900);
    } finally {
      process.kill(radiusd.child.pid!, 'SIGCONT');
    }
    // Once awake it reads what queued up: one request from each checker, no retransmission.
    const until = Date.now() + 5000;
    while ((radiusd.output().match(/Received Access-Request/g) ?? []).length < before + 2 && Date.now() < until) await sleep(100);
    await sleep(300);
    expect((radiusd.output().match(/Received Access-Request/g) ?? []).length).toBe(before + 2);
  });

  it('FreeRADIUS stopped: down', async () => {
    await stopServer(radiusd.child);
    expect(radiusd.child.exitCode ?? radiusd.child.signalCode).not.toBeNull();
    const { result } = await both(radiusCheck, radius({}), false);
    expect(result.message).toBe('ECONNREFUSED');
  });
});
