// Pure helpers of the "evaluate as a context" page (tested with node --test): building a LaunchDarkly context from
// the form, and flattening one for display.

/** An attribute value typed in the form: JSON when it parses as a JSON number, boolean, array or object, else text. */
export function attributeValue(text) {
  const t = String(text).trim();
  if (t === '') return '';
  if (/^(true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(t) || t.startsWith('[') || t.startsWith('{') || t.startsWith('"')) {
    try { return JSON.parse(t); } catch { /* text */ }
  }
  return String(text);
}

/** The context JSON of the builder: {kind, key, name?, ...attributes}; rows without a name are skipped. */
export function buildContext({ kind, key, name, anonymous, attributes = [] }) {
  const context = { kind: (kind || 'user').trim(), key: String(key || '') };
  if (name) context.name = name;
  if (anonymous) context.anonymous = true;
  for (const { name: attr, value } of attributes) {
    const n = String(attr || '').trim();
    if (!n || n === 'kind' || n === 'key') continue;
    context[n] = attributeValue(value);
  }
  return context;
}

/** The builder's fields back from a single-kind context (null for a multi-kind or unparseable one). */
export function builderFrom(context) {
  if (!context || typeof context !== 'object' || Array.isArray(context) || context.kind === 'multi') return null;
  const attributes = [];
  for (const [name, value] of Object.entries(context)) {
    if (['kind', 'key', 'name', 'anonymous', '_meta'].includes(name)) continue;
    attributes.push({ name, value: typeof value === 'string' ? value : JSON.stringify(value) });
  }
  return {
    kind: typeof context.kind === 'string' ? context.kind : 'user', key: context.key ?? '', name: context.name ?? '',
    anonymous: context.anonymous === true, attributes,
  };
}

/** Parses the JSON text of a context: {context} or {error} (a readable message, nothing thrown). */
export function parseContext(text) {
  let value;
  try { value = JSON.parse(text); } catch (e) { return { error: `The context is not valid JSON: ${e.message}` }; }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {
    error: 'A context is a JSON object, e.g. {"kind": "user", "key": "user-1"}' };
  return { context: value };
}

/** Rows [{kind, name, value}] of a context (single or multi-kind) for a table; values as JSON text. */
export function contextRows(context) {
  const rows = [];
  const single = (kind, c) => {
    for (const [name, value] of Object.entries(c)) {
      if (name === 'kind') continue;
      rows.push({ kind, name, value: typeof value === 'string' ? value : JSON.stringify(value) });
    }
  };
  if (context && context.kind === 'multi') {
    for (const [kind, c] of Object.entries(context)) if (kind !== 'kind' && c && typeof c === 'object') single(kind, c);
  } else if (context) {
    single(context.kind || 'user', context);
  }
  return rows;
}

/** A reason in words: "Rule 2 matched (r-id)", "Individually targeted", … */
export function reasonText(reason) {
  if (!reason) return '';
  switch (reason.kind) {
    case 'OFF': return 'Targeting is off';
    case 'FALLTHROUGH': return 'Default rule (fallthrough)';
    case 'TARGET_MATCH': return 'Individually targeted';
    case 'RULE_MATCH': return `Rule ${(reason.ruleIndex ?? 0) + 1} matched${reason.ruleId ? ` (${reason.ruleId})` : ''}`;
    case 'PREREQUISITE_FAILED': return `Prerequisite "${reason.prerequisiteKey}" not met`;
    case 'ERROR': return `Error: ${reason.errorKind || 'unknown'}`;
    default: return String(reason.kind);
  }
}
