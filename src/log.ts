// One logger for the whole program: pino JSON, pretty-printed when stderr is a terminal.
// Logs go to stderr so that stdout stays clean for data (`--json`, `hash owner`).
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export function createLogger(name = 'aavip', level = process.env.AAVIP_LOG_LEVEL ?? 'info'): Logger {
  if (process.stderr.isTTY) {
    return pino({ name, level, transport: { target: 'pino-pretty', options: { destination: 2, colorize: true } } });
  }
  return pino({ name, level }, destination(2));
}

export const log = createLogger();
