import { describe, expect, it } from 'vitest';
import { chiSquareUniform, gammaQ } from '../../src/stats/chisquare.js';

describe('chi-square', () => {
  it('matches known critical values', () => {
    // 95th percentiles of the chi-square distribution: df 1 → 3.841, df 2 → 5.991, df 10 → 18.307, df 255 → 293.248
    expect(gammaQ(0.5, 3.841 / 2)).toBeCloseTo(0.05, 3);
    expect(gammaQ(1, 5.991 / 2)).toBeCloseTo(0.05, 3);
    expect(gammaQ(5, 18.307 / 2)).toBeCloseTo(0.05, 3);
    expect(gammaQ(127.5, 293.248 / 2)).toBeCloseTo(0.05, 3);
    expect(gammaQ(1, 0)).toBe(1);
  });
  it('scores a uniform spread high and a skewed one near zero', () => {
    expect(chiSquareUniform([1000, 1000, 1000]).p).toBeCloseTo(1, 6);
    expect(chiSquareUniform([1000, 1100, 900]).p).toBeLessThan(0.001);
    expect(chiSquareUniform([1000, 1000, 1000]).statistic).toBe(0);
  });
});
