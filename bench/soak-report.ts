// The soak's figures from its samples (pure): start / after warm-up / end values, the slope, and
// whether a resource stayed flat. Used by bench/soak.ts; no I/O here.

export interface ResourceSample {
  tMs: number;
  fds: number;
  rssKiB: number;
}

export interface Trend {
  start: number;
  /** Median over the window after warm-up. */
  afterWarmup: number;
  /** Median over the last window. */
  end: number;
  /** Least squares over every sample after warm-up, per minute. */
  slopePerMin: number;
  /** How far `end` may rise above `afterWarmup` and still count as flat. */
  margin: number;
  flat: boolean;
}

/**
 * Margins for "flat". File descriptors: 10 — at any instant the process may hold a socket per
 * check in flight (5 real servers), a pipe or three to an ipvsadm child and a control connection,
 * while a leak of one per check round or per reload would add 300+ in ten minutes. RSS: 10% or
 * 8 MiB, whichever is more — V8 grows its heap in steps of a few MB and the GC's timing moves RSS
 * by as much, while the leak this soak looks for (issue 12: an endless line cost 211 MB) is far above.
 */
export const FD_MARGIN = 10;
export const rssMarginKiB = (base: number) => Math.max(8 * 1024, Math.round(base * 0.1));

const median = (xs: number[]) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The q-quantile (0..1) of a list, nearest rank; undefined when empty. */
export function percentile(xs: number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

function slopePerMin(points: { t: number; v: number }[]): number {
  if (points.length < 2) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / points.length;
  const mv = points.reduce((a, p) => a + p.v, 0) / points.length;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.v - mv), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 60_000;
}

/**
 * The warm-up (checks, caches and V8's heap reaching their working size) is the first minute, or
 * a fifth of a shorter run; the windows compared are a minute each, or a fifth of a shorter run.
 */
export function windowsOf(durationMs: number): { warmupMs: number; windowMs: number } {
  const w = Math.min(60_000, Math.round(durationMs / 5));
  return { warmupMs: w, windowMs: w };
}

export function trend(samples: { tMs: number; v: number }[], durationMs: number, margin: (base: number) => number): Trend {
  const { warmupMs, windowMs } = windowsOf(durationMs);
  const last = samples.length ? samples[samples.length - 1].tMs : 0;
  const after = samples.filter((s) => s.tMs >= warmupMs);
  const afterWarmup = median(after.filter((s) => s.tMs < warmupMs + windowMs).map((s) => s.v));
  const end = median(samples.filter((s) => s.tMs > last - windowMs).map((s) => s.v));
  const m = margin(afterWarmup);
  return {
    start: samples[0]?.v ?? Number.NaN,
    afterWarmup,
    end,
    slopePerMin: Math.round(slopePerMin(after.map((s) => ({ t: s.tMs, v: s.v }))) * 10) / 10,
    margin: m,
    flat: end <= afterWarmup + m,
  };
}

export function resourceTrends(samples: ResourceSample[], durationMs: number): { fds: Trend; rssKiB: Trend } {
  return {
    fds: trend(
      samples.map((s) => ({ tMs: s.tMs, v: s.fds })),
      durationMs,
      () => FD_MARGIN,
    ),
    rssKiB: trend(
      samples.map((s) => ({ tMs: s.tMs, v: s.rssKiB })),
      durationMs,
      rssMarginKiB,
    ),
  };
}

/** A duration as the user writes it: 90s, 2m, 10m, 1h, or milliseconds. */
export function parseDuration(text: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m|h)?$/);
  if (!m) throw new Error(`--duration: '${text}' is not a duration (e.g. 90s, 2m, 10m)`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  const ms = Math.round(Number(m[1]) * scale);
  if (ms < 20_000 || ms > 6 * 3_600_000) throw new Error(`--duration: ${text} is outside 20s..6h`);
  return ms;
}
