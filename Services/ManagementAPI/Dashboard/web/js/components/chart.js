// SVG charts (no library). Sizes are in viewBox units; the SVG scales to its container.
import { s, h } from '../dom.js';

export const PALETTE = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce', '#be123c', '#0e7490', '#a16207', '#4338ca'];

export function colorOf(index) { return index < 0 ? '#6b7280' : PALETTE[index % PALETTE.length]; }

/**
 * Stacked bars: categories along x (e.g. days), one stack per category.
 * stackedBars({categories: ['2026-12-01', …], series: [{name, color, values: [n per category]}], title})
 */
export function stackedBars({ categories, series, title, height = 220, width = 720 }) {
  const pad = { left: 48, right: 12, top: 12, bottom: 36 };
  const totals = categories.map((_, i) => series.reduce((sum, se) => sum + (se.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const band = plotW / Math.max(1, categories.length);
  const barW = Math.max(2, band * 0.7);
  const y = (v) => pad.top + plotH - (v / max) * plotH;
  const children = [s('title', {}, title || 'chart')];
  for (const t of [0, 0.5, 1]) {
    const v = Math.round(max * t);
    children.push(s('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }));
    children.push(s('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, String(v)));
  }
  categories.forEach((cat, i) => {
    let base = 0;
    const x = pad.left + i * band + (band - barW) / 2;
    for (const se of series) {
      const v = se.values[i] || 0;
      if (v > 0) {
        children.push(s('rect', { x, y: y(base + v), width: barW, height: Math.max(0.5, y(base) - y(base + v)), fill: se.color },
          s('title', {}, `${cat} · ${se.name}: ${v}`)));
      }
      base += v;
    }
    const every = Math.ceil(categories.length / 8);
    if (i % every === 0) children.push(s('text', { x: x + barW / 2, y: height - pad.bottom + 16, 'text-anchor': 'middle',
      class: 'axis' }, String(cat).slice(5)));
  });
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title || 'chart' }, children);
  const legend = h('ul', { class: 'legend' },
    series.map((se) => h('li', {}, h('span', { class: 'swatch', style: { background: se.color } }), se.name)));
  return h('figure', { class: 'chart-figure' }, svg, legend);
}
