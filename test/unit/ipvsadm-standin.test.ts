// The ipvsadm stand-in the ldirectord differential test drives (test/fixtures/ipvsadm-standin.mjs):
// its listings must be ipvsadm 1.31's to the column, since ldirectord parses `-L -n` with regexes,
// and its refusals must be ipvsadm's, since ldirectord's port-mapping bug shows through them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeThresholds, parseIpvsadmSave } from '../../src/lvs/ipvs/ipvsadm.js';
import { PACKAGE_ROOT } from '../../src/paths.js';

const STANDIN = join(PACKAGE_ROOT, 'test', 'fixtures', 'ipvsadm-standin.mjs');
const dir = mkdtempSync(join(tmpdir(), 'aavip-standin-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { ...process.env, IPVSADM_STANDIN_TABLE: join(dir, 't.json') };
const ipvsadm = (...args: string[]) => {
  const r = spawnSync(process.execPath, [STANDIN, ...args], { env, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('the ipvsadm stand-in', () => {
  it('lists, saves and refuses as ipvsadm 1.31 does', () => {
    for (const cmd of [
      '-A -t 198.18.40.100:80 -s rr',
      '-a -t 198.18.40.100:80 -x 10 -y 3 -r 198.18.40.12:8080 -m -w 5',
      '-a -t 198.18.40.100:80 -x 0 -y 0 -r 198.18.40.11:8080 -g -w 2',
      '-A -u 198.18.40.106:53 -o -s wrr',
      '-A -f 5 -s sh -p 300 -M 255.255.255.0',
      '-a -f 5 -r 198.18.40.11:0 -i -w 1',
      '-A -f 7 -6 -s wrr -p 100 -M 64',
      '-a -f 7 -6 -r [2001:db8:0::40:11]:0 -g -w 1',
    ])
      expect(ipvsadm(...cmd.split(' ')).status).toBe(0);
    expect(ipvsadm('-L', '-n').stdout).toBe(`IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  198.18.40.100:80 rr
  -> 198.18.40.11:80              Route   2      0          0         
  -> 198.18.40.12:8080            Masq    5      0          0         
UDP  198.18.40.106:53 wrr ops
FWM  5 sh persistent 300 mask 255.255.255.0
  -> 198.18.40.11:0               Tunnel  1      0          0         
FWM  7 IPv6 wrr persistent 100 mask 64
  -> [2001:db8::40:11]:0          Route   1      0          0         
`);
    expect(
      ipvsadm('-L', '-n', '--thresholds').stdout.split('\n').slice(1, 6).join('\n'),
    ).toBe(`Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  198.18.40.100:80            
  -> 198.18.40.11:80              0          0          0          0         
  -> 198.18.40.12:8080            10         3          0          0         `);
    const saved = ipvsadm('-S', '-n').stdout;
    expect(saved.split('\n').slice(0, 3)).toEqual([
      '-A -t 198.18.40.100:80 -s rr',
      '-a -t 198.18.40.100:80 -r 198.18.40.11:80 -g -w 2',
      '-a -t 198.18.40.100:80 -r 198.18.40.12:8080 -m -w 5',
    ]);
    // aavip reads the save format back (ipvsadm does not save thresholds).
    expect(parseIpvsadmSave(saved).map((s) => [s.protocol, s.family, s.address, s.scheduler, s.persistent, s.netmask, s.ops, s.realServers.length])).toEqual([
      ['tcp', 4, '198.18.40.100:80', 'rr', null, null, false, 2],
      ['udp', 4, '198.18.40.106:53', 'wrr', null, null, true, 0],
      ['fwm', 4, 5, 'sh', 300, '255.255.255.0', false, 1],
      ['fwm', 6, 7, 'wrr', 100, '64', false, 1],
    ]);
    // ... and takes the thresholds from the threshold listing, so it does not re-send them each time.
    const merged = mergeThresholds(parseIpvsadmSave(saved), ipvsadm('-L', '-n', '--thresholds').stdout);
    expect(merged[0].realServers.map((r) => [r.address, r.upper, r.lower])).toEqual([
      ['198.18.40.11:80', 0, 0],
      ['198.18.40.12:8080', 10, 3],
    ]);
    expect(merged[3].realServers.map((r) => r.address)).toEqual(['[2001:db8::40:11]:0']);
    expect(mergeThresholds(parseIpvsadmSave(saved), '')).toEqual(parseIpvsadmSave(saved)); // listings disagree: as saved

    // A gate real takes the service's port on -a, not on -d: ldirectord's port-mapped re-add and delete fail.
    expect(ipvsadm('-a', '-t', '198.18.40.100:80', '-r', '198.18.40.11:8080', '-g', '-w', '2')).toMatchObject({
      status: 255,
      stderr: 'Destination already exists\n',
    });
    expect(ipvsadm('-d', '-t', '198.18.40.100:80', '-r', '198.18.40.11:8080')).toMatchObject({ status: 255, stderr: 'No such destination\n' });
    expect(ipvsadm('-D', '-t', '198.18.40.1:80')).toMatchObject({ status: 255, stderr: 'No such service\n' });
    expect(ipvsadm('-a', '-t', '198.18.40.1:80', '-r', '198.18.40.11:80')).toMatchObject({ status: 255, stderr: 'Service not defined\n' });
    expect(ipvsadm('-a', '-f', '5', '-r', ':0', '-w', '1')).toMatchObject({ status: 2, stderr: 'illegal real server address[:port] specified\n' });
    expect(ipvsadm('-d', '-t', '198.18.40.100:80', '-r', '198.18.40.11:80', '-w', '1')).toMatchObject({
      status: 2,
      stderr: "Illegal 'weight' option with the 'delete-server' command\n",
    });
    expect(ipvsadm('-e', '-t', '198.18.40.100:80', '-r', '198.18.40.12:8080', '-m', '-y', '4')).toMatchObject({
      status: 255,
      stderr: 'Numerical result out of range\n',
    });
    // -e without -x/-y clears the thresholds (ldirectord's quiesce).
    expect(ipvsadm('-e', '-t', '198.18.40.100:80', '-r', '198.18.40.12:8080', '-m', '-w', '0').status).toBe(0);
    expect(ipvsadm('-L', '-n', '--thresholds').stdout).toContain('  -> 198.18.40.12:8080            0          0  ');

    const log = readFileSync(`${env.IPVSADM_STANDIN_TABLE}.log`, 'utf8').split('\n');
    expect(log).toContain('-a -t 198.18.40.100:80 -r 198.18.40.11:8080 -g -w 2\t=> exit 255: Destination already exists');
    expect(ipvsadm('-C').status).toBe(0);
    expect(execFileSync(process.execPath, [STANDIN, '-S', '-n'], { env, encoding: 'utf8' })).toBe('');
  });
});
