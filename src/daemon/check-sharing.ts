// Shared checks in the daemon (lvs/check-share.ts holds the rules): every interval the view says
// which real servers this node checks, each heartbeat carries the verdicts it vouches for, and a
// peer's heartbeat brings the verdicts on the reals that peer checks.
import type { ChecksMode } from '../appliance/settings.js';
import { checksHere, encodeVerdicts, planShare, realIdsDigest, type Share, verdictsToAdopt } from '../lvs/check-share.js';
import type { View } from '../membership/membership.js';
import type { CheckVerdicts, Heartbeat } from '../membership/wire.js';
import type { DirectorRole } from './deps.js';

/** What of the daemon the sharing reads (the director and the mode may change on a reload). */
export interface SharingHost {
  director?: DirectorRole;
  config: { local: number; lvs?: { checks: ChecksMode } };
  name(id: number): string;
}

export class CheckSharing {
  /** Recomputed every interval; the heartbeats in between read it. */
  private share: Share;

  constructor(private readonly host: SharingHost) {
    const local = host.config.local;
    this.share = planShare([], { mode: 'local', local, live: [local], quorate: false, agreed: false });
  }

  /** Who checks what, from the view and the real ids the live peers announced (each interval). */
  update(view: View, peers: readonly Heartbeat[]): void {
    const d = this.host.director;
    if (!d) return;
    const ids = d.realIds();
    const digest = realIdsDigest(ids);
    // A live peer not heard lately, or with other reals (a config being rolled out), shares nothing: all check all.
    const local = this.host.config.local;
    const agreed = view.live.every((id) => id === local || peers.find((p) => p.from === id)?.checks?.of === digest);
    const share = planShare(ids, { mode: this.host.config.lvs?.checks ?? 'local', local, live: view.live, quorate: view.quorate, agreed }, digest);
    this.share = share;
    d.setShare((id) => checksHere(share, id));
  }

  /** The plan, re-made for the same view when the director's reals changed since (a reload, or before the first interval). */
  private current(d: DirectorRole): Share {
    if (d.realIds() !== this.share.ids) this.share = planShare(d.realIds(), this.share.view);
    return this.share;
  }

  /** What this node's heartbeat says of the reals it checks. */
  outgoing(): CheckVerdicts | undefined {
    const d = this.host.director;
    return d && encodeVerdicts(this.current(d), d.verdicts());
  }

  onHeartbeat(hb: Heartbeat): void {
    const d = this.host.director;
    if (!d) return;
    const take = verdictsToAdopt(this.current(d), hb.checks, hb.from);
    if (take.size) void d.adopt(take, this.host.name(hb.from));
  }
}
