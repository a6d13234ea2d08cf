// ldirectord.cf as ldirectord reads it: the spec's examples (ldirectord.md §7), its messages, each
// directive's value extraction, and the documented differences where ldirectord has a bug.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { desiredWhenHealthy } from '../../src/lvs/config/desired.js';
import { systemFileChecks } from '../../src/lvs/config/files.js';
import { effective } from '../../src/lvs/config/model.js';
import { parseLdirectordConfig, type ParseOptions } from '../../src/lvs/config/parse.js';
import { literalResolver, type Resolver } from '../../src/lvs/config/resolve.js';

const parse = (text: string, options: ParseOptions = {}) => parseLdirectordConfig(text, 'test.cf', { hostname: 'director', ...options });
const errorOf = (text: string, options: ParseOptions = {}): InputError => {
  try {
    parse(text, options);
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error('parsed without error');
};
/** A virtual with one real, plus the given section lines (tab-indented). */
const section = (...body: string[]) => ['virtual=198.18.0.100:80', '\treal=198.18.1.1:80 gate', ...body.map((b) => `\t${b}`)].join('\n') + '\n';
const only = (text: string, options: ParseOptions = {}) => parse(text, options).virtualServices[0];

const E1 = `checktimeout=2
checkinterval=2
quiescent=no
virtual=127.0.0.100:80
\treal=127.0.0.2:8080 masq 5
\treal=127.0.0.3:8080 masq
\tfallback=127.0.0.1:8081 masq
\tservice=http
\trequest="index.html"
\treceive="OK"
\tscheduler=rr
`;

describe("the spec's valid examples (E1-E12)", () => {
  it('E1: HTTP negotiate with a fallback', () => {
    const c = parse(E1);
    expect(c.globals).toMatchObject({ checktimeout: 2, checkinterval: 2, quiescent: false });
    const v = c.virtualServices[0];
    expect(v).toMatchObject({
      line: 4,
      protocol: 'tcp',
      address: '127.0.0.100',
      port: 80,
      service: 'http',
      request: '/index.html',
      receive: 'OK',
      scheduler: 'rr',
      checktype: { kind: 'negotiate' },
    });
    expect(v.realServers.map((r) => [r.line, r.address, r.port, r.forwarding, r.weight])).toEqual([
      [5, '127.0.0.2', 8080, 'masq', 5],
      [6, '127.0.0.3', 8080, 'masq', 1],
    ]);
    expect(effective(v, c.globals)).toMatchObject({ checktimeout: 2, negotiatetimeout: 2, fallback: { address: '127.0.0.1', port: 8081, forwarding: 'masq' } });
    expect(desiredWhenHealthy(c)).toEqual([
      {
        protocol: 'tcp',
        family: 4,
        address: '127.0.0.100:80',
        scheduler: 'rr',
        persistent: null,
        netmask: null,
        schedflags: null,
        ops: false,
        realServers: [
          { address: '127.0.0.2:8080', forwarding: 'masq', weight: 5, lower: 0, upper: 0 },
          { address: '127.0.0.3:8080', forwarding: 'masq', weight: 1, lower: 0, upper: 0 },
        ],
      },
    ]);
    expect(c.warnings).toEqual([]);
  });

  it('E2: quiescent and failurecount', () => {
    const c = parse(E1.replace('checkinterval=2\nquiescent=no', 'checkinterval=1\nquiescent=yes\nfailurecount=2').replace('masq 5', 'masq 3'));
    expect(c.globals).toMatchObject({ checkinterval: 1, quiescent: true, failurecount: 2 });
    expect(effective(c.virtualServices[0], c.globals)).toMatchObject({ quiescent: true, failurecount: 2 });
    expect(c.virtualServices[0].realServers[0].weight).toBe(3);
  });

  it('E3: a firewall-mark service with persistence', () => {
    const c = parse('virtual=5\n\treal=127.0.0.2 gate\n\tchecktype=on\n\tscheduler=sh\n\tpersistent=300\n\tnetmask=255.255.255.0\n');
    expect(c.virtualServices[0]).toMatchObject({ protocol: 'fwm', fwmark: 5, service: 'none', checktype: { kind: 'on' } });
    expect(desiredWhenHealthy(c)).toEqual([
      {
        protocol: 'fwm',
        family: 4,
        address: 5,
        scheduler: 'sh',
        persistent: 300,
        netmask: '255.255.255.0',
        schedflags: null,
        ops: false,
        realServers: [{ address: '127.0.0.2:0', forwarding: 'gate', weight: 1, lower: 0, upper: 0 }],
      },
    ]);
  });

  it("E4: an address range, with direct routing taking the service's port", () => {
    const c = parse('quiescent=yes\nvirtual=127.0.0.100:80\n\treal=127.0.0.5->127.0.0.6:8080 gate 2\n\tchecktype=connect\n');
    expect(c.virtualServices[0].realServers.map((r) => `${r.address}:${r.port} ${r.weight} line ${r.line}`)).toEqual([
      '127.0.0.5:8080 2 line 3',
      '127.0.0.6:8080 2 line 3',
    ]);
    expect(desiredWhenHealthy(c)[0].realServers.map((r) => `${r.address} ${r.forwarding} ${r.weight}`)).toEqual(['127.0.0.5:80 gate 2', '127.0.0.6:80 gate 2']);
  });

  it('E5: port 53 makes a UDP service checked as dns', () => {
    const c = parse('virtual=127.0.0.100:53\n\treal=127.0.0.2:53 gate\n\tchecktype=connect\n');
    expect(c.virtualServices[0]).toMatchObject({ protocol: 'udp', service: 'dns', checktype: { kind: 'connect' } });
    expect(desiredWhenHealthy(c)[0]).toMatchObject({ protocol: 'udp', address: '127.0.0.100:53' });
    expect(only('virtual=127.0.0.100:domain\n\treal=127.0.0.2:53 gate\n')).toMatchObject({ protocol: 'udp', port: 53, service: 'dns' });
  });

  it('E6: an external check', () => {
    expect(only('virtual=127.0.0.100:9000\n\treal=127.0.0.2:8080 masq\n\tchecktype=external\n\tcheckcommand="/tmp/ldlab/ext.sh"\n')).toMatchObject({
      checktype: { kind: 'external' },
      checkcommand: '/tmp/ldlab/ext.sh',
      service: 'none',
    });
  });

  it('E7: a combined (numeric) checktype', () => {
    expect(only('virtual=127.0.0.100:9001\n\treal=127.0.0.2:8080 masq\n\tservice=http\n\tchecktype=3\n')).toMatchObject({
      service: 'http',
      checktype: { kind: 'combined', connectRounds: 3 },
    });
  });

  it('E8: readdquiescent is a global', () => {
    const c = parse(
      'quiescent=yes\nreaddquiescent=yes\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 4\n\treal=127.0.0.3:8080 masq 2\n\treal=127.0.0.4:8080 masq 2\n\tservice=http\n',
    );
    expect(c.globals).toMatchObject({ quiescent: true, readdquiescent: true });
    expect(c.virtualServices[0].realServers.map((r) => r.weight)).toEqual([4, 2, 2]);
  });

  it('E9: IPv6 services, by address and by mark', () => {
    const c = parse('virtual6=[::1]:80\n\treal6=[::1]:8080 masq\n\tchecktype=on\nvirtual6=7\n\treal6=[::1] gate\n\tnetmask=64\n\tpersistent=100\n');
    const s = desiredWhenHealthy(c);
    expect(s[0]).toMatchObject({
      protocol: 'tcp',
      family: 6,
      address: '[::1]:80',
      scheduler: 'wrr',
      realServers: [{ address: '[::1]:8080', forwarding: 'masq', weight: 1 }],
    });
    expect(s[1]).toMatchObject({
      protocol: 'fwm',
      family: 6,
      address: 7,
      persistent: 100,
      netmask: '64',
      realServers: [{ address: '[::1]:0', forwarding: 'gate' }],
    });
  });

  it('E10: an edited file asks for the changed table (weight 4->9, .3 out, .4 in, rr, .101 out, .102 in)', () => {
    const before = parse(
      'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 4\n\treal=127.0.0.3:8080 masq\nvirtual=127.0.0.101:80\n\treal=127.0.0.2:8080 masq\n',
    );
    const after = parse(
      'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 9\n\treal=127.0.0.4:8080 masq\n\tscheduler=rr\nvirtual=127.0.0.102:80\n\treal=127.0.0.2:8080 masq\n',
    );
    const table = (c: typeof before) =>
      desiredWhenHealthy(c).map((s) => `${s.address} ${s.scheduler} ${s.realServers.map((r) => `${r.address}/${r.weight}`).join(' ')}`);
    expect(table(before)).toEqual(['127.0.0.100:80 wrr 127.0.0.2:8080/4 127.0.0.3:8080/1', '127.0.0.101:80 wrr 127.0.0.2:8080/1']);
    expect(table(after)).toEqual(['127.0.0.100:80 rr 127.0.0.2:8080/9 127.0.0.4:8080/1', '127.0.0.102:80 wrr 127.0.0.2:8080/1']);
  });

  it('E11: maintenancedir and fork are globals; a missing maintenance directory is a warning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aavip-ld-maint-'));
    try {
      const c = parse(`fork=yes\nmaintenancedir=${dir}\nvirtual=127.0.0.100:80\n\treal=127.0.0.3:8080 masq 2\n`, { files: systemFileChecks });
      expect(c.globals).toMatchObject({ fork: true, maintenancedir: dir });
      expect(c.warnings).toEqual([]);
      expect(parse(`maintenancedir=${dir}/nope\n`, { files: systemFileChecks }).warnings).toEqual([
        { line: 1, message: 'maintenance directory does not exist' },
      ]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('E12: an address without a port is firewall mark 127, as in ldirectord, with a warning', () => {
    const c = parse('virtual=127.0.0.100\n\treal=127.0.0.2 gate\n');
    expect(c.virtualServices[0]).toMatchObject({ protocol: 'fwm', fwmark: 127 });
    expect(desiredWhenHealthy(c)[0]).toMatchObject({ protocol: 'fwm', address: 127, scheduler: 'wrr' });
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toMatchObject({ line: 1, message: expect.stringMatching(/virtual=127\.0\.0\.100 has no port: it is firewall mark 127/) });
    // A plain mark, even with something after it, is not worth a warning.
    expect(parse('virtual=5 # web\n\treal=127.0.0.2 gate\n').warnings).toEqual([]);
  });
});

describe("the spec's malformed examples (M1-M6): the line and ldirectord's message", () => {
  const cases: [string, string, number, string][] = [
    ['M1 missing forwarding method', 'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080\n', 2, 'invalid address for real server (wrong format)'],
    ['M3 trailing space on yes/no', 'autoreload = yes \n', 1, "autoreload must be 'yes' or 'no'"],
    ['M3 trailing comment on a global yes/no', 'quiescent=yes #c\n', 1, "quiescent must be 'yes' or 'no'"],
    ['M3 trailing comment on a per-virtual yes/no', section('quiescent=yes #c'), 3, "quiescent must be 'yes' or 'no'"],
    [
      'M5 duplicate virtual',
      'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\nvirtual=127.0.0.100:80\n\treal=127.0.0.3:8080 gate\n',
      3,
      'duplicate virtual server (tcp:127.0.0.100:80 is already defined at line 1)',
    ],
    [
      'M6 checktype',
      section('checktype=magic'),
      3,
      'checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number',
    ],
    [
      'M6 service',
      section('service=telnet'),
      3,
      'service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission',
    ],
    ['M6 forward method', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:80 nat\n', 2, 'forward method must be gate, masq or ipip'],
    [
      'M6 inverted range',
      'virtual=1.2.3.4:80\n\treal=127.0.0.9->127.0.0.2:80 gate\n',
      2,
      'Invalid Range: 127.0.0.9-127.0.0.2: First value must be greater than or equal to the second value',
    ],
    ['M6 unknown port name', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:nosuchsvc gate\n', 2, 'invalid port (nosuchsvc) for real server (could not resolve port)'],
    ['M6 checkport range', section('checkport=70000'), 3, 'checkport must be in range 1..65536'],
    ['M6 IPv4 netmask', section('netmask=24'), 3, 'invalid netmask: dotted quad notation is required'],
    ['M6 scheduler case', section('scheduler=WRR'), 3, 'invalid scheduler, should be only lowercase letters (a-z)'],
    ['M6 fwm on an address', section('protocol=fwm'), 3, 'protocol must be tcp or udp if the virtual service is an address and port'],
    ['M6 empty request', section('request=""'), 3, 'no request string specified'],
    ['M6 virtual checktimeout 0', section('checktimeout=0'), 3, 'invalid check timeout'],
    ['M6 global checkinterval 0', 'checkinterval=0\n', 1, 'invalid check interval value'],
    ['M6 failurecount 0 (global)', 'failurecount=0\n', 1, 'invalid failure count value'],
    ['M6 failurecount 0 (virtual)', section('failurecount=0'), 3, 'invalid failure count'],
    ['M6 unknown global', 'foo=bar\n', 1, 'Unknown command foo=bar'],
    ['M6 timeout', 'timeout=3\n', 1, 'timeout directive deprecated in favour of checktimeout and negotiatetimeout'],
    ['M6 email status', 'emailalertstatus=none,running\n', 1, 'invalid email alert status: "running" specified with "none"'],
    ['M6 readdquiescent in a section', section('readdquiescent=yes'), 3, 'Unknown command "\treaddquiescent=yes"'],
    ['M6 maintenancedir in a section', section('maintenancedir=/tmp'), 3, 'Unknown command "\tmaintenancedir=/tmp"'],
    ['M6 autoreload in a section', section('autoreload=yes'), 3, 'Unknown command "\tautoreload=yes"'],
  ];
  it.each(cases)('%s', (_name, text, line, message) => {
    const e = errorOf(text);
    expect(e.message).toBe(message);
    expect(e.where).toMatchObject({ file: 'test.cf', line });
  });

  it('M6 logfile: a log file that cannot be opened', () => {
    const e = errorOf('logfile="/nonexistent-aavip-dir/x.log"\n', { files: systemFileChecks });
    expect([e.message, e.where.line, e.where.field]).toEqual(['unable to open logfile: /nonexistent-aavip-dir/x.log', 1, 'logfile']);
    // A syslog facility is not a file.
    expect(parse('logfile="local0"\n', { files: systemFileChecks }).globals.logfile).toBe('local0');
  });

  it('M6 checkcount: a warning, not an error', () => {
    const c = parse('checkcount=3\n');
    expect(c.globals.checkcount).toBe(3);
    expect(c.warnings).toEqual([{ line: 1, message: "checkcount option is deprecated and slated for removal.  please see 'failurecount'" }]);
  });

  it('M2 (differs from ldirectord): a blank line inside a section does not end it', () => {
    const v = only('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\n\n\tscheduler=rr\n');
    expect(v.scheduler).toBe('rr');
    // Any other line that is not indented still ends the section, and an indented line after a global is refused.
    const e = errorOf('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\nquiescent=no\n\tscheduler=rr\n');
    expect([e.message, e.where.line]).toEqual(['Unknown command \tscheduler=rr', 4]);
  });

  it('M4 (differs from ldirectord): a # inside quotes is part of the value', () => {
    expect(only('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\n\treceive="a#b"\n').receive).toBe('a#b');
    expect(only(section('checkcommand="/opt/check#2" # the second one')).checkcommand).toBe('/opt/check#2');
    // An unbalanced quote does not protect a # (as in ldirectord).
    expect(only(section('comment=say "hi # there')).comment).toBe('say "hi ');
  });

  it('a virtual= on the last line with no body is a virtual without real servers (ldirectord said duplicate)', () => {
    expect(parse('virtual=127.0.0.100:80\n').virtualServices).toMatchObject([{ address: '127.0.0.100', realServers: [] }]);
    expect(parse('virtual=127.0.0.100:80').virtualServices).toHaveLength(1);
  });
});

describe('layout: sections, indentation, comments', () => {
  it('takes a tab or 4+ spaces as indentation, and ends the section at a 3-space line', () => {
    expect(only('virtual=1.2.3.4:80\n    real=10.0.0.1:80 gate\n\t\t  scheduler=rr\n').scheduler).toBe('rr');
    const e = errorOf('virtual=1.2.3.4:80\n   real=127.0.0.2:80 gate\n');
    expect([e.message, e.where.line]).toEqual(['Unknown command    real=127.0.0.2:80 gate', 2]);
  });

  it('skips comment lines anywhere in a section, and cuts trailing comments in sections', () => {
    const v = only('virtual=1.2.3.4:80\n# col 0\n\treal=10.0.0.1:80 gate 3 # weight\n  # two spaces\n\tchecktype=connect   # tcp only\n');
    expect(v.realServers[0].weight).toBe(3);
    expect(v.checktype).toEqual({ kind: 'connect' });
  });

  it('leaves # in global values (ldirectord keeps them): harmless for numbers, an error for yes/no', () => {
    expect(parse('checkinterval=5 # seconds\n').globals.checkinterval).toBe(5);
    expect(parse('fallbackcommand=/usr/local/bin/sorry # page\n').globals.fallbackcommand).toBe('/usr/local/bin/sorry # page');
  });

  it('refuses global directives that are indented, and section directives at column 0', () => {
    expect(errorOf('  quiescent=yes\n').message).toBe('Unknown command   quiescent=yes');
    expect(errorOf('virtual=1.2.3.4:80\nreal=10.0.0.1:80 gate\n').message).toBe('Unknown command real=10.0.0.1:80 gate');
  });

  it('accepts CRLF line ends, spaces around =, and several sections', () => {
    const c = parse('quiescent = yes\r\nvirtual = 1.2.3.4:80\r\n\treal = 10.0.0.1:80 gate\r\nvirtual=1.2.3.4:443\r\n\treal=10.0.0.1:443 gate\r\n');
    expect(c.globals.quiescent).toBe(true);
    expect(c.virtualServices.map((v) => [v.port, v.service])).toEqual([
      [80, 'http'],
      [443, 'https'],
    ]);
  });

  it('reports an unknown section directive with the raw line', () => {
    expect(errorOf(section('bogus=1')).message).toBe('Unknown command "\tbogus=1"');
    expect(errorOf(section('just words')).message).toBe('Unknown command "\tjust words"');
  });
});

describe('virtual=', () => {
  it('reads forms ldirectord reads, ignoring text after address:port', () => {
    expect(only('virtual=1.2.3.4:80 anything\n')).toMatchObject({ address: '1.2.3.4', port: 80, protocol: 'tcp' });
    expect(only('virtual=1.2.3.4:https\n')).toMatchObject({ port: 443, service: 'https' });
    expect(only('virtual=localhost:8080\n')).toMatchObject({ address: '127.0.0.1', port: 8080, service: 'none' });
    expect(only('virtual6=[2001:DB8:0::1]:80\n')).toMatchObject({ family: 6, address: '2001:db8::1' });
  });

  it('infers the service from the port (none for unlisted ports, which are never really checked)', () => {
    const services = [21, 25, 110, 119, 143, 389, 587, 636, 993, 995, 1521, 1812, 3128, 3306, 5060, 5432, 9999].map(
      (p) => only(`virtual=1.2.3.4:${p}\n`).service,
    );
    expect(services).toEqual([
      'ftp',
      'smtp',
      'pop',
      'nntp',
      'imap',
      'ldap',
      'submission',
      'ldaps',
      'imaps',
      'pops',
      'oracle',
      'radius',
      'http_proxy',
      'mysql',
      'sip',
      'pgsql',
      'none',
    ]);
  });

  it('resolves host and port names through the resolver', () => {
    const resolver: Resolver = {
      host: (n, f) => (n === 'www.example' && f === 4 ? '198.18.0.7' : n === 'web1' ? (f === 4 ? '198.18.1.1' : '2001:db8::11') : literalResolver.host(n, f)),
      service: (n, p) => (n === 'alt' && p === 'tcp' ? 8080 : n === 'alt' && p === '' ? 8081 : literalResolver.service(n, p)),
    };
    const v = only('virtual=www.example:alt\n\treal=web1:alt masq\n', { resolver });
    expect(v).toMatchObject({ address: '198.18.0.7', port: 8080, realServers: [{ address: '198.18.1.1', port: 8081 }] });
    expect(only('virtual6=[::1]:80\n\treal6=web1 gate\n', { resolver }).realServers[0].address).toBe('2001:db8::11');
    expect(errorOf('virtual=nowhere.example:80\n\treal=10.0.0.1:80 gate\n', { resolver }).where.line).toBe(1);
  });

  it('refuses what ldirectord refuses', () => {
    const cases: [string, number, string][] = [
      ['virtual=[::1]:80\n', 1, 'cannot specify an IPv6 address here. please use "virtual6" instead.'],
      ['virtual6=[::1::2]:80\n', 1, 'invalid ipv6 address for virtual server'],
      ['virtual=localhost\n', 1, 'invalid address for virtual server'],
      ['virtual6=[::1]\n', 1, 'invalid address for virtual server'],
      ['virtual=999.1.1.1:80\n', 1, 'invalid address for virtual service'],
      ['virtual=1.2.3.4:nosuchport\n\treal=10.0.0.1 gate\n', 1, 'invalid address for virtual service'],
      ['virtual=1.2.3.4:70000\n', 1, 'invalid address for virtual service'],
      ['virtual6=1.2.3.4:80\n', 1, 'invalid address for virtual service'],
    ];
    for (const [text, line, message] of cases) expect([text, errorOf(text).message, errorOf(text).where.line]).toEqual([text, message, line]);
  });

  it('leaves out firewall marks IPVS refuses (0, above 32 bits), with a warning, as ldirectord ends up doing', () => {
    const c = parse('virtual=0\n\treal=10.0.0.1 gate\nvirtual=4294967296\nvirtual=4294967295\n');
    expect(c.virtualServices.map((v) => v.fwmark)).toEqual([4294967295]);
    expect(c.warnings.map((w) => w.line)).toEqual([1, 3]);
    expect(c.warnings[0].message).toBe('virtual=0: firewall mark 0 is outside 1..4294967295, which IPVS refuses: this virtual service is ignored');
    expect(errorOf('virtual=0\nvirtual=00\nvirtual=0\n').where.line).toBe(3);
  });

  it('tells fwmark services of the two families apart, and finds duplicates by protocol and address', () => {
    expect(parse('virtual=5\nvirtual6=5\n').virtualServices.map((v) => v.family)).toEqual([4, 6]);
    expect(errorOf('virtual=5\nvirtual=5\n').message).toMatch(/^duplicate virtual server \(fwm:5/);
    expect(parse('virtual=1.2.3.4:80\nvirtual=1.2.3.4:80\n\tprotocol=udp\n').virtualServices.map((v) => v.protocol)).toEqual(['tcp', 'udp']);
    expect(errorOf('virtual6=[::1]:80\nvirtual6=[0::1]:80\n').message).toMatch(/^duplicate virtual server \(tcp:\[::1\]:80/);
    expect(errorOf('virtual=1.2.3.4:53\nvirtual=1.2.3.4:domain\n').where.line).toBe(2);
  });
});

describe('real=', () => {
  const real = (text: string) => only(`virtual=1.2.3.4:80\n\treal=${text}\n`).realServers;

  it('reads address, port, method, weight, request/receive and thresholds', () => {
    expect(real('10.0.0.1:8080 masq 3 "health","up" l:5 u:10')[0]).toMatchObject({
      address: '10.0.0.1',
      port: 8080,
      forwarding: 'masq',
      weight: 3,
      request: '/health',
      receive: 'up',
      lower: 5,
      upper: 10,
    });
    expect(real('10.0.0.1 ipip')[0]).toMatchObject({ port: 0, forwarding: 'ipip', weight: 1, lower: 0, upper: 0 });
    expect(real('10.0.0.1:http gate 0')[0]).toMatchObject({ port: 80, weight: 0 });
    expect(real('10.0.0.1:80 gate "/a b" "c d"')[0]).toMatchObject({ request: '/a b', receive: 'c d' });
    expect(real('10.0.0.1:80 gate "http://www.example/x", "ok"')[0].request).toBe('http://www.example/x');
    expect(real('10.0.0.1:80 gate "/http://www.example/x", "ok"')[0].request).toBe('http://www.example/x');
    expect(real('10.0.0.1:80 gate u:7')[0]).toMatchObject({ lower: 0, upper: 7 });
  });

  it('skips what ldirectord skips before a part it finds (its searches are not anchored)', () => {
    expect(real('10.0.0.1:80 gate junk 5')[0].weight).toBe(5);
    expect(real('10.0.0.1:80 gate 2 ')[0].weight).toBe(2);
  });

  it('expands ranges, resolving both ends', () => {
    expect(real('10.0.0.254->10.0.1.1:80 gate').map((r) => r.address)).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
    expect(real('localhost->127.0.0.2 gate').map((r) => r.address)).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(errorOf('virtual=1.2.3.4:80\n\treal=10.0.0.0->10.1.0.0:80 gate\n').message).toMatch(
      /^Invalid Range: 10\.0\.0\.0-10\.1\.0\.0: more than 65536 addresses/,
    );
  });

  it('reads quoted thresholds as thresholds, with a warning (ldirectord took them as request/receive)', () => {
    const c = parse('virtual=1.2.3.4:80\n\treal=10.0.0.1:80 gate 2 "l:5" "u:10"\n');
    expect(c.virtualServices[0].realServers[0]).toMatchObject({ weight: 2, lower: 5, upper: 10, request: undefined, receive: undefined });
    expect(c.warnings).toEqual([
      { line: 2, message: expect.stringMatching(/^thresholds in quotes .* ldirectord would have read them as check request "\/l:5" and receive "u:10"$/) },
    ]);
  });

  it('refuses what ldirectord refuses, naming the line', () => {
    const cases: [string, string][] = [
      ['10.0.0.1:80 gate 1 junk', 'Invalid real server line, around " junk"'],
      ['10.0.0.1:80 gate "l:5"', 'Invalid real server line, around " "l:5"" (connection thresholds are written without quotes: l:N u:N)'],
      ['10.0.0.1:80 ', 'forward method must be gate, masq or ipip'],
      ['10.0.0.1:99999 gate', 'invalid port (99999) for real server (could not resolve port)'],
      ['999.0.0.1:80 gate', 'invalid address (999.0.0.1) for real server (could not resolve host)'],
      ['10.0.0.1->nohost:80 gate', 'invalid address (nohost) for real server (could not resolve end host)'],
      ['[::1]:80 gate', 'invalid address ([::1]) for real server (could not resolve host)'],
    ];
    for (const [text, message] of cases) {
      const e = errorOf(`virtual=1.2.3.4:80\n\tservice=http\n\treal=${text}\n`);
      expect([text, e.message, e.where.line, e.where.field]).toEqual([text, message, 3, 'real']);
    }
    expect(errorOf('virtual6=[::1]:80\n\treal=127.0.0.1:80 gate\n').message).toBe('cannot specify "real" here.  please use "real6" instead');
    expect(errorOf('virtual=1.2.3.4:80\n\treal6=[::1]:80 gate\n').message).toBe('cannot specify "real6" here.  please use "real" instead');
    expect(errorOf('virtual6=[::1]:80\n\treal6=[::1]->[::2]:80 gate\n').message).toBe('Address range for IPv6 is not supported yet');
  });

  it('accepts duplicate real servers (one kernel entry) and warns about weights ipvsadm refuses', () => {
    const c = parse('virtual=1.2.3.4:80\n\treal=10.0.0.1:80 gate 2\n\treal=10.0.0.1:80 gate 3\n\treal=10.0.0.2:80 gate 70000\n');
    expect(c.virtualServices[0].realServers).toHaveLength(3);
    expect(desiredWhenHealthy(c)[0].realServers.map((r) => r.weight)).toEqual([2, 70000]);
    expect(c.warnings).toEqual([{ line: 4, message: 'weight 70000 is above 65535, which ipvsadm refuses' }]);
  });
});

describe('per-virtual directives', () => {
  it('extracts values as ldirectord does', () => {
    expect(only(section('checktype=ping'))).toMatchObject({ checktype: { kind: 'ping' } });
    expect(only(section('checktype=external-perl'))).toMatchObject({ checktype: { kind: 'external-perl' } });
    expect(only(section('checktype=0'))).toMatchObject({ checktype: { kind: 'combined', connectRounds: 0 } });
    expect(only(section('checktype=off'))).toMatchObject({ checktype: { kind: 'off' } });
    expect(only(section('scheduler=wlc  # least connections')).scheduler).toBe('wlc');
    expect(only(section('persistent=600s')).persistent).toBe(600);
    expect(only(section('persistent=0')).persistent).toBe(0);
    expect(only(section('schedflags=sh-fallback,sh-port x')).schedflags).toBe('sh-fallback,sh-port');
    expect(only(section('checkport=8080')).checkport).toBe(8080);
    expect(only(section('httpmethod=head')).httpmethod).toBe('HEAD');
    expect(only(section('virtualhost="www.example"')).virtualhost).toBe('www.example');
    expect(only(section('virtualhost=www.example  # the site')).virtualhost).toBe('www.example');
    expect(only(section('checkcommand=/usr/local/bin/check --fast')).checkcommand).toBe('/usr/local/bin/check --fast');
    expect(only(section('fallbackcommand="/usr/local/bin/sorry"')).fallbackcommand).toBe('/usr/local/bin/sorry');
    expect(only(section('request="status" # path')).request).toBe('/status');
    expect(only(section('receive="^OK$"')).receive).toBe('^OK$');
    expect(only(section('login="u"', 'passwd="p w"', 'database="db"', 'secret="s"', 'load="cpu 5"'))).toMatchObject({
      login: 'u',
      passwd: 'p w',
      database: 'db',
      secret: 's',
      load: 'cpu',
    });
    expect(only(section('servicename=Web shop', 'comment=front end, rack 3'))).toMatchObject({ servicename: 'Web shop', comment: 'front end, rack 3' });
    expect(only(section('monitorfile=/tmp/x.log')).monitorfile).toBe('/tmp/x.log');
    expect(only(section('smtp=mail.example:25')).alerts.smtp).toBe('mail.example');
  });

  it('sets protocol, ops and netmask', () => {
    const v = only('virtual=1.2.3.4:5000\n\tprotocol=udp\n\tops=yes\n\tpersistent=30\n\tnetmask=255.255.255.0\n');
    expect(v).toMatchObject({ protocol: 'udp', ops: true, netmask: '255.255.255.0' });
    expect(desiredWhenHealthy(parse('virtual=1.2.3.4:5000\n\tops=yes\n\tnetmask=255.255.255.0\n'))[0]).toMatchObject({ ops: false, netmask: null });
    expect(only('virtual=9\n\tprotocol=fwm\n').protocol).toBe('fwm');
    expect(errorOf('virtual=9\n\tprotocol=tcp\n').message).toBe('protocol must be fwm if the virtual service is a fwmark (a number)');
    expect(errorOf('virtual6=[::1]:80\n\tnetmask=129\n').message).toBe('invalid netmask: a prefix length between 1 and 128 is required');
    expect(errorOf(section('netmask=255.255.300.0')).message).toBe('invalid netmask: dotted quad notation is required');
    expect(errorOf(section('ops=maybe')).message).toBe("ops must be 'yes' or 'no'");
  });

  it('fills the ftp and sip logins when service= is read (order matters, as in ldirectord)', () => {
    expect(only(section('service=ftp'))).toMatchObject({ login: 'anonymous', passwd: 'ldirectord@director' });
    expect(only(section('login="bob"', 'service=ftp'))).toMatchObject({ login: 'bob', passwd: 'ldirectord@director' });
    expect(only(section('service=ftp', 'login="bob"'))).toMatchObject({ login: 'bob' });
    expect(only(section('service=sip'))).toMatchObject({ login: 'ldirectord@director', passwd: '' });
  });

  it("overrides globals and resolves timeouts in ldirectord's order", () => {
    const c = parse(
      'negotiatetimeout=20\nquiescent=yes\nemailalert=ops@example\nvirtual=1.2.3.4:80\n\treal=10.0.0.1:80 gate\nvirtual=1.2.3.4:81\n\tchecktimeout=3\n\tquiescent=no\n\tcleanstop=no\n\tfailurecount=4\n\temailalert="a@example, b@example"\n\temailalertfreq=60\n\temailalertstatus=starting, running\n',
    );
    const [a, b] = c.virtualServices.map((v) => effective(v, c.globals));
    expect(a).toMatchObject({
      checktimeout: 20,
      negotiatetimeout: 20,
      quiescent: true,
      cleanstop: true,
      failurecount: 1,
      emailalert: 'ops@example',
      emailalertfreq: 0,
      emailalertstatus: ['starting', 'running', 'stopping', 'reloading'],
    });
    expect(b).toMatchObject({
      checktimeout: 3,
      negotiatetimeout: 3,
      quiescent: false,
      cleanstop: false,
      failurecount: 4,
      emailalert: 'a@example, b@example',
      emailalertfreq: 60,
      emailalertstatus: ['starting', 'running'],
    });
    const d = parse('virtual=1.2.3.4:80\n');
    expect(effective(d.virtualServices[0], d.globals)).toMatchObject({ checktimeout: 5, negotiatetimeout: 30, checkinterval: 10 });
    const g = parse('checktimeout=7\nvirtual=1.2.3.4:80\n\tnegotiatetimeout=9\n');
    expect(effective(g.virtualServices[0], g.globals)).toMatchObject({ checktimeout: 9, negotiatetimeout: 9 });
  });

  it('honours a per-virtual checkinterval only with fork=yes, warning otherwise (whatever the order)', () => {
    const noFork = parse('virtual=1.2.3.4:80\n\tcheckinterval=3\n');
    expect(effective(noFork.virtualServices[0], noFork.globals).checkinterval).toBe(10);
    expect(noFork.warnings).toEqual([{ line: 2, message: 'checkinterval in virtual service tcp:1.2.3.4:80 ignored when fork=no' }]);
    const fork = parse('virtual=1.2.3.4:80\n\tcheckinterval=3\nfork=yes\n');
    expect(effective(fork.virtualServices[0], fork.globals).checkinterval).toBe(3);
    expect(fork.warnings).toEqual([]);
  });

  it("reads a per-virtual fallback (its port defaults to the virtual's), and refuses the other family", () => {
    expect(only(section('fallback=127.0.0.1')).fallback).toEqual({ line: 3, address: '127.0.0.1', port: 80, forwarding: 'gate' });
    expect(only(section('fallback=127.0.0.1:8080 masq # sorry page')).fallback).toMatchObject({ port: 8080, forwarding: 'masq' });
    expect(only('virtual6=[::1]:80\n\tfallback6=[::1]:8080 masq\n').fallback).toMatchObject({ address: '::1', port: 8080 });
    expect(only('virtual=7\n\tfallback=127.0.0.1\n').fallback).toMatchObject({ port: 0 });
    expect(errorOf(section('fallback6=[::1]')).message).toBe('cannot specify "fallback6" here.  please use "fallback" instead');
    expect(errorOf('virtual6=[::1]:80\n\tfallback=127.0.0.1\n').message).toBe('cannot specify "fallback" here.  please use "fallback6" instead');
    expect(errorOf(section('fallback=127.0.0.1 nat')).message).toBe('forward method must be gate, masq or ipip');
    expect(errorOf(section('fallback=nohost:80')).message).toBe('invalid IPv4 address or could not resolve for fallback server: nohost');
  });

  it("refuses bad values with ldirectord's messages", () => {
    const cases: [string, string][] = [
      ['request=index.html', 'Unknown command "\trequest=index.html"'],
      ['receive=""', 'invalid receive string'],
      ['login=""', 'invalid login string'],
      ['passwd=""', 'invalid password'],
      ['database=""', 'invalid database'],
      ['secret=""', 'invalid secret'],
      ['load="--"', 'invalid string for load testing'],
      ['checkcommand=', 'invalid check command'],
      ['checkport=none', 'invalid port'],
      ['checkport=0', 'checkport must be in range 1..65536'],
      ['negotiatetimeout=0', 'invalid negotiate timeout'],
      ['checkcount=0', 'invalid check count'],
      ['checkinterval=never', 'invalid checkinterval'],
      ['connecttimeout=5', 'connecttimeout directive deprecated in favour of negotiatetimeout'],
      ['timeout=5', 'Unknown command "\ttimeout=5"'],
      ['persistent=forever', 'invalid persistent timeout'],
      ['schedflags=', 'invalid sched-flags'],
      ['protocol=', 'invalid protocol'],
      ['protocol=sctp', 'protocol must be tcp or udp if the virtual service is an address and port'],
      ['httpmethod=POST', 'httpmethod must be GET or HEAD'],
      ['cleanstop=1', "cleanstop must be 'yes' or 'no'"],
      ['emailalert=""', 'no email address specified'],
      ['emailalertfreq=often', 'invalid email alert frequency'],
      ['emailalertstatus=sometimes', 'invalid email alert status at: "sometimes"'],
      ['smtp=@mail', 'invalid SMTP server address'],
      ['fallbackcommand=', 'invalid fallback command'],
      ['scheduler=123', 'invalid scheduler, should be only lowercase letters (a-z)'],
    ];
    for (const [text, message] of cases) {
      const e = errorOf(section(text));
      expect([text, e.message, e.where.line]).toEqual([text, message, 3]);
    }
  });
});

describe('global directives', () => {
  it("has ldirectord's defaults (quiescent no, as the code says)", () => {
    expect(parse('').globals).toEqual({
      checkinterval: 10,
      checkcount: 1,
      failurecount: 1,
      autoreload: false,
      logfile: '/var/log/ldirectord.log',
      execute: [],
      fork: false,
      supervised: false,
      quiescent: false,
      readdquiescent: false,
      cleanstop: true,
      alerts: {},
    });
  });

  it('reads every global', () => {
    const g = parse(
      [
        'checktimeout=4',
        'negotiatetimeout=12',
        'checkinterval=5s',
        'failurecount=3',
        'autoreload=yes',
        'callback="/usr/local/bin/sync"',
        'fallback=127.0.0.1:8080',
        'fallback6=[::1] masq',
        'fallbackcommand="/usr/local/bin/sorry"',
        'logfile="daemon"',
        'execute=other.cf',
        'execute=other.cf',
        'fork=yes',
        'supervised=no',
        'quiescent=yes',
        'readdquiescent=yes',
        'cleanstop=no',
        'emailalert="ops@example"',
        'emailalertfreq=300',
        'emailalertstatus=all',
        'emailalertfrom=director@example',
        'smtp=mail.example',
        'maintenancedir=/etc/ha.d/maint',
      ].join('\n'),
    ).globals;
    expect(g).toEqual({
      checktimeout: 4,
      negotiatetimeout: 12,
      checkinterval: 5,
      checkcount: 1,
      failurecount: 3,
      autoreload: true,
      callback: '/usr/local/bin/sync',
      fallback: { line: 7, address: '127.0.0.1', port: 8080, forwarding: 'gate' },
      fallback6: { line: 8, address: '::1', port: undefined, forwarding: 'masq' },
      fallbackcommand: '"/usr/local/bin/sorry"',
      logfile: 'daemon',
      execute: ['other.cf'],
      fork: true,
      supervised: false,
      quiescent: true,
      readdquiescent: true,
      cleanstop: false,
      maintenancedir: '/etc/ha.d/maint',
      alerts: {
        emailalert: 'ops@example',
        emailalertfreq: 300,
        emailalertstatus: ['starting', 'running', 'stopping', 'reloading'],
        emailalertfrom: 'director@example',
        smtp: 'mail.example',
      },
    });
  });

  it("applies the global fallback with the virtual's port to tcp/udp services of its family, never to fwmark services", () => {
    const c = parse('fallback=127.0.0.1 masq\nfallback6=[::1]:9\nvirtual=1.2.3.4:80\nvirtual=1.2.3.4:53\nvirtual=3\nvirtual6=[::1]:80\n');
    const fb = c.virtualServices.map((v) => effective(v, c.globals).fallback);
    expect(fb.map((f) => f && `${f.address}:${f.port ?? '-'} ${f.forwarding}`)).toEqual(['127.0.0.1:- masq', '127.0.0.1:- masq', undefined, '::1:9 gate']);
    expect(desiredWhenHealthy(c).map((s) => s.realServers.map((r) => r.address))).toEqual([['127.0.0.1:80'], ['127.0.0.1:53'], [], ['[::1]:80']]);
  });

  it('cuts timeouts and intervals longer than a timer can hold, with a warning', () => {
    const c = parse('checkinterval=99999999\nvirtual=1.2.3.4:80\n\tchecktimeout=3000000\n');
    expect([c.globals.checkinterval, c.virtualServices[0].checktimeout]).toEqual([2147483, 2147483]);
    expect(c.warnings).toEqual([
      { line: 1, message: 'checkinterval 99999999 is more than 2147483 seconds: taken as 2147483' },
      { line: 3, message: 'checktimeout 3000000 is more than 2147483 seconds: taken as 2147483' },
    ]);
  });

  it('checks the log file only when it is used (not with supervised=yes, as ldirectord)', () => {
    expect(parse('supervised=yes\nlogfile="/nonexistent-aavip-dir/x.log"\n', { files: systemFileChecks }).globals.logfile).toBe('/nonexistent-aavip-dir/x.log');
  });

  it('accepts a bare supervised with a warning', () => {
    const c = parse('supervised\n');
    expect(c.globals.supervised).toBe(true);
    expect(c.warnings).toEqual([{ line: 1, message: 'please update your config not to use a bare supervised directive' }]);
    expect(errorOf('supervised=maybe\n').message).toBe("supervised must be 'yes' or 'no'");
  });

  it("refuses bad values with ldirectord's messages", () => {
    const cases: [string, string][] = [
      ['checktimeout=0', 'invalid check timeout value'],
      ['negotiatetimeout=x', 'invalid negotiate timeout value'],
      ['checkcount=0', 'invalid check count value'],
      ['checkinterval=0s', 'invalid check interval value'],
      ['connecttimeout=5', 'connecttimeout directive deprecated in favour of negotiatetimeout'],
      ['fork=true', "fork must be 'yes' or 'no'"],
      ['readdquiescent=', "readdquiescent must be 'yes' or 'no'"],
      ['cleanstop=no ', "cleanstop must be 'yes' or 'no'"],
      ['callback=/usr/bin/x', 'Unknown command callback=/usr/bin/x'],
      ['logfile=/var/log/x', 'Unknown command logfile=/var/log/x'],
      ['emailalertfrom=', 'no email from address specified'],
      ['maintenancedir=', 'maintenance directory not specified'],
      ['fallbackcommand=', 'invalid fallback command'],
      ['fallback=[::1]:80', 'invalid IPv4 address or could not resolve for fallback server: [::1]'],
      ['fallback=127.0.0.1:nosuch', 'invalid port for fallback server'],
      ['emailalertstatus=none,bogus', 'invalid email alert status at: "bogus"'],
      ['quiescent', 'Unknown command quiescent'],
      ['real=10.0.0.1:80 gate', 'Unknown command real=10.0.0.1:80 gate'],
    ];
    for (const [text, message] of cases) {
      const e = errorOf(`# first\n${text}\n`);
      expect([text, e.message, e.where.line]).toEqual([text, message, 2]);
    }
  });
});
