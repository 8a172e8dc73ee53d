// Pure helpers about flags and targeting, shared by the flag views and tested with node --test.

/** The type of a variation value: boolean, number, string or json. */
export function valueType(value) {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return 'number';
  if (typeof value === 'string') return 'string';
  return 'json';
}

/** A short text for a variation: its name, else its value. */
export function variationLabel(flag, index) {
  if (index === null || index === undefined) return '—';
  if (index < 0) return 'SDK default';
  const v = flag.variations?.[index];
  if (!v) return `#${index}`;
  return v.name ? `${v.name}` : JSON.stringify(v.value);
}

/** Filters the flag list: {q, tag, state: 'on'|'off'|'', stale: 'stale'|'fresh'|''}, env. */
export function flagMatches(flag, { q = '', tag = '', state = '', stale = '' }, env, evaluation) {
  if (q) {
    const needle = q.toLowerCase();
    const hay = `${flag.key}\n${flag.name || ''}\n${flag.description || ''}`.toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  if (tag && !(flag.tags || []).includes(tag)) return false;
  const on = Boolean(flag.environments?.[env]?.on);
  if (state === 'on' && !on) return false;
  if (state === 'off' && on) return false;
  const isStale = Boolean(evaluation && evaluation.stale);
  if (stale === 'stale' && !isStale) return false;
  if (stale === 'fresh' && isStale) return false;
  return true;
}

/** Every tag used by the flags, sorted. */
export function allTags(flags) {
  const tags = new Set();
  for (const f of flags) for (const t of f.tags || []) tags.add(t);
  return [...tags].sort();
}

export const STALE_REASONS = {
  neverEvaluated: 'never evaluated',
  notEvaluatedRecently: 'not evaluated recently',
  singleVariation: 'serves one variation',
};

/** Rollout weights are in 1/1000 of a percent; 100% = 100000. */
export const FULL = 100000;

export function percentText(weight) {
  const p = weight / 1000;
  return `${Number.isInteger(p) ? p : p.toFixed(3).replace(/0+$/, '')}%`;
}

/**
 * Sets weights[index] to `weight` and takes the difference from the others (last ones first), so the total
 * stays exactly 100000. Returns a new array.
 */
export function rebalance(weights, index, weight) {
  const out = weights.slice();
  const clamped = Math.max(0, Math.min(FULL, Math.round(weight)));
  out[index] = clamped;
  let excess = out.reduce((a, b) => a + b, 0) - FULL;
  for (let i = out.length - 1; i >= 0 && excess !== 0; i -= 1) {
    if (i === index) continue;
    if (excess > 0) { const take = Math.min(out[i], excess); out[i] -= take; excess -= take; }
    else { out[i] -= excess; excess = 0; }
  }
  if (excess !== 0 && out.length === 1) out[0] = FULL;
  return out;
}

/** Parses a percentage typed by a person ('30', '30%', '12.5') to a weight, or null. */
export function parsePercent(text) {
  const m = /^\s*(\d+(?:\.\d{1,3})?)\s*%?\s*$/.exec(String(text));
  if (!m) return null;
  const w = Math.round(Number(m[1]) * 1000);
  return w >= 0 && w <= FULL ? w : null;
}

export const OPERATORS = [
  ['in', 'is one of'], ['startsWith', 'starts with'], ['endsWith', 'ends with'], ['contains', 'contains'],
  ['matches', 'matches regex'], ['lessThan', '<'], ['lessThanOrEqual', '≤'], ['greaterThan', '>'],
  ['greaterThanOrEqual', '≥'], ['before', 'before (date)'], ['after', 'after (date)'], ['semVerEqual', 'semver ='],
  ['semVerLessThan', 'semver <'], ['semVerGreaterThan', 'semver >'], ['segmentMatch', 'is in segment'],
];

const NUMERIC = new Set(['lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual']);

/** Clause values from text lines: numbers for numeric operators, date strings or numbers for before/after. */
export function parseClauseValues(op, text) {
  const lines = String(text).split('\n').map((l) => l.trim()).filter((l) => l.length);
  if (NUMERIC.has(op)) return lines.map((l) => (Number.isFinite(Number(l)) ? Number(l) : l));
  if (op === 'before' || op === 'after') return lines.map((l) => (/^\d+$/.test(l) ? Number(l) : l));
  if (op === 'in') return lines.map((l) => (l === 'true' ? true : l === 'false' ? false : l));
  return lines;
}

export function clauseValuesText(values) {
  return (values || []).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join('\n');
}

/** Moves list[from] to list[to] (new array). */
export function move(list, from, to) {
  if (to < 0 || to >= list.length || from === to) return list.slice();
  const out = list.slice();
  const [item] = out.splice(from, 1);
  out.splice(to, 0, item);
  return out;
}

/** The targeting fields a PUT takes (drops server-managed salt and version). */
export function targetingBody(t) {
  const body = {
    on: Boolean(t.on), targets: t.targets || [], contextTargets: t.contextTargets || [], rules: t.rules || [],
    fallthrough: t.fallthrough, offVariation: t.offVariation ?? null, prerequisites: t.prerequisites || [],
  };
  if (t.trackEvents !== undefined) body.trackEvents = t.trackEvents;
  if (t.trackEventsFallthrough !== undefined) body.trackEventsFallthrough = t.trackEventsFallthrough;
  return body;
}

/**
 * The editable form of one environment's targeting: individual targets as groups {contextKind, variation, values}
 * (LaunchDarkly keeps user targets in `targets` and other kinds in `contextTargets`; the editor shows them alike).
 */
export function draftFrom(t) {
  const copy = JSON.parse(JSON.stringify(t || {}));
  const groups = [];
  for (const target of copy.targets || []) groups.push({ contextKind: 'user', variation: target.variation, values: target.values || [] });
  for (const ct of copy.contextTargets || []) {
    // A user entry without values only orders `targets` among the kinds; the values are in `targets`.
    if ((ct.contextKind || 'user') === 'user' && !(ct.values || []).length) continue;
    groups.push({ contextKind: ct.contextKind || 'user', variation: ct.variation, values: ct.values || [] });
  }
  return {
    on: Boolean(copy.on),
    prerequisites: copy.prerequisites || [],
    groups,
    rules: (copy.rules || []).map((r) => ({ ...r, clauses: (r.clauses || []).map((c) => ({ negate: false, ...c })) })),
    fallthrough: copy.fallthrough || { variation: 0 },
    offVariation: copy.offVariation ?? null,
    trackEvents: copy.trackEvents,
    trackEventsFallthrough: copy.trackEventsFallthrough,
  };
}

/** The PUT body of a draft. */
export function bodyFrom(draft) {
  const targets = [];
  const contextTargets = [];
  for (const g of draft.groups) {
    const values = [...new Set(g.values.map((v) => String(v).trim()).filter(Boolean))];
    if (!values.length) continue;
    if (!g.contextKind || g.contextKind === 'user') targets.push({ values, variation: g.variation });
    else contextTargets.push({ contextKind: g.contextKind, values, variation: g.variation });
  }
  const rules = draft.rules.map((r) => {
    const rule = { ...r };
    rule.clauses = r.clauses.map((c) => {
      const clause = { attribute: c.attribute ?? '', op: c.op, values: c.values, negate: Boolean(c.negate) };
      if (c.op === 'segmentMatch') clause.attribute = '';
      else if (c.contextKind && c.contextKind !== 'user') clause.contextKind = c.contextKind;
      else if (c.contextKind === 'user') clause.contextKind = 'user';
      return clause;
    });
    return rule;
  });
  return targetingBody({ ...draft, targets, contextTargets, rules });
}

/** "variation" or "rollout" served by a rule or the fallthrough. */
export function serveKind(serve) {
  return serve && serve.rollout ? 'rollout' : 'variation';
}

/** A rollout over every variation of the flag, all weight on `index`. */
export function rolloutFor(variationCount, index = 0) {
  return { variations: Array.from({ length: variationCount }, (_, i) => ({ variation: i, weight: i === index ? FULL : 0 })) };
}

/** The rollout's weights as one number per flag variation (missing ones 0). */
export function weightsOf(rollout, variationCount) {
  const weights = Array.from({ length: variationCount }, () => 0);
  for (const wv of rollout?.variations || []) if (wv.variation < variationCount) weights[wv.variation] += wv.weight;
  return weights;
}

/** A readable sentence for a clause: 'email ends with "@example.com"'. */
export function clauseText(c) {
  const op = (OPERATORS.find(([k]) => k === c.op) || [c.op, c.op])[1];
  const values = (c.values || []).map((v) => JSON.stringify(v)).join(', ');
  if (c.op === 'segmentMatch') return `context ${c.negate ? 'is not' : 'is'} in segment ${values}`;
  const kind = c.contextKind && c.contextKind !== 'user' ? `${c.contextKind} ` : '';
  return `${kind}${c.attribute || '(attribute)'} ${c.negate ? 'NOT ' : ''}${op} ${values}`;
}
