// The daemon's side of notify hooks (notify/): what the daemon, its VIPs, its tracked services
// and its director see happen, handed to the notifier as events. Nothing here waits: a hook's
// command runs on its own (notifier.ts), so a hanging one never holds a heartbeat or a takeover.
import type { ClusterConfig } from '../config/cluster.js';
import type { Logger } from '../log.js';
import type { View } from '../membership/membership.js';
import { ownershipEvent, realEvent, trackEvent, viewEvents } from '../notify/events.js';
import { Notifier } from '../notify/notifier.js';
import type { TrackVerdict } from '../track/state.js';
import type { DaemonEvents } from './deps.js';

export class NotifyEvents implements DaemonEvents {
  readonly notifier: Notifier;

  constructor(
    private config: ClusterConfig,
    log: Logger,
  ) {
    const local = config.nodes.find((n) => n.id === config.local)!;
    this.notifier = new Notifier(config.notify, { log: log.child({ role: 'notify' }), base: { AAVIP_CLUSTER: config.name, AAVIP_NODE: local.name } });
  }

  view(before: View, view: View, name: (id: number) => string): void {
    for (const e of viewEvents(before, view, name)) this.notifier.emit(e);
  }

  ownership(vip: string, change: { gained: number[]; lost: number[]; owned: number }): void {
    this.notifier.emit(ownershipEvent(vip, change));
  }

  track(v: TrackVerdict): void {
    this.notifier.emit(trackEvent(v));
  }

  readonly real = (virtual: string, real: string, up: boolean, message: string): void => this.notifier.emit(realEvent(virtual, real, up, message));

  /** After a reload: the hooks as the new file has them. */
  reconfigure(next: ClusterConfig): string[] {
    const changed = JSON.stringify(next.notify) !== JSON.stringify(this.config.notify);
    this.config = next;
    if (!changed) return [];
    this.notifier.reconfigure(next.notify);
    return [next.notify.length ? `notify hooks: ${next.notify.length}` : 'notify hooks removed'];
  }
}
