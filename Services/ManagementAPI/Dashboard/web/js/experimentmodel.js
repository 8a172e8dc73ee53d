// Pure helpers of the experiment pages (tested with node --test): the numbers of one analysis view, formatting,
// the sample ratio mismatch warning and the scale of the lift chart.

export const VIEWS = [
  ['frequentist', 'Frequentist'], ['sequential', 'Sequential'], ['bayesian', 'Bayesian'],
];

/** Below this `srmPValue` the split of contexts over variations is not what the traffic weights say. */
export const SRM_THRESHOLD = 0.001;

export function hasSRM(metric) {
  return typeof metric?.srmPValue === 'number' && metric.srmPValue < SRM_THRESHOLD;
}

/** The interval, p-value and chance to win of a variation in one view (nulls where not computed). */
export function statsFor(variation, view) {
  const analysis = variation?.[view] || null;
  return {
    ci: Array.isArray(analysis?.ci) && analysis.ci.length === 2 ? analysis.ci : null,
    pValue: view === 'bayesian' ? null : (typeof analysis?.pValue === 'number' ? analysis.pValue : null),
    chanceToWin: typeof variation?.bayesian?.chanceToWin === 'number' ? variation.bayesian.chanceToWin : null,
    risk: view === 'bayesian' && Array.isArray(analysis?.risk) ? analysis.risk : null,
  };
}

/** +12.3 % style, or — for null. */
export function percent(x, digits = 1) {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  const text = (x * 100).toFixed(digits);
  return `${x > 0 ? '+' : ''}${text} %`;
}

/** A share 0…1 as a plain percentage (chance to win). */
export function share(x, digits = 1) {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(digits)} %` : '—';
}

export function pValueText(p) {
  if (typeof p !== 'number' || !Number.isFinite(p)) return '—';
  if (p < 0.0001) return '< 0.0001';
  return p.toFixed(4);
}

/** A mean: a percentage for a proportion metric, else a number with up to 4 significant decimals. */
export function meanText(mean, type) {
  if (typeof mean !== 'number' || !Number.isFinite(mean)) return '—';
  if (type === 'proportion') return `${(mean * 100).toFixed(2)} %`;
  return Math.abs(mean) >= 1000 ? mean.toFixed(0) : String(Number(mean.toPrecision(4)));
}

export function ciText(ci) {
  return ci ? `[${percent(ci[0])}, ${percent(ci[1])}]` : '—';
}

/**
 * Whether a treatment looks better, worse or unclear in a view, taking `higherIsBetter` into account:
 * 'better' | 'worse' | 'inconclusive' | null (nothing computed).
 */
export function verdict(variation, view, higherIsBetter = true, alpha = 0.05) {
  const { ci, pValue, chanceToWin } = statsFor(variation, view);
  if (view === 'bayesian') {
    if (chanceToWin === null) return null;
    const good = higherIsBetter ? chanceToWin : 1 - chanceToWin;
    if (good >= 0.95) return 'better';
    if (good <= 0.05) return 'worse';
    return 'inconclusive';
  }
  if (pValue === null || !ci) return null;
  if (pValue >= alpha) return 'inconclusive';
  const up = ci[0] > 0;
  return up === higherIsBetter ? 'better' : 'worse';
}

/** A symmetric lift axis [-m, m] that holds every interval and lift of the metric in the view (at least ±5 %). */
export function liftDomain(variations, view) {
  let m = 0.05;
  for (const v of variations) {
    const { ci } = statsFor(v, view);
    for (const x of [v.relativeLift, ...(ci || [])]) if (typeof x === 'number' && Number.isFinite(x)) m = Math.max(m, Math.abs(x));
  }
  return [-m * 1.1, m * 1.1];
}

/** Parses the metrics field of the create form: lines "key proportion|mean [lower]" → [{key, type, higherIsBetter}]. */
export function parseMetrics(text) {
  const metrics = [];
  const problems = [];
  String(text).split('\n').map((l) => l.trim()).filter(Boolean).forEach((line, i) => {
    const [key, type = 'proportion', direction] = line.split(/\s+/);
    if (!['proportion', 'mean'].includes(type)) problems.push(`line ${i + 1}: the type must be "proportion" or "mean"`);
    metrics.push({ key, type, higherIsBetter: direction !== 'lower' });
  });
  if (!metrics.length) problems.push('at least one metric');
  return { metrics, problems };
}
