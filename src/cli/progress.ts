// A one-line progress bar on stderr, shown only when stderr is a terminal.
export interface Progress {
  update(done: number, total: number, what?: string): void;
  finish(): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() {}, finish() {} };
  const width = 30;
  return {
    update(done, total, what = '') {
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const line = `${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${what}`;
      stream.write(`\r${line.slice(0, (stream.columns ?? 100) - 1).padEnd((stream.columns ?? 100) - 1)}`);
    },
    finish() {
      stream.write('\n');
    },
  };
}

/** A plain text table with right-aligned numeric columns. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  const numeric = headers.map((_, c) => rows.every((r) => typeof r[c] === 'number' || /^[\d.,%x×-]+$/.test(String(r[c]))));
  return cells
    .map((r) =>
      r
        .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
