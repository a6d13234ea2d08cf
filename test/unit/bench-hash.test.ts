// The hash benchmark's report: shape, skipped combinations, and what its figures must show.
import { describe, expect, it } from 'vitest';
import { DEFAULTS, runHashBench } from '../../bench/hash.js';
import { hashBenchSvg } from '../../bench/hash-svg.js';

describe('hash benchmark', () => {
  const report = runHashBench({ ...DEFAULTS, flows: 60_000, buckets: [3, 32, 256] });

  it('reports one result per valid mechanism × hashmode × population × bucket count', () => {
    // clusterip: 3 modes × B=3 only (32, 256 > 16); xt_cluster: sourceip × {3, 32}; nft: 3 modes × 3 counts.
    expect(report.results.length).toBe(4 * (3 + 2 + 9));
    for (const r of report.results) {
      for (const key of ['mechanism', 'hashmode', 'population', 'buckets', 'maxMinShare', 'chiSquareP', 'flowsPerSecTs', 'flowsPerSecNative'])
        expect(r).toHaveProperty(key);
      expect(r.nodeShares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
  });

  it('spreads uniform clients evenly in the port-aware modes and not a single client in sourceip', () => {
    const uniform = report.results.filter((r) => r.population === 'uniform' && r.hashmode !== 'sourceip' && r.buckets !== 32);
    for (const r of uniform) expect(r.maxMinShare).toBeLessThan(1.06);
    const single = report.results.find((r) => r.population === 'sequential' && r.hashmode === 'sourceip')!;
    expect(Math.max(...single.nodeShares)).toBe(1);
  });

  it("shows sticky assignment moving only the leaving node's flows and keeping survivors even", () => {
    const sticky = report.disruption.find((d) => d.strategy === 'sticky' && d.buckets === 256)!;
    const modulo = report.disruption.find((d) => d.strategy === 'modulo' && d.buckets === 256)!;
    const rehash = report.disruption.find((d) => d.strategy === 'rehash')!;
    expect(sticky.movedOnLeave).toBeGreaterThan(0.3);
    expect(sticky.movedOnLeave).toBeLessThan(0.37);
    expect(sticky.maxMinAfterLeave).toBeLessThan(1.05);
    expect(modulo.maxMinAfterLeave).toBeGreaterThan(1.8);
    expect(rehash.movedOnLeave).toBeGreaterThan(0.45);
  });

  it('draws an SVG with a row per result', () => {
    const svg = hashBenchSvg(report);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/max\/min/g)!.length).toBeGreaterThanOrEqual(report.results.length);
  });
});
