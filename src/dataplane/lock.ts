// A per-VIP lock for read-modify-write of ownership: several Pacemaker clone instances may start
// on one node at once. A lock file holds the owner's PID; a lock whose PID is gone is stale.
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { formatAddress } from '../hash/flow.js';
import type { VipSpec } from './types.js';

const LOCK_DIR = process.env.AAVIP_RUN_DIR ?? '/run/aavip';

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

export async function withVipLock<T>(vip: VipSpec, fn: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  await mkdir(LOCK_DIR, { recursive: true });
  const path = `${LOCK_DIR}/vip-${formatAddress(vip.address).replace(/[:.]/g, '_')}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (!holder || !alive(holder)) { await unlink(path).catch(() => {}); continue; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${path} (held by pid ${holder})`);
      await new Promise((r) => setTimeout(r, Math.min(200, 10 * (attempt + 1))));
    }
  }
  try { return await fn(); } finally { await unlink(path).catch(() => {}); }
}
