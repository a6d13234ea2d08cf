// What a check of one real server of a virtual is aimed at: the real's address and check port,
// the virtual's check settings, and the timeout for the kind of check.
import type { CheckTarget } from './checks/checks.js';
import { PORT_BY_SERVICE, type RealServer, type VirtualService } from './config/model.js';

export function checkTarget(v: VirtualService, r: RealServer, timeoutS: number, checkcount: number): CheckTarget {
  const port = v.checkport ?? (r.port > 0 ? r.port : (PORT_BY_SERVICE[v.service] ?? 0));
  return {
    host: r.address,
    port,
    realPort: r.port,
    virtualHost: v.protocol === 'fwm' ? String(v.fwmark) : v.address!,
    virtualPort: v.port ?? 0,
    protocol: v.protocol,
    service: v.service,
    request: r.request ?? v.request,
    receive: r.receive ?? v.receive,
    httpmethod: v.httpmethod,
    virtualhost: v.virtualhost,
    login: v.login,
    passwd: v.passwd,
    database: v.database,
    secret: v.secret,
    checkcommand: v.checkcommand,
    timeoutMs: timeoutS * 1000,
    checkcount,
  };
}
