// What a check is given: the real server to reach and the virtual service's check settings.
// A module of its own so that every check file and the registry share it without importing each other.
import type { VirtualService } from '../config/model.js';

export interface CheckTarget
  extends Pick<VirtualService, 'service' | 'request' | 'receive' | 'httpmethod' | 'virtualhost' | 'login' | 'passwd' | 'database' | 'secret' | 'checkcommand'> {
  /** Real server address and the port to check (checkport, else the real's, else the service's default). */
  host: string;
  port: number;
  realPort: number;
  /** The virtual service, as external checks are told it. */
  virtualHost: string;
  virtualPort: number;
  protocol: VirtualService['protocol'];
  timeoutMs: number;
  checkcount: number;
  /** HTTP: the one status that is up (a tracked service's `http.status`); unset, any 2xx is, after redirects. */
  expectStatus?: number;
}
