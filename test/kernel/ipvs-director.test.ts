// aavip's ldirectord role driving real IPVS on Debian's 6.1 kernel (in the VM): real servers in
// namespaces behind a director, NAT and direct routing, over netlink and through ipvsadm.
import { beforeAll, describe, expect, it } from 'vitest';
import { runScenario } from './vm.js';

let r: any;
beforeAll(async () => {
  const vm = await runScenario('ipvs-director.mjs');
  r = JSON.parse(vm.files['ipvs.json']);
  if (r.error) throw new Error(r.error);
}, 900_000);

describe('the ldirectord role on real IPVS', () => {
  it('programs the virtual service and its real servers over netlink, and connections reach both (NAT and direct routing)', () => {
    expect(r.table1).toMatch(/TCP\s+198\.18\.0\.100:80 wrr/);
    expect(r.table1).toMatch(/198\.18\.2\.11:8080\s+Masq\s+3/);
    expect(r.table1).toMatch(/198\.18\.2\.12:80\s+Route\s+1/);
    expect(Object.keys(r.burst1).sort()).toEqual(['r1', 'r2']);
  });

  it('quiesces a stopped server within checkinterval + checktimeout; connections reach only the healthy one', () => {
    expect(r.steps.r2Quiesced).toBeLessThan(2000 + 1500);
    expect(r.burst2).toEqual({ r1: 12 });
  });

  it('adds the fallback when no real server is up, and removes it when one returns', () => {
    expect(r.burst3).toEqual({ fallback: 6 });
    expect(r.steps.fallbackOut).toBeGreaterThan(0);
    expect(r.status.virtualServices[0].realServers.map((x: any) => [x.address, x.state, x.weight])).toEqual([
      ['198.18.2.11:8080', 'up', 3],
      ['198.18.2.12:80', 'down', 0],
    ]);
  });

  it('leaves an empty table after a clean stop', () => {
    expect(r.afterStop).not.toMatch(/TCP|UDP|FWM/);
  });

  it('manages the other services when the kernel refuses one (unknown scheduler), reports it, and adds it once the file is fixed', () => {
    expect(r.table1).not.toMatch(/198\.18\.0\.100:81/);
    expect(r.status1.virtualServices.map((v: any) => [v.virtualService, v.ipvsError])).toEqual([
      ['tcp:198.18.0.100:80', null],
      ['tcp:198.18.0.100:81', 'Scheduler or persistence engine not found (ENOENT)'],
    ]);
    expect(r.tableFixed).toMatch(/TCP\s+198\.18\.0\.100:81 rr/);
    expect(r.tableFixed).toMatch(/198\.18\.2\.11:8080\s+Masq\s+3/);
    expect(r.statusFixed.virtualServices.map((v: any) => v.ipvsError)).toEqual([null, null]);
    // Through ipvsadm too: the refusal is ipvsadm's failure, and :80 is managed all the same.
    expect(r.status2.virtualServices[1].ipvsError).toMatch(/ipvsadm .*-s wrrr/);
  });

  it('starts, lists and stops a connection-sync daemon over netlink, as ipvsadm reads it', () => {
    expect(r.sync.listed).toEqual([{ state: 'master', interface: 'eth0', syncId: 7, maxLength: 1400, group: '239.1.2.3', port: 8848, ttl: 2 }]);
    expect(r.sync.shown).toMatch(/master sync daemon \(mcast=eth0, syncid=7, maxlen=1400, group=239\.1\.2\.3, port=8848, ttl=2\)/);
    expect(r.sync.after).toEqual([]);
  });

  it('reaches the same table through ipvsadm', () => {
    const rows = (t: string) =>
      t
        .split('\n')
        .filter((l) => /^(TCP| {2}->)/.test(l) && !/RemoteAddress/.test(l))
        .map((l) => l.trim().split(/\s+/).slice(0, 3).join(' '));
    expect(rows(r.table2)).toEqual(rows(r.table1));
  });
});
