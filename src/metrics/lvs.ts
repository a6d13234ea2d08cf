// The ldirectord role's metrics: each real server's state and weight as the director keeps them
// (read at scrape time), and each check this node runs, timed as it returns (a wrapped runner).
// Labels are node_exporter's IPVS backend labels, so a real's state joins its connection counts.
import { destinationAddress } from '../lvs/config/desired.js';
import { hostPort, type VirtualService } from '../lvs/config/model.js';
import type { CheckRunner, Director } from '../lvs/director.js';
import { backendLabels } from './kernel.js';
import type { BackendLabels, Metrics } from './registry.js';

/** A virtual service as IPVS names it (the address node_exporter labels with). */
const serviceOf = (v: VirtualService) => ({ protocol: v.protocol, address: v.protocol === 'fwm' ? v.fwmark! : hostPort(v.address!, v.port!) });

export interface RealServerRow {
  labels: BackendLabels;
  up: boolean;
  /** The weight the table gives it, or null where it is not in the table. */
  weight: number | null;
}

/** Every configured real server with its state (the director's status, in configuration order). */
export function realServerRows(director: Pick<Director, 'currentConfig' | 'status'>): RealServerRow[] {
  const status = director.status();
  return director.currentConfig.virtualServices.flatMap((v, i) =>
    v.realServers.map((r, j) => {
      const st = status[i]?.realServers[j];
      return {
        labels: backendLabels(serviceOf(v), destinationAddress(v, r.address, r.port, r.forwarding)),
        up: st?.state === 'up',
        weight: st?.weight ?? null,
      };
    }),
  );
}

/** A check runner that times every check and counts the failed ones (labelled by the real checked). */
export function timedChecks(runner: CheckRunner, m: Pick<Metrics, 'checkDuration' | 'checkFailures'>): CheckRunner {
  return async (kind, target) => {
    const fwm = target.protocol === 'fwm';
    const labels: BackendLabels = {
      local_address: fwm ? '' : target.virtualHost,
      local_port: String(fwm ? 0 : target.virtualPort),
      remote_address: target.host,
      remote_port: String(target.realPort),
      proto: target.protocol.toUpperCase(),
      local_mark: fwm ? target.virtualHost : '',
    };
    const t0 = performance.now();
    try {
      const result = await runner(kind, target);
      if (!result.up) m.checkFailures.inc(labels);
      return result;
    } catch (e) {
      m.checkFailures.inc(labels);
      throw e;
    } finally {
      m.checkDuration.observe(labels, (performance.now() - t0) / 1000);
    }
  };
}
