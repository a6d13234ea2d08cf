// What a director's conntrack and nft see of a direct-routed IPVS flow, and what the IPVS sync
// daemon gives a backup director, measured on Debian's 6.1 kernel (in the VM). The handover design
// (issue 13) rests on these facts; a kernel that behaves otherwise fails here.
//
// Measured (6.1.0, DR, the director sees only client → VIP; nft at prerouting priority mangle):
// - vs.conntrack=0 (default): conntrack holds no entry for the flow, ever; every packet, the SYN
//   and each ACK/data packet after it, is `ct state new` and never `ct status confirmed` (IPVS
//   leaves each packet untracked after it forwarded it, so the next one starts afresh).
// - vs.conntrack=1: the SYN is `ct state new` (not yet confirmed at -150); the entry is then kept
//   in SYN_SENT [UNREPLIED] (no reply is ever seen) and outlives the connection; every later
//   packet of the flow is `ct state invalid` (an ACK in SYN_SENT), none established.
// - Sync (master on d1, backup on d2, sync_threshold 3 50, refresh period 0, version 1): the
//   backup learns the connection after its 3rd packet (SYN, ACK, ACK of the greeting), and only
//   when the master flushes its sync buffer, ~2-3 s later (2.8 s measured; IPVS_SYNC_FLUSH_TIME is
//   2 s) — not at once. A synced connection moved to the backup mid-stream goes on to the same
//   real server. A connection moved right after its handshake, before the sync, is reset by the
//   backup (no IPVS entry, sloppy_tcp=0: the local stack, which has the VIP, answers RST).
import { beforeAll, describe, expect, it } from 'vitest';
import { scenarioJson } from './vm.js';

let r: any;
beforeAll(async () => {
  r = await scenarioJson('conntrack-ipvs.mjs', 'conntrack-ipvs.json', { timeoutMs: 600_000 });
  if (r.error) throw new Error(r.error);
}, 700_000);

/** The counters of the ACK/data packets (kind 'other') or the SYN (kind 'syn') that matched a ct fact. */
const seen = (c: Record<string, number>, kind: 'syn' | 'other') =>
  Object.fromEntries(
    Object.entries(c)
      .filter(([k, n]) => k.startsWith(`${kind} `) && k !== `${kind} all` && n > 0)
      .map(([k, n]) => [k.slice(kind.length + 1), n]),
  );

describe('conntrack and a direct-routed IPVS flow on the director', () => {
  it('with vs.conntrack=0: no conntrack entry, and every packet is ct state new, never confirmed', () => {
    const d = r.conntrack0;
    expect(d.probes.every((p: any) => p.alive)).toBe(true);
    expect(d.ipvs).toHaveLength(1);
    expect(d.conntrackWhileOpen).toEqual([]);
    expect(d.conntrackAfterClose).toEqual([]);
    expect(d.counters['syn all']).toBe(1);
    expect(seen(d.counters, 'syn')).toEqual({ 'state new': 1 });
    // At least the handshake ACK and the 5 probes' data (ACKs of the greeting and echoes vary with delayed ACKs).
    expect(d.counters['other all']).toBeGreaterThanOrEqual(6);
    expect(seen(d.counters, 'other')).toEqual({ 'state new': d.counters['other all'] });
  });

  it('with vs.conntrack=1: an entry stuck in SYN_SENT [UNREPLIED], and every packet after the SYN is ct state invalid', () => {
    const d = r.conntrack1;
    expect(d.probes.every((p: any) => p.alive)).toBe(true);
    expect(d.conntrackWhileOpen).toHaveLength(1);
    expect(d.conntrackWhileOpen[0]).toMatch(/SYN_SENT .*\[UNREPLIED\]/);
    expect(d.conntrackAfterClose[0]).toMatch(/SYN_SENT .*\[UNREPLIED\]/);
    expect(seen(d.counters, 'syn')).toEqual({ 'state new': 1 });
    expect(d.counters['other all']).toBeGreaterThanOrEqual(6);
    expect(seen(d.counters, 'other')).toEqual({ 'state invalid': d.counters['other all'] });
  });
});

describe('IPVS connection sync, master on one director and backup on another', () => {
  it('runs with the kernel defaults measured here', () => {
    expect(r.syncSysctls).toMatch(/sync_threshold = 3\t50/);
    expect(r.syncSysctls).toMatch(/sync_refresh_period = 0/);
    expect(r.sloppyTcp).toBe('0');
  });

  it('gives the backup the connection after its third packet, with the same real server', () => {
    const s = r.sync;
    // Seen without any data sent: the handshake ACK and the ACK of the greeting make packet 3.
    expect(s.seen.afterProbes).toBe(0);
    expect(s.seen.packetsAtMaster).toBe(3);
    expect(s.backupEntry).toHaveLength(1);
    expect(s.backupEntry[0][2]).toBe('ESTABLISHED');
    expect(s.backupEntry[0][5]).toBe(s.masterEntry[0][5]);
  });

  it('forwards a synced connection moved to the backup mid-stream to the same real server (it goes on; another server would reset it)', () => {
    const s = r.sync;
    expect(s.movedProbes).toEqual([
      { alive: true, closed: null },
      { alive: true, closed: null },
      { alive: true, closed: null },
    ]);
    expect(s.backupEntryAfterMove[0][5]).toBe(s.masterEntry[0][5]);
    // The backup's conntrack (vs.conntrack=0) sees the moved flow's packets as new, like the master's.
    expect(seen(s.backupCounters, 'other')).toEqual({ 'state new': s.backupCounters['other all'] });
  });

  it('resets a connection moved right after its handshake: the sync had not reached the backup yet', () => {
    const y = r.young;
    expect(y.backupEntryBeforeMove).toEqual([]);
    expect(y.probe).toEqual({ alive: false, closed: 'ECONNRESET' });
    // The entry reaches the backup afterwards, too late for the flow.
    expect(y.masterEntry).toHaveLength(1);
  });
});
