// A readable diff of two JSON documents: one line per changed leaf, with its JSON path
// (rules[0].clauses[1].values[0]). `diffJSON` is pure (node --test); `diffView` renders it as text.
import { h } from '../dom.js';

function isObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

/** Flattens JSON to [path, leaf] pairs; empty arrays/objects are leaves. */
export function flatten(value, prefix = '', out = new Map()) {
  if (Array.isArray(value) && value.length) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else if (isObject(value) && Object.keys(value).length) {
    for (const key of Object.keys(value).sort()) {
      const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
      flatten(value[key], name.startsWith('"') ? `${prefix}[${name}]` : (prefix ? `${prefix}.${name}` : name), out);
    }
  } else {
    out.set(prefix || '(value)', value);
  }
  return out;
}

/** [{path, kind: 'added'|'removed'|'changed', before, after}] in path order of `after`, then removals. */
export function diffJSON(before, after, { ignore = [] } = {}) {
  const a = flatten(before ?? null);
  const b = flatten(after ?? null);
  const skip = (p) => ignore.some((i) => p === i || p.startsWith(`${i}.`) || p.startsWith(`${i}[`));
  const changes = [];
  for (const [p, v] of b) {
    if (skip(p)) continue;
    if (!a.has(p)) changes.push({ path: p, kind: 'added', after: v });
    else if (JSON.stringify(a.get(p)) !== JSON.stringify(v)) changes.push({ path: p, kind: 'changed', before: a.get(p), after: v });
  }
  for (const [p, v] of a) {
    if (skip(p)) continue;
    if (!b.has(p)) changes.push({ path: p, kind: 'removed', before: v });
  }
  return changes;
}

function show(v) { return JSON.stringify(v); }

/** A <table> of the changes (data-testid="diff"); everything rendered as text. */
export function diffView(before, after, options = {}) {
  const changes = diffJSON(before, after, options);
  if (!changes.length) return h('p', { class: 'muted', 'data-testid': 'diff' }, 'No changes.');
  return h('table', { class: 'diff', 'data-testid': 'diff' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'),
      h('th', { scope: 'col' }, 'After'))),
    h('tbody', {}, changes.map((c) => h('tr', { class: c.kind },
      h('td', { class: 'mono' }, c.path),
      h('td', { class: 'mono before' }, c.kind === 'added' ? '—' : show(c.before)),
      h('td', { class: 'mono after' }, c.kind === 'removed' ? '—' : show(c.after))))));
}
