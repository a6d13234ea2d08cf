// ldirectord.cf as ldirectord reads it: the examples of its behaviour, malformed files, and fuzzing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import { desiredWhenHealthy } from '../../src/lvs/config/desired.js';
import { effective } from '../../src/lvs/config/model.js';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';

const parse = (text: string) => parseLdirectordConfig(text, 'test.cf');
const errorOf = (text: string): InputError => {
  try { parse(text); } catch (e) { if (e instanceof InputError) return e; throw e; }
  throw new Error('parsed without error');
};

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

describe('valid configurations (the spec\'s examples)', () => {
  it('E1: HTTP negotiate with a fallback', () => {
    const c = parse(E1);
    expect(c.globals).toMatchObject({ checktimeout: 2, checkinterval: 2, quiescent: false });
    const v = c.virtualServices[0];
    expect(v).toMatchObject({ protocol: 'tcp', address: '127.0.0.100', port: 80, service: 'http', request: '/index.html', receive: 'OK', scheduler: 'rr', checktype: { kind: 'negotiate' } });
    expect(v.realServers.map((r) => [r.address, r.port, r.forwarding, r.weight])).toEqual([['127.0.0.2', 8080, 'masq', 5], ['127.0.0.3', 8080, 'masq', 1]]);
    expect(effective(v, c.globals)).toMatchObject({ checktimeout: 2, negotiatetimeout: 2, fallback: { address: '127.0.0.1', port: 8081, forwarding: 'masq' } });
    expect(desiredWhenHealthy(c)).toEqual([{
      protocol: 'tcp', family: 4, address: '127.0.0.100:80', scheduler: 'rr', persistent: null, netmask: null, schedflags: null, ops: false,
      realServers: [
        { address: '127.0.0.2:8080', forwarding: 'masq', weight: 5, lower: 0, upper: 0 },
        { address: '127.0.0.3:8080', forwarding: 'masq', weight: 1, lower: 0, upper: 0 },
      ],
    }]);
  });

  it('E2: quiescent and failurecount', () => {
    const c = parse(E1.replace('checkinterval=2\nquiescent=no', 'checkinterval=1\nquiescent=yes\nfailurecount=2'));
    expect(c.globals).toMatchObject({ checkinterval: 1, quiescent: true, failurecount: 2 });
  });

  it('E3: a firewall-mark service with persistence', () => {
    const c = parse('virtual=5\n\treal=127.0.0.2 gate\n\tchecktype=on\n\tscheduler=sh\n\tpersistent=300\n\tnetmask=255.255.255.0\n');
    expect(desiredWhenHealthy(c)).toEqual([{ protocol: 'fwm', family: 4, address: 5, scheduler: 'sh', persistent: 300, netmask: '255.255.255.0',
      schedflags: null, ops: false, realServers: [{ address: '127.0.0.2:0', forwarding: 'gate', weight: 1, lower: 0, upper: 0 }] }]);
    expect(c.virtualServices[0].service).toBe('none');
  });

  it('E4: an address range with DR port mapping', () => {
    const c = parse('quiescent=yes\nvirtual=127.0.0.100:80\n\treal=127.0.0.5->127.0.0.6:8080 gate 2\n\tchecktype=connect\n');
    expect(c.virtualServices[0].realServers.map((r) => `${r.address}:${r.port}`)).toEqual(['127.0.0.5:8080', '127.0.0.6:8080']);
    // The kernel stores gate reals of an address:port service under the service's port.
    expect(desiredWhenHealthy(c)[0].realServers.map((r) => `${r.address} ${r.weight}`)).toEqual(['127.0.0.5:80 2', '127.0.0.6:80 2']);
  });

  it('E5: port 53 makes a UDP service checked as dns', () => {
    const v = parse('virtual=127.0.0.100:53\n\treal=127.0.0.2:53 gate\n\tchecktype=connect\n').virtualServices[0];
    expect(v).toMatchObject({ protocol: 'udp', service: 'dns', checktype: { kind: 'connect' } });
  });

  it('E6: an external check', () => {
    const v = parse('virtual=127.0.0.100:9000\n\treal=127.0.0.2:8080 masq\n\tchecktype=external\n\tcheckcommand="/tmp/ldlab/ext.sh"\n').virtualServices[0];
    expect(v).toMatchObject({ checktype: { kind: 'external' }, checkcommand: '/tmp/ldlab/ext.sh', service: 'none' });
  });

  it('E7: a combined (numeric) checktype', () => {
    const v = parse('virtual=127.0.0.100:9001\n\treal=127.0.0.2:8080 masq\n\tservice=http\n\tchecktype=3\n').virtualServices[0];
    expect(v.checktype).toEqual({ kind: 'combined', connectRounds: 3 });
  });

  it('E8: readdquiescent is a global', () => {
    const c = parse('quiescent=yes\nreaddquiescent=yes\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 4\n\treal=127.0.0.3:8080 masq 2\n\treal=127.0.0.4:8080 masq 2\n\tservice=http\n');
    expect(c.globals).toMatchObject({ quiescent: true, readdquiescent: true });
    expect(c.virtualServices[0].realServers.map((r) => r.weight)).toEqual([4, 2, 2]);
  });

  it('E9: IPv6 services, by address and by mark', () => {
    const c = parse('virtual6=[::1]:80\n\treal6=[::1]:8080 masq\n\tchecktype=on\nvirtual6=7\n\treal6=[::1] gate\n\tnetmask=64\n\tpersistent=100\n');
    const s = desiredWhenHealthy(c);
    expect(s[0]).toMatchObject({ protocol: 'tcp', family: 6, address: '[::1]:80', scheduler: 'wrr', realServers: [{ address: '[::1]:8080', forwarding: 'masq' }] });
    expect(s[1]).toMatchObject({ protocol: 'fwm', family: 6, address: 7, persistent: 100, netmask: '64', realServers: [{ address: '[::1]:0', forwarding: 'gate' }] });
  });

  it('E11: maintenancedir and fork are globals', () => {
    expect(parse('fork=yes\nmaintenancedir=/tmp/ldlab/maint\nvirtual=127.0.0.100:80\n\treal=127.0.0.3:8080 masq 2\n').globals).toMatchObject({ fork: true, maintenancedir: '/tmp/ldlab/maint' });
  });

  it('E12 (differs from ldirectord): an address without a port is refused, not taken as firewall mark 127', () => {
    const e = errorOf('virtual=127.0.0.100\n\treal=127.0.0.2 gate\n');
    expect(e.where.line).toBe(1);
    expect(e.message).toMatch(/has no port \(ldirectord would take it as firewall mark 127\)/);
  });

  it('resolves timeouts as ldirectord does', () => {
    const g = 'negotiatetimeout=20\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:80 gate\n';
    const c = parse(g);
    expect(effective(c.virtualServices[0], c.globals)).toMatchObject({ checktimeout: 20, negotiatetimeout: 20 });
    const d = parse(g + '\tchecktimeout=3\n');
    expect(effective(d.virtualServices[0], d.globals)).toMatchObject({ checktimeout: 3, negotiatetimeout: 3 });
    const none = parse('virtual=127.0.0.100:80\n\treal=127.0.0.2:80 gate\n');
    expect(effective(none.virtualServices[0], none.globals)).toMatchObject({ checktimeout: 5, negotiatetimeout: 30, failurecount: 1 });
  });

  it('keeps # inside quotes and ignores comments outside them (differs from ldirectord, which cut the value)', () => {
    const v = parse('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate # the first\n\treceive="a#b"\n').virtualServices[0];
    expect(v.receive).toBe('a#b');
    expect(v.realServers.length).toBe(1);
  });

  it('lets a blank line sit inside a section (differs from ldirectord)', () => {
    const v = parse('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\n\n\tscheduler=rr\n').virtualServices[0];
    expect(v.scheduler).toBe('rr');
  });

  it('reads per-real request/receive and thresholds', () => {
    const r = parse('virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 3 "health","up" l:5 u:10\n').virtualServices[0].realServers[0];
    expect(r).toMatchObject({ weight: 3, request: '/health', receive: 'up', lower: 5, upper: 10 });
  });

  it('warns that checkcount is deprecated', () => {
    expect(parse('checkcount=3\n').warnings[0].message).toMatch(/checkcount option is deprecated/);
  });
});

describe('malformed configurations name the line', () => {
  const cases: [string, string, number, RegExp][] = [
    ['M1 missing forwarding method', 'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080\n', 2, /^invalid address for real server \(wrong format\)$/],
    ['M3 trailing space on yes/no', 'autoreload = yes \n', 1, /^autoreload must be 'yes' or 'no'$/],
    ['M3 trailing comment on a global yes/no', 'quiescent=yes #c\n', 1, /^quiescent must be 'yes' or 'no'$/],
    ['M3 trailing comment on a per-virtual yes/no', 'virtual=127.0.0.100:80\n\treal=127.0.0.2:80 gate\n\tquiescent=yes #c\n', 3, /^quiescent must be 'yes' or 'no'$/],
    ['M5 duplicate virtual', 'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 gate\nvirtual=127.0.0.100:80\n\treal=127.0.0.3:8080 gate\n', 3, /^duplicate virtual server/],
    ['checktype', 'virtual=1.2.3.4:80\n\tchecktype=magic\n', 2, /^checktype must be "connect", "negotiate", "on", "off", "ping", "external", "external-perl" or a positive number$/],
    ['service', 'virtual=1.2.3.4:80\n\tservice=telnet\n', 2, /^service must be dns, ftp, http, https, http_proxy, imap, imaps, ldap, ldaps, mysql, nntp, none, oracle, pop, pops, radius, pgsql, simpletcp, sip, smtp or submission$/],
    ['forward method', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:80 nat\n', 2, /^forward method must be gate, masq or ipip$/],
    ['inverted range', 'virtual=1.2.3.4:80\n\treal=127.0.0.9->127.0.0.2:80 gate\n', 2, /^Invalid Range: 127\.0\.0\.9-127\.0\.0\.2: First value must be greater than or equal to the second value$/],
    ['unknown port name', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:nosuchsvc gate\n', 2, /^invalid port \(nosuchsvc\) for real server \(could not resolve port\)$/],
    ['checkport range', 'virtual=1.2.3.4:80\n\tcheckport=70000\n', 2, /^checkport must be in range 1\.\.65536$/],
    ['IPv4 netmask', 'virtual=1.2.3.4:80\n\tnetmask=24\n', 2, /^invalid netmask: dotted quad notation is required$/],
    ['scheduler case', 'virtual=1.2.3.4:80\n\tscheduler=WRR\n', 2, /^invalid scheduler, should be only lowercase letters \(a-z\)$/],
    ['fwm on an address', 'virtual=1.2.3.4:80\n\tprotocol=fwm\n', 2, /^protocol must be tcp or udp if the virtual service is an address and port$/],
    ['empty request', 'virtual=1.2.3.4:80\n\trequest=""\n', 2, /^no request string specified$/],
    ['virtual checktimeout 0', 'virtual=1.2.3.4:80\n\tchecktimeout=0\n', 2, /^invalid check timeout$/],
    ['global checkinterval 0', 'checkinterval=0\n', 1, /^invalid check interval value$/],
    ['failurecount 0', 'failurecount=0\n', 1, /^invalid failure count$/],
    ['unknown global', 'foo=bar\n', 1, /^Unknown command foo=bar$/],
    ['timeout', 'timeout=3\n', 1, /^timeout directive deprecated in favour of checktimeout and negotiatetimeout$/],
    ['email status', 'emailalertstatus=none,running\n', 1, /^invalid email alert status: "running" specified with "none"$/],
    ['readdquiescent in a section', 'virtual=1.2.3.4:80\n\treaddquiescent=yes\n', 2, /^Unknown command "\treaddquiescent=yes"$/],
    ['three-space indent', 'virtual=1.2.3.4:80\n   real=127.0.0.2:80 gate\n', 2, /^Unknown command    real=127\.0\.0\.2:80 gate$/],
    ['IPv6 in virtual=', 'virtual=[::1]:80\n', 1, /^cannot specify an IPv6 address here\. please use "virtual6" instead\.$/],
    ['real in virtual6', 'virtual6=[::1]:80\n\treal=127.0.0.1:80 gate\n', 2, /^cannot specify "real" here\.  please use "real6" instead$/],
    ['IPv6 range', 'virtual6=[::1]:80\n\treal6=[::1]->[::2]:80 gate\n', 2, /^Address range for IPv6 is not supported yet$/],
    ['quoted thresholds', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:80 gate "l:5" "u:10"\n', 2, /thresholds are written unquoted/],
    ['leftover on a real line', 'virtual=1.2.3.4:80\n\treal=127.0.0.2:80 gate 1 junk\n', 2, /^Invalid real server line, around "junk"$/],
    ['unquoted request', 'virtual=1.2.3.4:80\n\trequest=index.html\n', 2, /^Unknown command "\trequest=index.html"$/],
  ];
  it.each(cases)('%s', (_name, text, line, message) => {
    const e = errorOf(text);
    expect(e.where.line).toBe(line);
    expect(e.where.file).toBe('test.cf');
    expect(e.message).toMatch(message);
  });
});

describe('fuzzing', () => {
  const valid = [E1, 'virtual=5\n\treal=127.0.0.2 gate\n\tchecktype=on\n', 'virtual6=[::1]:80\n\treal6=[::1]:8080 masq\n', 'quiescent=yes\nvirtual=127.0.0.100:53\n\treal=127.0.0.2:53 gate\n'];
  const tokens = ['virtual=', 'virtual6=', 'real=', '\t', '    ', '#', '"', '=', ':', '->', ' ', '\n', 'gate', 'masq', '127.0.0.1', '[::1]', '80', 'yes', 'no', 'checktype=', 'service=http', 'l:5', 'u:', '0', 'x'];

  const survives = (text: string) => {
    const lines = text.split(/\r?\n/).length;
    try {
      parse(text);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      expect(e.where.line).toBeGreaterThanOrEqual(1);
      expect(e.where.line).toBeLessThanOrEqual(lines);
    }
  };

  it('mutated valid files: only InputErrors, each naming a line of the file', () => {
    fc.assert(fc.property(fc.constantFrom(...valid), fc.nat(), fc.nat(), fc.constantFrom(...tokens), (base, at, len, insert) => {
      const i = at % (base.length + 1);
      survives(base.slice(0, i) + insert + base.slice(i + (len % 5)));
    }), { numRuns: 3000 });
  });

  it('token soups and arbitrary text: no crash, no hang', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 60 }), (ts) => survives(ts.join(''))), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => survives(s)), { numRuns: 2000 });
  });
});

describe('aavip ldirectord check', () => {
  it('prints the table as JSON, and exits 2 naming file and line for a broken file', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'aavip-ld-'));
    writeFileSync(join(dir, 'good.cf'), E1);
    writeFileSync(join(dir, 'bad.cf'), 'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080\n');
    const cli = (f: string) => spawnSync(process.execPath, ['dist/src/cli/main.js', 'ldirectord', '-f', join(dir, f), 'check', '--json'], { encoding: 'utf8' });
    const good = cli('good.cf');
    expect(good.status).toBe(0);
    const out = JSON.parse(good.stdout);
    expect(out.virtualServices[0]).toMatchObject({ protocol: 'tcp', address: '127.0.0.100:80', scheduler: 'rr', persistent: null });
    expect(out.virtualServices[0].realServers[0]).toMatchObject({ address: '127.0.0.2:8080', forwarding: 'masq', weight: 5 });
    const bad = cli('bad.cf');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${join(dir, 'bad.cf')}:2: `);
    expect(bad.stderr).toContain('invalid address for real server (wrong format)');
  });
});
