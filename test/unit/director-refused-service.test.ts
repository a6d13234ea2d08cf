// One virtual service the kernel refuses (an unknown scheduler) must not take the others down:
// at start and on reload the director logs it (naming the service and the kernel's reason),
// reports it in status(), manages the rest, and retries it every round. The table is the
// in-memory IPVS, which refuses a scheduler it has no module for with ENOENT as the kernel does.
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { parseLdirectordConfig } from '../../src/lvs/config/parse.js';
import { Director } from '../../src/lvs/director.js';
import { MemoryIpvs } from '../../src/lvs/ipvs/memory.js';

const virtual = (port: number, weight: number, scheduler = 'wrr') =>
  `virtual=198.18.0.100:${port}\n\treal=198.18.1.1:${port} masq ${weight}\n\tchecktype=on\n\tscheduler=${scheduler}\n`;
const cf = (...virtuals: string[]) => parseLdirectordConfig(`checkinterval=60\n${virtuals.join('')}`, 'test.cf');

function logger() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  return {
    lines,
    log: pino(
      { level: 'info' },
      {
        write: (s: string) => {
          lines.push(JSON.parse(s));
        },
      },
    ),
  };
}

let director: Director | undefined;
afterEach(async () => {
  await director?.stop();
  director = undefined;
});

const weights = (ipvs: MemoryIpvs) => Object.fromEntries(ipvs.table.map((s) => [s.address, s.realServers.map((d) => `${d.address} w${d.weight}`)]));

describe('a virtual service the kernel refuses', () => {
  it('is refused by the in-memory IPVS as the kernel refuses it: ENOENT for an unknown scheduler', async () => {
    const ipvs = new MemoryIpvs();
    const [s] = cf(virtual(80, 1, 'wrrr')).virtualServices;
    await expect(
      ipvs.apply([
        {
          op: 'add-service',
          service: {
            protocol: 'tcp',
            family: 4,
            address: '198.18.0.100:80',
            scheduler: 'wrrr',
            persistent: null,
            netmask: null,
            schedflags: null,
            ops: false,
            realServers: [],
          },
        },
      ]),
    ).rejects.toThrow('Request rejected: ENOENT');
    expect(s.scheduler).toBe('wrrr');
    expect(ipvs.table).toEqual([]);
  });

  it('at start: the others are managed, it is logged and reported, and retried until the kernel takes it', async () => {
    const ipvs = new MemoryIpvs();
    const { lines, log } = logger();
    director = new Director(cf(virtual(80, 2, 'wrrr'), virtual(81, 3), virtual(82, 4, 'rr')), ipvs, { log });
    await director.start();
    expect(weights(ipvs)).toEqual({ '198.18.0.100:81': ['198.18.1.1:81 w3'], '198.18.0.100:82': ['198.18.1.1:82 w4'] });

    const refused = lines.filter((l) => l.level === 50 && l.virtualService === 'tcp:198.18.0.100:80');
    expect(refused).toHaveLength(1);
    expect(refused[0].msg).toContain('tcp:198.18.0.100:80');
    expect(refused[0].reason).toBe('Scheduler or persistence engine not found (ENOENT)');
    const st = Object.fromEntries(director.status().map((v) => [v.virtualService, v]));
    expect(st['tcp:198.18.0.100:80'].ipvsError).toBe('Scheduler or persistence engine not found (ENOENT)');
    expect(st['tcp:198.18.0.100:80'].realServers[0]).toMatchObject({ state: 'up', weight: null });
    expect(st['tcp:198.18.0.100:81']).toMatchObject({ ipvsError: null, realServers: [{ state: 'up', weight: 3 }] });

    // Still refused on the next round: logged once, not on every retry.
    await director.round();
    expect(lines.filter((l) => l.level === 50 && l.virtualService === 'tcp:198.18.0.100:80')).toHaveLength(1);
    // The module appears (modprobe ip_vs_wrrr): the next round adds the service.
    ipvs.schedulers.add('wrrr');
    await director.round();
    expect(weights(ipvs)['198.18.0.100:80']).toEqual(['198.18.1.1:80 w2']);
    expect(director.status()[0].ipvsError).toBeNull();
  });

  it('on reload: a newly refused service leaves the rest of the new file applied', async () => {
    const ipvs = new MemoryIpvs();
    const { lines, log } = logger();
    director = new Director(cf(virtual(80, 2), virtual(81, 3)), ipvs, { log });
    await director.start();
    // :81 changes to an unknown scheduler, :82 is new, :80 gets a new weight.
    await director.reload(cf(virtual(80, 7), virtual(81, 3, 'nosuch'), virtual(82, 4)));
    // :82's real is not checked yet (reload runs no check): the service is in, its real comes with the next round.
    expect(weights(ipvs)).toEqual({ '198.18.0.100:80': ['198.18.1.1:80 w7'], '198.18.0.100:81': ['198.18.1.1:81 w3'], '198.18.0.100:82': [] });
    await director.round();
    expect(weights(ipvs)['198.18.0.100:82']).toEqual(['198.18.1.1:82 w4']);
    // The kernel kept :81 as it was (the edit was refused).
    expect(ipvs.table.find((s) => s.address === '198.18.0.100:81')?.scheduler).toBe('wrr');
    expect(director.status().map((v) => v.ipvsError)).toEqual([null, 'Scheduler or persistence engine not found (ENOENT)', null]);
    expect(lines.some((l) => l.level === 50 && l.virtualService === 'tcp:198.18.0.100:81')).toBe(true);
  });
});
