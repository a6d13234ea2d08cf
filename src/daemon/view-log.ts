// How a view change is told in the log: node names, not ids; quorum loss as a warning; a
// disagreement on what decides owners as an error, once, and its end.
import type { Logger } from '../log.js';
import type { View } from '../membership/membership.js';

export function logView(log: Logger, name: (id: number) => string, before: View, view: View): void {
  const names = (ids: readonly number[]) => ids.map(name);
  const fields = {
    epoch: view.epoch,
    live: names(view.live),
    quorate: view.quorate,
    left: names(before.live.filter((id) => !view.live.includes(id))),
    joined: names(view.live.filter((id) => !before.live.includes(id))),
    weights: Object.fromEntries(view.members.map((m) => [name(m.id), m.weight])),
  };
  if (before.quorate && !view.quorate) log.warn(fields, 'quorum lost: this node serves nothing until a majority is back');
  else log.info(fields, 'view changed');
  const dissent = view.dissenters ?? [];
  if (dissent.length && dissent.join() !== (before.dissenters ?? []).join()) {
    log.error(
      { disagreeing: names(dissent), excluded: Object.fromEntries(Object.entries(view.excluded ?? {}).map(([k, ids]) => [k, names(ids)])) },
      'nodes disagree on what decides owners (a reload on some nodes only?): all use the facts most nodes hold; a node whose VIP parameters differ serves none of that VIP',
    );
  } else if (!dissent.length && before.dissenters?.length) log.info({}, 'all nodes agree on what decides owners again');
}
