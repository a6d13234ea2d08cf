// What the director does beside the table: the log lines of a real's transitions (ldirectord's
// wording) and the fallbackcommand it runs when a virtual's last real goes down or one comes back.
import type { Logger } from '../log.js';
import { runShellBounded } from './command.js';
import { effective, hostPort, type LdirectordConfig, type RealServer, type VirtualService, virtualId } from './config/model.js';
import type { FallbackVerb, RealEvent } from './realserver.js';

/** Where a real's transitions go: the log, and (notify hooks) whoever wants its downs and returns. */
export interface RealEventSink {
  log: Logger;
  onReal?: (virtual: string, real: string, up: boolean, message: string) => void;
}

export function logRealEvent(sink: RealEventSink, v: VirtualService, r: RealServer, ev: RealEvent, message: string, globalAlert?: string): void {
  const { log } = sink;
  const real = hostPort(r.address, r.port);
  const id = `${real} (${virtualId(v)})`;
  if (ev.kind === 'restored' || ev.kind === 'down') sink.onReal?.(virtualId(v), real, ev.kind === 'restored', message);
  switch (ev.kind) {
    case 'restored':
      log.info({ real: id, check: message }, `Restored real server: ${id}`);
      break;
    case 'soft-failure-reset':
      log.info(`Resetting soft failure count: ${id}`);
      break;
    case 'soft-failure':
      log.info(`Soft failure real server: ${id} failure ${ev.failcount}/${ev.failurecount}: ${message}`);
      break;
    case 'down':
      log.warn({ real: id, check: message, alert: v.alerts.emailalert ?? globalAlert }, `Real server down: ${id}`);
      break;
  }
}

export interface CommandRunner {
  log: Logger;
  /** Runs the command within timeoutMs (default: through the shell, its process group killed at the bound). */
  runCommand?: (command: string, timeoutMs: number) => Promise<void>;
}

/** Runs `fallbackcommand VERB WHERE`, bounded by checktimeout as ldirectord bounds its checks: a hung command must not hold every later round. */
export async function runFallbackCommand(v: VirtualService, config: LdirectordConfig, verb: FallbackVerb, o: CommandRunner): Promise<void> {
  const e = effective(v, config.globals);
  const where = v.protocol === 'fwm' ? ':0 fwm' : `${hostPort(v.address!, v.port!)} ${v.protocol}`;
  const command = `${e.fallbackcommand} ${verb} ${where}`;
  o.log.info({ command }, 'fallbackcommand');
  const timeoutMs = e.checktimeout * 1000;
  if (o.runCommand) return o.runCommand(command, timeoutMs);
  const out = await runShellBounded(command, timeoutMs);
  if (out.kind === 'timed-out')
    o.log.error(
      { command, pid: out.pid, timeoutS: e.checktimeout },
      `fallbackcommand timed out after ${e.checktimeout} s; killed its process group ${out.pid}`,
    );
  else if (out.kind === 'failed') o.log.error({ command, err: out.error }, 'fallbackcommand could not be run');
}
