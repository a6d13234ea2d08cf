// The status page's style (page.ts): a CSS grid of cards that folds to one column on a phone,
// light or dark as the reader's system prefers, and the bucket map's cells.
export const PAGE_STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #5c6670; --line: #d9dee3; --ok: #1a7f37; --bad: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --card: #161b22; --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --ok: #3fb950; --bad: #f85149; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { padding: 12px 16px; border-bottom: 1px solid var(--line); background: var(--card); display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: baseline; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 8px 0 4px; }
header p { margin: 0; }
body[data-connection="lost"] #stamp { color: var(--bad); font-weight: 600; }
main { display: grid; gap: 12px; padding: 12px; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px; min-width: 0; overflow-x: auto; }
#vips { grid-column: 1 / -1; }
.muted { color: var(--muted); }
.warn { color: var(--bad); font-weight: 600; }
p { margin: 4px 0; }
ul.nodes { list-style: none; margin: 0; padding: 0; }
ul.nodes li { display: flex; flex-wrap: wrap; gap: 4px 10px; align-items: center; padding: 6px 0; border-top: 1px solid var(--line); }
ul.nodes li:first-child { border-top: 0; }
ul.nodes li.dead strong { text-decoration: line-through; color: var(--muted); }
.swatch { width: 14px; height: 14px; border-radius: 3px; display: inline-block; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; border: 1px solid var(--line); }
.badge.ok { color: var(--ok); border-color: var(--ok); }
.badge.bad { color: #fff; background: var(--bad); border-color: var(--bad); }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 3px 6px; border-top: 1px solid var(--line); white-space: nowrap; }
th { color: var(--muted); font-weight: 600; border-top: 0; }
.buckets { display: grid; grid-template-columns: repeat(auto-fill, minmax(26px, 1fr)); gap: 3px; margin: 8px 0; }
.b { display: inline-flex; align-items: center; justify-content: center; min-width: 26px; height: 22px; border-radius: 3px; font-size: 10px;
  color: #fff; text-shadow: 0 0 2px #000; border: 2px solid transparent; background-color: #999; }
.b[data-owner=""] { background-color: transparent; color: var(--muted); text-shadow: none; border: 1px dashed var(--line); }
.b.incoming { border: 2px dashed var(--fg); }
.b.draining { background-image: repeating-linear-gradient(45deg, rgba(255,255,255,.55) 0 3px, transparent 3px 7px); }
.b.moved { box-shadow: 0 0 0 2px var(--card), 0 0 0 4px var(--fg); }
.legend .b { background-color: var(--muted); margin: 0 2px; }
@media (max-width: 480px) { main { padding: 8px; gap: 8px; } .buckets { grid-template-columns: repeat(auto-fill, minmax(22px, 1fr)); } .b { min-width: 22px; font-size: 9px; } }
`;
