// The director as a long-running process: its PID and status files under the run directory,
// SIGHUP and autoreload re-reading the file (a broken file keeps the running configuration),
// SIGTERM stopping it cleanly. `aavip ldirectord start|stop|reload|status` find it through these files.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { log } from '../log.js';
import { loadLdirectordConfig } from './config/parse.js';
import { Director } from './director.js';
import { openIpvs, type IpvsKind } from './ipvs/index.js';
import { runDir } from '../paths.js';

export const RUN_DIR = runDir();
export const pidFile = (config: string) => `${RUN_DIR}/ldirectord.${basename(config)}.pid`;
export const statusFile = (config: string) => `${RUN_DIR}/ldirectord.${basename(config)}.json`;

/** The PID of a running director for this file, 'stale' if its PID file outlived it, or undefined. */
export function runningPid(config: string): number | 'stale' | undefined {
  const text = existsSync(pidFile(config)) ? readFileSync(pidFile(config), 'utf8').trim() : '';
  if (!text) return undefined;
  const pid = Number(text);
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('ldirectord') ? pid : 'stale';
  } catch {
    return 'stale';
  }
}

/** Polls `fn` every 100 ms for at most `ms`. */
export async function waitUntil(fn: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return fn();
}

/** Runs the director in this process until SIGTERM; SIGHUP (or a changed file with autoreload) reloads. */
export async function runDirector(file: string, ipvsKind: IpvsKind, concurrency: number, onReady?: (d: Director) => void): Promise<void> {
  const config = await loadLdirectordConfig(file);
  const ipvs = await openIpvs(ipvsKind);
  const director = new Director(config, ipvs, { log: log.child({ role: 'ldirectord', config: basename(file) }), concurrency });
  const digest = () => createHash('md5').update(readFileSync(file)).digest('hex');
  let seen = digest();
  const writeStatus = () =>
    writeFileSync(statusFile(file), JSON.stringify({ pid: process.pid, ipvs: ipvs.kind, rounds: director.rounds, virtualServices: director.status() }));
  const reload = async (why: string) => {
    try {
      const next = await loadLdirectordConfig(file);
      seen = digest();
      await director.reload(next);
      log.info({ why }, 'reloaded');
    } catch (e) {
      // A broken file never tears down the running configuration.
      log.error({ err: e instanceof InputError ? e.describe() : (e as Error).message }, 'reload failed; keeping the running configuration');
    }
  };
  // Reloads run one at a time, after the start; one asked for while another waits joins it. The
  // SIGHUP handler is in place before the start, or an early SIGHUP would kill the process.
  let queue: Promise<void> = director.start();
  let waiting = false;
  const requestReload = (why: string) => {
    if (waiting) return;
    waiting = true;
    queue = queue.then(() => {
      waiting = false;
      return reload(why);
    });
  };
  process.on('SIGHUP', () => requestReload('SIGHUP'));
  await queue;
  writeStatus();
  onReady?.(director);
  const tick = setInterval(() => {
    writeStatus();
    if (director.currentConfig.globals.autoreload) {
      try {
        if (digest() !== seen) {
          log.info(`Configuration file '${file}' has changed on disk - reread new configuration`);
          requestReload('autoreload');
        }
      } catch {
        /* file briefly absent */
      }
    }
  }, 1000);
  await new Promise<void>((resolve) => {
    const stop = () => {
      clearInterval(tick);
      void director.stop().then(() => {
        ipvs.close?.();
        resolve();
      });
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}
