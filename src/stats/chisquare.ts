// Pearson's chi-square goodness-of-fit against a uniform spread, and its p-value.

/** ln Γ(x), Lanczos approximation (g = 7, n = 9); accurate to ~1e-15 for x > 0. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lead = Math.exp(-x + a * Math.log(x) - lnGamma(a));
  if (x < a + 1) {
    // Series for P, then Q = 1 - P.
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * lead);
  }
  // Continued fraction (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, lead * h);
}

export interface ChiSquare {
  statistic: number;
  degreesOfFreedom: number;
  /** Probability of a statistic at least this large if the spread were uniform. */
  p: number;
}

/** Chi-square of observed counts against equal expected counts. */
export function chiSquareUniform(counts: ArrayLike<number>): ChiSquare {
  const k = counts.length;
  let total = 0;
  for (let i = 0; i < k; i++) total += counts[i];
  const expected = total / k;
  let statistic = 0;
  for (let i = 0; i < k; i++) statistic += (counts[i] - expected) ** 2 / expected;
  const df = k - 1;
  return { statistic, degreesOfFreedom: df, p: df > 0 ? gammaQ(df / 2, statistic / 2) : 1 };
}
