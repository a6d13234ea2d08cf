// Pure: what a notify command is told, as environment variables (AAVIP_*), per event. Lists are
// comma-separated; buckets are numbers as `aavip status` shows them.
import type { View } from '../membership/membership.js';
import type { NotifyEvent } from './settings.js';

export interface NotifyFacts {
  event: NotifyEvent;
  env: Record<string, string>;
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** A view change; and, when quorum came or went with it, a quorum event too. */
export function viewEvents(before: View, view: View, name: (id: number) => string): NotifyFacts[] {
  const names = (ids: readonly number[]) => ids.map(name).join(',');
  const env = {
    AAVIP_EPOCH: String(view.epoch),
    AAVIP_LIVE: names(view.live),
    AAVIP_QUORATE: yesNo(view.quorate),
    AAVIP_LEFT: names(before.live.filter((id) => !view.live.includes(id))),
    AAVIP_JOINED: names(view.live.filter((id) => !before.live.includes(id))),
  };
  const out: NotifyFacts[] = [{ event: 'view', env }];
  if (before.quorate !== view.quorate) out.push({ event: 'quorum', env });
  return out;
}

export const ownershipEvent = (vip: string, change: { gained: number[]; lost: number[]; owned: number }): NotifyFacts => ({
  event: 'ownership',
  env: { AAVIP_VIP: vip, AAVIP_GAINED: change.gained.join(','), AAVIP_LOST: change.lost.join(','), AAVIP_OWNED: String(change.owned) },
});

export const trackEvent = (v: { down: string[]; out: boolean; drop: number }): NotifyFacts => ({
  event: 'track',
  env: { AAVIP_TRACKS_DOWN: v.down.join(','), AAVIP_OUT: yesNo(v.out), AAVIP_WEIGHT_DROP: String(v.drop) },
});

export const realEvent = (virtual: string, real: string, up: boolean, message: string): NotifyFacts => ({
  event: 'real',
  env: { AAVIP_VIRTUAL: virtual, AAVIP_REAL: real, AAVIP_STATE: up ? 'up' : 'down', AAVIP_MESSAGE: message },
});
