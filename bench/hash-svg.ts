// An SVG chart of a hash benchmark report: per-node shares of every result, and the share of
// flows that change owner per assignment strategy. Plain SVG, readable in any browser.
import type { DisruptionResult, Distribution } from './hash.js';

/** What the chart draws: a synthetic run's report, or one on a flows file (which names its source). */
export interface ChartedReport {
  options: { flows: number; nodes: number };
  results: readonly Distribution[];
  disruption: readonly DisruptionResult[];
  source?: { file: string };
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function hashBenchSvg(report: ChartedReport): string {
  const of = report.source ? ` from ${report.source.file}` : '';
  const rowH = 18;
  const labelW = 360;
  const barW = 420;
  const left = 10;
  const parts: string[] = [];
  let y = 30;
  parts.push(
    `<text x="${left}" y="${y}" font-size="16" font-weight="bold">Per-node share of ${report.options.flows.toLocaleString('en-US')} flows${esc(of)} (${report.options.nodes} nodes; ideal: equal segments)</text>`,
  );
  y += 14;
  for (let i = 0; i < report.options.nodes; i++) {
    parts.push(
      `<rect x="${left + labelW + i * 80}" y="${y}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${left + labelW + i * 80 + 16}" y="${y + 11}" font-size="12">node ${i + 1}</text>`,
    );
  }
  y += 22;
  for (const r of report.results) {
    parts.push(`<text x="${left}" y="${y + 13}" font-size="12">${esc(`${r.population} · ${r.mechanism} · ${r.hashmode} · B=${r.buckets}`)}</text>`);
    let x = left + labelW;
    r.nodeShares.forEach((s, i) => {
      const w = s * barW;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${rowH - 4}" fill="${COLORS[i % COLORS.length]}"><title>node ${i + 1}: ${(s * 100).toFixed(2)}%</title></rect>`,
      );
      x += w;
    });
    const flag = r.maxMinShare > 1.1 ? ' fill="#c00"' : '';
    parts.push(
      `<text x="${left + labelW + barW + 8}" y="${y + 13}" font-size="12"${flag}>max/min ${Number.isFinite(r.maxMinShare) ? r.maxMinShare.toFixed(3) : '∞'}</text>`,
    );
    y += rowH;
  }
  y += 30;
  parts.push(
    `<text x="${left}" y="${y}" font-size="16" font-weight="bold">Flows changing owner when node ${report.options.nodes} leaves / returns (${report.source ? esc(report.source.file) : 'uniform clients'})</text>`,
  );
  y += 20;
  const scale = barW;
  for (const d of report.disruption) {
    parts.push(
      `<text x="${left}" y="${y + 13}" font-size="12">${esc(`${d.strategy} · B=${d.buckets} · survivors max/min ${d.maxMinAfterLeave.toFixed(2)}`)}</text>`,
    );
    parts.push(
      `<rect x="${left + labelW}" y="${y + 2}" width="${(d.movedOnLeave * scale).toFixed(1)}" height="6" fill="#e15759"><title>leave: ${(d.movedOnLeave * 100).toFixed(1)}%</title></rect>`,
    );
    parts.push(
      `<rect x="${left + labelW}" y="${y + 9}" width="${(d.movedOnReturn * scale).toFixed(1)}" height="6" fill="#4e79a7"><title>return: ${(d.movedOnReturn * 100).toFixed(1)}%</title></rect>`,
    );
    parts.push(
      `<text x="${left + labelW + barW + 8}" y="${y + 13}" font-size="12">leave ${(d.movedOnLeave * 100).toFixed(1)}% · return ${(d.movedOnReturn * 100).toFixed(1)}%</text>`,
    );
    y += rowH;
  }
  y += 10;
  parts.push(
    `<text x="${left}" y="${y + 12}" font-size="11" fill="#555">red bars: flows moved when the node leaves; blue: when it returns. Ideal is 1/${report.options.nodes} both ways with even survivors.</text>`,
  );
  const width = left + labelW + barW + 230;
  const height = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
