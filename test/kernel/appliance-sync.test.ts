// The appliance's IPVS connection sync on Debian's 6.1 kernel (in the VM): `aavip up` with
// lvs.config runs the sync daemon as master and backup, its master's messages reach another
// node's backup, SIGTERM and `aavip down` remove the daemons, and `lvs.sync: false` starts none.
import { beforeAll, describe, expect, it } from 'vitest';
import { syncIdOf } from '../../src/appliance/settings.js';
import { runScenario } from './vm.js';

let r: any;
const id = syncIdOf('synlab');
const states = (running: { state: string; interface: string; syncId: number }[]) => running.map((d) => [d.state, d.interface, d.syncId]);

beforeAll(async () => {
  const vm = await runScenario('appliance-sync.mjs');
  r = JSON.parse(vm.files['sync.json']);
  if (r.error) throw new Error(`${r.error}\n${JSON.stringify(r.logs).slice(-3000)}`);
}, 900_000);

describe('IPVS connection sync of the appliance', () => {
  it('runs master and backup on the VIP interface with the syncid from the cluster name, replacing a stale daemon', () => {
    expect(r.syncId).toBe(id);
    expect(r.before).toMatch(/backup sync daemon \(mcast=eth0, syncid=99/);
    expect(r.daemons1).toMatch(new RegExp(`master sync daemon \\(mcast=eth0, syncid=${id}\\b`));
    expect(r.daemons1).toMatch(new RegExp(`backup sync daemon \\(mcast=eth0, syncid=${id}\\b`));
    expect(r.daemons1).not.toMatch(/syncid=99\b/);
    // aavip status --json: as configured, and what netlink GET_DAEMON reads from the kernel.
    expect(r.status1.sync).toMatchObject({ enabled: true, interface: 'eth0', syncId: id });
    expect(states(r.status1.sync.running)).toEqual([
      ['master', 'eth0', id],
      ['backup', 'eth0', id],
    ]);
    expect(r.logs.n1).toMatch(/other settings was running: replaced/);
  });

  it('sets net.ipv4.vs.sync_version to 1', () => {
    expect(r.syncVersion1).toBe('1');
    expect(r.logs.n1).toMatch(/sync_version set to 1/);
  });

  it("sends the connections it directs to another node's backup", () => {
    expect(r.greeting).toMatch(/^r1 \d+$/);
    const sport = r.greeting.split(' ')[1];
    const entry = new RegExp(`198\\.18\\.0\\.2:${sport}\\s+198\\.18\\.0\\.100:80\\s+198\\.18\\.0\\.21:80`);
    expect(r.connTables.n1).toMatch(entry);
    expect(r.connTables.n2).toMatch(entry);
  });

  it('removes both daemons on SIGTERM', () => {
    expect(r.exit1).toBe(0);
    expect(r.afterStop1).toBe('');
  });

  it('leaves the daemons behind a SIGKILL, and aavip down removes them', () => {
    expect(r.afterKill).toMatch(/master sync daemon/);
    expect(r.afterKill).toMatch(/backup sync daemon/);
    expect(r.down).toMatch(/exit 0\s*$/);
    expect(r.afterDown).toBe('');
  });

  it('starts none with lvs.sync: false, and says so in the status', () => {
    expect(r.statusOff).toEqual({ enabled: false, interface: 'eth0', syncId: id, running: [] });
    expect(r.daemonsOff).toBe('');
    expect(r.exitOff).toBe(0);
  });

  it('starts the daemons when a reload switches sync on, and removes them on SIGTERM', () => {
    expect(r.daemonsReloaded).toMatch(/master sync daemon \(mcast=eth0, syncid=42\b/);
    expect(r.daemonsReloaded).toMatch(/backup sync daemon \(mcast=eth0, syncid=42\b/);
    expect(r.logs.n1off).toMatch(/IPVS connection sync started/);
    expect(r.afterReloadedStop).toBe('');
  });
});
