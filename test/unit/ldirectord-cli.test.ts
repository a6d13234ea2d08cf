// `aavip ldirectord -f FILE check [--json]` end to end (the built CLI: run `npx tsc -p .` first),
// and ldirectord's lookup of the configuration file.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfigPath } from '../../src/lvs/config/files.js';
import { systemResolver } from '../../src/lvs/config/resolve.js';

const dir = mkdtempSync(join(tmpdir(), 'aavip-ld-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (name: string, text: string, ...flags: string[]) => {
  writeFileSync(join(dir, name), text);
  return spawnSync(process.execPath, ['dist/src/cli/main.js', 'ldirectord', '-f', join(dir, name), 'check', ...flags], { encoding: 'utf8', timeout: 30_000 });
};

describe('aavip ldirectord check', () => {
  it('prints the table the file asks for as JSON, with warnings on stderr', () => {
    const r = check(
      'good.cf',
      [
        'checktimeout=2',
        'quiescent=no',
        'virtual=127.0.0.100:80',
        '\treal=127.0.0.2:8080 masq 5',
        '\treal=localhost:http gate',
        '\tfallback=127.0.0.1:8081 masq',
        '\tscheduler=rr',
        'virtual=198.18.0.10:53',
        '\treal=198.18.1.1->198.18.1.2:53 gate 2',
        '\tpersistent=60',
        'virtual=127.0.0.101',
        '\treal=127.0.0.2 gate',
        '',
      ].join('\n'),
      '--json',
    );
    expect(r.stderr).toBe(
      `${join(dir, 'good.cf')}:11: warning: virtual=127.0.0.101 has no port: it is firewall mark 127, as ldirectord reads it (an address service is written virtual=ADDRESS:PORT)\n`,
    );
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(
      out.virtualServices.map((s: { protocol: string; address: string | number; scheduler: string; persistent: number | null }) => [
        s.protocol,
        s.address,
        s.scheduler,
        s.persistent,
      ]),
    ).toEqual([
      ['tcp', '127.0.0.100:80', 'rr', null],
      ['udp', '198.18.0.10:53', 'wrr', 60],
      ['fwm', 127, 'wrr', null],
    ]);
    expect(
      out.virtualServices.map((s: { realServers: { address: string; forwarding: string; weight: number }[] }) =>
        s.realServers.map((d) => `${d.address} ${d.forwarding} ${d.weight}`),
      ),
    ).toEqual([['127.0.0.2:8080 masq 5', '127.0.0.1:80 gate 1'], ['198.18.1.1:53 gate 2', '198.18.1.2:53 gate 2'], ['127.0.0.2:0 gate 1']]);
  });

  it('prints a table without --json', () => {
    const r = check('table.cf', 'virtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq 5\n\tscheduler=wlc\n\tpersistent=300\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/tcp 127\.0\.0\.100:80\s+wlc persistent 300/);
    expect(r.stdout).toMatch(/-> 127\.0\.0\.2:8080\s+masq\s+5/);
  });

  it('exits 2 on a broken file with file:line: message on stderr and nothing on stdout', () => {
    const r = check('bad.cf', '# web\nvirtual=127.0.0.100:80\n\treal=127.0.0.2:8080 masq\n\tscheduler=WRR\n', '--json');
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${join(dir, 'bad.cf')}:4: scheduler: invalid scheduler, should be only lowercase letters (a-z)\n`);
    const missing = spawnSync(process.execPath, ['dist/src/cli/main.js', 'ldirectord', '-f', join(dir, 'absent.cf'), 'check'], { encoding: 'utf8' });
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain(`Config file ${join(dir, 'absent.cf')} not found`);
  });
  it('accepts the example conf/ldirectord.cf without warnings', () => {
    const r = spawnSync(process.execPath, ['dist/src/cli/main.js', 'ldirectord', '-f', 'conf/ldirectord.cf', 'check', '--json'], { encoding: 'utf8' });
    expect([r.status, r.stderr]).toEqual([0, '']);
    const table = JSON.parse(r.stdout).virtualServices.map(
      (s: { protocol: string; address: string | number; realServers: unknown[] }) => `${s.protocol} ${s.address} ${s.realServers.length}`,
    );
    expect(table).toEqual(['tcp 198.18.0.100:80 3', 'tcp 198.18.0.100:443 4', 'udp 198.18.0.100:53 2', 'fwm 42 2', 'tcp [2001:db8::100]:80 2']);
  });
});

describe('finding the file and names as ldirectord does', () => {
  it('looks for a relative name in /etc/ha.d, then /etc/ha.d/conf, then as given', () => {
    const etc = join(dir, 'etc-ha.d');
    mkdirSync(join(etc, 'conf'), { recursive: true });
    writeFileSync(join(etc, 'conf', 'web.cf'), '');
    expect(resolveConfigPath('web.cf', etc)).toBe(join(etc, 'conf', 'web.cf'));
    writeFileSync(join(etc, 'web.cf'), '');
    expect(resolveConfigPath('web.cf', etc)).toBe(join(etc, 'web.cf'));
    expect(resolveConfigPath('other.cf', etc)).toBe('other.cf');
    expect(resolveConfigPath(join(dir, 'x.cf'), etc)).toBe(join(dir, 'x.cf'));
  });

  it('resolves host and port names through the C library', () => {
    const r = systemResolver();
    expect(r.host('localhost', 4)).toBe('127.0.0.1');
    expect(r.host('127.1', 4)).toBe('127.0.0.1'); // inet_aton's short form, as getaddrinfo reads it
    expect(r.host('2001:DB8::1', 6)).toBe('2001:db8::1');
    expect(r.host('no-such-host.invalid', 4)).toBeUndefined();
    expect(r.service('domain', 'udp')).toBe(53);
    expect(r.service('https', '')).toBe(443);
    expect(r.service('no-such-service', 'tcp')).toBeUndefined();
  });
});
