// Pure helpers of the segment pages (tested with node --test): paste-in of many keys, the segment a PUT sends.

/** Keys pasted as lines or comma-separated: trimmed, empty ones dropped, duplicates removed (first kept). */
export function parseKeys(text) {
  const seen = new Set();
  const keys = [];
  for (const part of String(text).split(/[\n\r,;\t]+/)) {
    const key = part.trim();
    if (key && !seen.has(key)) { seen.add(key); keys.push(key); }
  }
  return keys;
}

/** `existing` plus the new keys not already in it; {list, added, duplicates}. */
export function mergeKeys(existing, text) {
  const have = new Set(existing);
  const list = existing.slice();
  let added = 0;
  let duplicates = 0;
  for (const key of parseKeys(text)) {
    if (have.has(key)) { duplicates += 1; continue; }
    have.add(key); list.push(key); added += 1;
  }
  return { list, added, duplicates };
}

/** Keys that are in both lists (a context both included and excluded: included wins in LaunchDarkly). */
export function overlap(included, excluded) {
  const inc = new Set(included);
  return excluded.filter((k) => inc.has(k));
}

/** Weight (0…100000) as a percent text, and back; null for "no weight" (the rule includes every match). */
export function weightPercent(weight) {
  return weight === null || weight === undefined ? '' : String(Math.round(weight) / 1000);
}
export function parseWeight(text) {
  const t = String(text).trim();
  if (t === '') return null;
  const n = Number(t);
  if (!Number.isFinite(n) || n < 0 || n > 100) return NaN;
  return Math.round(n * 1000);
}

/** An editable copy of a segment as the API returns it. */
export function segmentDraft(segment) {
  return {
    name: segment.name || '', description: segment.description || '', tags: (segment.tags || []).slice(),
    included: (segment.included || []).slice(), excluded: (segment.excluded || []).slice(),
    includedContexts: structuredClone(segment.includedContexts || []), excludedContexts: structuredClone(segment.excludedContexts || []),
    rules: structuredClone(segment.rules || []).map((r) => ({ ...r, clauses: r.clauses || [] })),
    salt: segment.salt,
  };
}

/** The PUT body of a draft (server-managed fields dropped; the salt kept so weighted rules keep their contexts). */
export function segmentBody(draft) {
  const body = {
    name: draft.name, description: draft.description, tags: draft.tags,
    included: draft.included, excluded: draft.excluded,
    includedContexts: draft.includedContexts, excludedContexts: draft.excludedContexts,
    rules: draft.rules.map((r) => {
      const rule = { clauses: r.clauses };
      if (r.id) rule.id = r.id;
      if (r.weight !== null && r.weight !== undefined) rule.weight = r.weight;
      if (r.bucketBy) rule.bucketBy = r.bucketBy;
      if (r.rolloutContextKind) rule.rolloutContextKind = r.rolloutContextKind;
      return rule;
    }),
  };
  if (draft.salt !== undefined) body.salt = draft.salt;
  return body;
}
