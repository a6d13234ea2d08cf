// A daemon's incarnation: larger after every start of the same node, whatever the wall clock
// does. Peers take a smaller incarnation for a replay, so a node restarted with its clock stepped
// back (NTP correcting a bad RTC, a VM restored from a snapshot) must still count up: the last
// one is kept on disk and the next is above both it and the clock.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const stateDir = (): string => process.env.AAVIP_STATE_DIR ?? '/var/lib/aavip';

/** The next incarnation from the last one stored and the wall clock (pure). */
export const nextIncarnation = (stored: number | undefined, wall: number): number => Math.max(Math.floor(wall), (stored ?? 0) + 1);

/** Reads, advances and stores the incarnation of `cluster`/`node`; `warn` hears why it could not be stored. */
export function takeIncarnation(cluster: string, node: string, wall: number, warn: (msg: string) => void): number {
  const dir = stateDir();
  const file = join(dir, `${cluster}-${node}.incarnation`);
  let stored: number | undefined;
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    if (Number.isSafeInteger(n) && n > 0) stored = n;
  } catch {
    /* first start */
  }
  const inc = nextIncarnation(stored, wall);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeFileSync(`${file}.tmp`, `${inc}\n`, { mode: 0o644 });
    renameSync(`${file}.tmp`, file);
  } catch (e) {
    warn(`cannot store the incarnation in ${file} (${(e as Error).message}): a restart with the clock stepped back would look like a replay`);
  }
  return inc;
}
