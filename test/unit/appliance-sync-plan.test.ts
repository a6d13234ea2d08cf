// What the appliance does with the IPVS sync daemons it finds at start: keep, replace, start.
import { describe, expect, it } from 'vitest';
import { planSync } from '../../src/appliance/sync.js';

const wanted = { enabled: true, interface: 'eth0', syncId: 17 };

describe('sync daemon plan', () => {
  it('starts master and backup when none runs', () => {
    expect(planSync([], wanted)).toEqual({
      replace: [],
      keep: [],
      start: [
        { state: 'master', interface: 'eth0', syncId: 17 },
        { state: 'backup', interface: 'eth0', syncId: 17 },
      ],
    });
  });

  it('keeps daemons already running as wanted (kernel defaults such as group and maxlen do not count)', () => {
    const running = [{ state: 'master' as const, interface: 'eth0', syncId: 17, maxLength: 1472, group: '224.0.0.81', port: 8848, ttl: 1 }];
    const plan = planSync(running, wanted);
    expect(plan.keep).toEqual(running);
    expect(plan.start).toEqual([{ state: 'backup', interface: 'eth0', syncId: 17 }]);
    expect(plan.replace).toEqual([]);
  });

  it('replaces a daemon on another interface or syncid', () => {
    const running = [
      { state: 'master' as const, interface: 'eth1', syncId: 17 },
      { state: 'backup' as const, interface: 'eth0', syncId: 3 },
    ];
    const plan = planSync(running, wanted);
    expect(plan.replace).toEqual(running);
    expect(plan.start.map((d) => d.state)).toEqual(['master', 'backup']);
    expect(plan.keep).toEqual([]);
  });
});
