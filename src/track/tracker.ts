// The tracked services of this node, checked on their intervals (probes.ts), counted with rise and
// fall (state.ts). Every change of state is logged with the check's last message and handed on
// as the node's verdict, which its heartbeats carry to the peers.
import type { Clock, TimerHandle } from '../daemon/clock.js';
import type { Logger } from '../log.js';
import { runProbe } from './probes.js';
import type { TrackSpec } from './settings.js';
import { initialTrackState, observe, type TrackState, type TrackVerdict, verdictOf } from './state.js';

export interface TrackStatus {
  name: string;
  kind: string;
  /** null until the first result. */
  up: boolean | null;
  since: string;
  lastMessage: string;
  /** What a failure does: `out`, or the weight dropped. */
  onFailure: string;
}

export class Tracker {
  private states = new Map<string, TrackState>();
  private timers: TimerHandle[] = [];
  private readonly busy = new Set<string>();
  private stopped = false;

  constructor(
    private specs: readonly TrackSpec[],
    private readonly o: { clock: Clock; log: Logger; onChange: (v: TrackVerdict) => void },
  ) {
    for (const s of specs) this.states.set(s.name, initialTrackState(o.clock.wall()));
  }

  /** Checks each service at once, then every interval (a check still running is not started twice). */
  start(): void {
    this.stopped = false;
    for (const s of this.specs) {
      void this.check(s);
      this.timers.push(this.o.clock.setInterval(() => void this.check(s), s.intervalMs));
    }
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) this.o.clock.clear(t);
    this.timers = [];
  }

  /** New tracks (a reload): a track kept under the same name and settings keeps its state. */
  reconfigure(specs: readonly TrackSpec[]): void {
    this.stop();
    const same = new Map(this.specs.map((s) => [s.name, JSON.stringify(s)]));
    const states = new Map<string, TrackState>();
    for (const s of specs) states.set(s.name, same.get(s.name) === JSON.stringify(s) ? this.states.get(s.name)! : initialTrackState(this.o.clock.wall()));
    this.specs = specs;
    this.states = states;
    this.o.onChange(this.verdict());
    this.start();
  }

  verdict(): TrackVerdict {
    return verdictOf(this.specs, this.states);
  }

  status(): TrackStatus[] {
    return this.specs.map((s) => {
      const st = this.states.get(s.name)!;
      return {
        name: s.name,
        kind: s.probe.kind,
        up: st.up ?? null,
        since: new Date(st.since).toISOString(),
        lastMessage: st.lastMessage,
        onFailure: s.weightDrop === undefined ? 'out' : `weight -${s.weightDrop}`,
      };
    });
  }

  private async check(spec: TrackSpec): Promise<void> {
    if (this.busy.has(spec.name)) return;
    this.busy.add(spec.name);
    try {
      const r = await runProbe(spec);
      const before = this.states.get(spec.name);
      if (this.stopped || !before) return;
      const { state, changed } = observe(spec, before, r.up, r.message, this.o.clock.wall());
      this.states.set(spec.name, state);
      if (!changed) return;
      const fields = { track: spec.name, kind: spec.probe.kind, message: r.message };
      if (state.up) this.o.log.info(fields, 'tracked service up');
      else this.o.log.warn({ ...fields, onFailure: spec.weightDrop === undefined ? 'out' : `weight -${spec.weightDrop}` }, 'tracked service down');
      this.o.onChange(this.verdict());
    } finally {
      this.busy.delete(spec.name);
    }
  }
}
