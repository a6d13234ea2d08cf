// The Pacemaker lab's pure parts: reading crm_mon's XML, and the outage figures of a crash.
import { describe, expect, it } from 'vitest';
import { outageFigures, parseCrmMon, type CrashRun } from '../../src/lab/pacemaker.js';
import type { TimedAttempt } from '../../src/lab/load.js';

// The shape crm_mon -1 -X prints (Pacemaker 2.1), cut down to what the lab reads.
const CRM_MON = `<pacemaker-result api-version="2.29" request="crm_mon -1 -X">
  <summary>
    <current_dc present="true" version="2.1.5-a3f44794f94" name="node2" id="2" with_quorum="true"/>
  </summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="false" type="member"/>
    <node name="node2" id="2" online="true" standby="false" type="member"/>
    <node name="node3" id="3" online="false" standby="false" type="member"/>
  </nodes>
  <resources>
    <clone id="vip-clone" multi_state="false" unique="true" managed="true" disabled="false" failed="false" failure_ignored="false">
      <resource id="vip:0" resource_agent="ocf:aavip:vip" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
      <resource id="vip:2" resource_agent="ocf:aavip:vip" role="Stopped" active="false" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="0"/>
    </clone>
  </resources>
  <failures>
    <failure op_key="ip2:0_start_0" node="node2" exitstatus="error" exitreason="iptables &quot;failed&quot;" exitcode="1" call="16" status="complete" interval="0" task="start"/>
  </failures>
  <status code="0" message="OK"/>
</pacemaker-result>`;

describe('parseCrmMon', () => {
  it('reads the DC, the nodes online, where each instance runs, and failed actions with their reasons', () => {
    expect(parseCrmMon(CRM_MON)).toEqual({
      dc: true,
      dcName: 'node2',
      online: ['node1', 'node2'],
      resources: [
        { id: 'vip:0', agent: 'ocf:aavip:vip', role: 'Started', nodes: ['node1'], failed: false },
        { id: 'vip:2', agent: 'ocf:aavip:vip', role: 'Stopped', nodes: [], failed: false },
      ],
      failures: [{ opKey: 'ip2:0_start_0', node: 'node2', exitReason: 'iptables "failed"', exitCode: 1 }],
    });
  });

  it('sees no DC and nobody online when the cluster is not up', () => {
    expect(parseCrmMon('')).toEqual({ dc: false, dcName: undefined, online: [], resources: [], failures: [] });
  });
});

describe('outageFigures', () => {
  const at = (start: number, bucket: number, node?: string, end = start + 5): TimedAttempt => ({
    src: `198.18.1.${bucket}`,
    sport: start,
    start,
    end,
    node,
    error: node ? undefined : 'timeout',
  });
  const lost = (a: TimedAttempt) => a.src === '198.18.1.3';

  it('measures from the crash to the first answer in the lost part after its failures', () => {
    const run: CrashRun = {
      crashedAt: 1000,
      recoveredAt: 5200,
      crashedDc: false,
      attempts: [
        at(900, 3, 'node3'),
        at(950, 1, 'node1'),
        at(1010, 3),
        at(2000, 2, 'node2'),
        at(3000, 3),
        at(5100, 3, 'node1'),
        at(5200, 3, 'node1'),
        at(5300, 1, 'node1'),
      ],
    };
    expect(outageFigures(run, lost)).toEqual({ outageMs: 4105, pacemakerMs: 4200, lostAttempts: 2, failedElsewhere: 0, failedAfterRecovery: 0 });
  });

  it('counts failures outside the lost part and after the recovery', () => {
    const run: CrashRun = { crashedAt: 1000, recoveredAt: 3000, crashedDc: true, attempts: [at(1100, 3), at(1200, 1), at(2000, 3, 'node1'), at(2100, 3)] };
    expect(outageFigures(run, lost)).toMatchObject({ outageMs: 1005, lostAttempts: 2, failedElsewhere: 1, failedAfterRecovery: 1 });
  });

  it('dates the recovery by the answer: an attempt begun in the outage and answered on a retransmit does not date it back', () => {
    // Begun at 1100, answered at 2200 once the instance was up; the attempt begun at 1500 had failed by then.
    const run: CrashRun = {
      crashedAt: 1000,
      recoveredAt: 2200,
      crashedDc: false,
      attempts: [at(1050, 3), at(1100, 3, 'node1', 2200), at(1500, 3), at(2300, 3, 'node1')],
    };
    expect(outageFigures(run, lost)).toMatchObject({ outageMs: 1200, lostAttempts: 2, failedAfterRecovery: 0 });
  });

  it('gives no outage figure when the lost part never answered again', () => {
    expect(outageFigures({ crashedAt: 0, recoveredAt: 10, crashedDc: false, attempts: [at(5, 3)] }, lost).outageMs).toBeNaN();
  });
});
