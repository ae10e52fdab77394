// A small SVG bar chart of one bench result, written by hand (no dependency): one block per metric,
// one horizontal bar per tool at its median, a whisker out to its p90. Each metric has its own scale
// (metrics mix units: ms, kB, Gbit/s), so compare bars within a block, never across blocks.

const W = 720;
const LABEL = 250;
const VALUE = 110;
const BAR_H = 14;
const GAP = 4;
const PALETTE = ['#3b6ea5', '#d07a2b', '#4f9a58', '#a8455b', '#7b62a8', '#8a7352', '#4a9aa5', '#777777'];

const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
const fmt = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));

/** `result` is a bench/run.mjs result file's content (or a bench's result); returns the SVG text. */
export function renderChart(result, subtitle = '') {
  const rows = result.rows ?? [];
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const tools = [...new Set(rows.map((r) => r.tool))];
  const colour = (tool) => PALETTE[tools.indexOf(tool) % PALETTE.length];
  const plot = W - LABEL - VALUE - 20;
  const parts = [];
  let y = 44;
  for (const metric of metrics) {
    const mine = rows.filter((r) => r.metric === metric);
    const unit = mine[0]?.unit ?? result.unit ?? '';
    const top = Math.max(...mine.map((r) => Math.max(r.median ?? 0, r.p90 ?? 0)), 0);
    const bottom = Math.min(...mine.map((r) => Math.min(r.median ?? 0, r.p90 ?? 0)), 0);
    const span = top - bottom || 1;
    const x = (v) => LABEL + ((v - bottom) / span) * plot;
    parts.push(`<text x="8" y="${y + 11}" font-weight="bold">${esc(metric)}${unit ? ` (${esc(unit)})` : ''}</text>`);
    y += 18;
    for (const r of mine) {
      const m = r.median ?? 0;
      const x0 = x(Math.min(0, m)), x1 = x(Math.max(0, m));
      parts.push(`<text x="${LABEL - 6}" y="${y + 11}" text-anchor="end">${esc(r.tool)}</text>`);
      parts.push(`<rect x="${x0.toFixed(1)}" y="${y}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${BAR_H}" fill="${colour(r.tool)}"/>`);
      if (r.n > 1 && r.p90 !== null && r.p90 !== r.median) {
        const xp = x(r.p90), ym = y + BAR_H / 2;
        parts.push(`<line x1="${x(m).toFixed(1)}" y1="${ym}" x2="${xp.toFixed(1)}" y2="${ym}" stroke="#222"/><line x1="${xp.toFixed(1)}" y1="${y + 3}" x2="${xp.toFixed(1)}" y2="${y + BAR_H - 3}" stroke="#222"/>`);
      }
      const label = r.n > 1 ? `${fmt(r.median)} (p90 ${fmt(r.p90)})` : fmt(r.median);
      parts.push(`<text x="${W - VALUE}" y="${y + 11}">${esc(label)}</text>`);
      y += BAR_H + GAP;
    }
    y += 10;
  }
  const h = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${h}" fill="#fff"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(result.bench)}</text>`,
    `<text x="8" y="34" fill="#555">${esc(subtitle || 'bars: median; whisker: p90; each metric on its own scale')}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
