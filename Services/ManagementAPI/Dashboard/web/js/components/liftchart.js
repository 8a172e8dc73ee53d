// An SVG chart of relative lift per treatment variation: a dot at the lift and a bar over its interval, against a
// zero line (the control). Colors say whether the variation is better, worse or unclear for the metric.
import { s, h } from '../dom.js';
import { statsFor, liftDomain, percent, verdict } from '../experimentmodel.js';

/** liftChart({variations: treatments only, view, label(variation) → text, higherIsBetter, title}) */
export function liftChart({ variations, view, label, higherIsBetter = true, title }) {
  const width = 720;
  const rowH = 34;
  const pad = { left: 170, right: 24, top: 26, bottom: 10 };
  const height = pad.top + pad.bottom + rowH * Math.max(1, variations.length);
  const [lo, hi] = liftDomain(variations, view);
  const plotW = width - pad.left - pad.right;
  const x = (v) => pad.left + ((v - lo) / (hi - lo)) * plotW;
  const children = [s('title', {}, title)];
  for (const t of [lo, lo / 2, 0, hi / 2, hi]) {
    children.push(s('line', { x1: x(t), x2: x(t), y1: pad.top - 4, y2: height - pad.bottom, class: t === 0 ? 'zero' : 'grid' }));
    children.push(s('text', { x: x(t), y: pad.top - 10, 'text-anchor': 'middle', class: 'axis' }, percent(t, 0)));
  }
  variations.forEach((v, i) => {
    const y = pad.top + rowH * i + rowH / 2;
    const { ci } = statsFor(v, view);
    const kind = verdict(v, view, higherIsBetter) || 'none';
    children.push(s('text', { x: pad.left - 8, y: y + 4, 'text-anchor': 'end', class: 'label' }, label(v)));
    if (ci) {
      const a = Math.max(lo, Math.min(hi, ci[0]));
      const b = Math.max(lo, Math.min(hi, ci[1]));
      children.push(s('rect', { x: x(a), y: y - 7, width: Math.max(1, x(b) - x(a)), height: 14, rx: 3, class: `interval ${kind}` },
        s('title', {}, `${label(v)}: interval ${percent(ci[0])} to ${percent(ci[1])}`)));
    }
    if (typeof v.relativeLift === 'number') {
      children.push(s('circle', { cx: x(v.relativeLift), cy: y, r: 5, class: `lift ${kind}`, 'data-testid': `lift-dot-${v.variation}` },
        s('title', {}, `${label(v)}: lift ${percent(v.relativeLift)}`)));
    } else {
      children.push(s('text', { x: x(0) + 8, y: y + 4, class: 'axis' }, 'no data yet'));
    }
  });
  return h('figure', { class: 'chart-figure lift-chart' },
    s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title, 'data-testid': 'lift-chart' },
      children),
    h('figcaption', { class: 'small muted' },
      'Relative lift against the control, with its interval. Green: better; red: worse; grey: not clear yet.'));
}
