// Pure helpers of the release pages (tested with node --test): rollout steps typed as text, durations, the step
// timeline of a rollout, and the scheduled change form.

/** "90", "90s", "10m", "2h", "1d" → seconds; NaN when not a duration. */
export function parseDuration(text) {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$/i.exec(String(text));
  if (!m) return NaN;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] || 's').toLowerCase()];
  return Math.round(Number(m[1]) * unit);
}

/** 5400 → "1h 30m"; 0 → "0s". */
export function durationText(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '—';
  let s = Math.max(0, Math.round(seconds));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size) { parts.push(`${Math.floor(s / size)}${unit}`); s %= size; }
  }
  if (s || !parts.length) parts.push(`${s}s`);
  return parts.slice(0, 2).join(' ');
}

/**
 * Steps from text: one step per line or comma, "percent [hold]" ("10 1h, 50 2h, 100") → {steps, problems}. The checks
 * mirror the API's (1…20 steps, strictly increasing, at most 3 decimals, last 100, hold 0…30 days) so the form can say
 * what is wrong before sending; the server checks again.
 */
export function parseSteps(text) {
  const steps = [];
  const problems = [];
  const parts = String(text).split(/[\n,;]+/).map((p) => p.trim()).filter(Boolean);
  parts.forEach((part, i) => {
    const [pctText, holdText = '0'] = part.replace('%', ' ').split(/\s+/).filter(Boolean);
    const percent = Number(pctText);
    const holdSeconds = parseDuration(holdText);
    if (!Number.isFinite(percent) || percent <= 0 || percent > 100) problems.push(`step ${i + 1}: the percent must be within (0, 100]`);
    else if (Math.round(percent * 1000) !== percent * 1000) problems.push(`step ${i + 1}: at most three decimals`);
    if (!Number.isFinite(holdSeconds) || holdSeconds < 0
      || holdSeconds > 2592000) problems.push(`step ${i + 1}: the hold must be a duration up to 30 days (e.g. 30m, 2h, 1d)`);
    if (steps.length && percent <= steps[steps.length - 1].percent) problems.push(`step ${i + 1}: percents must increase`);
    steps.push({ percent, holdSeconds });
  });
  if (!steps.length) problems.push('at least one step');
  if (steps.length > 20) problems.push('at most 20 steps');
  if (steps.length && steps[steps.length - 1].percent !== 100) problems.push('the last step must be 100 %');
  return { steps, problems };
}

export function stepsText(steps) {
  return steps.map((s, i) => (i === steps.length - 1 && s.holdSeconds === 0
    ? `${s.percent}` : `${s.percent} ${durationText(s.holdSeconds).replace(' ', '')}`)).join(', ');
}

export const STEP_PRESETS = [
  ['10 % → 50 % → 100 %, an hour each', '10 1h, 50 1h, 100'],
  ['1 % → 5 % → 25 % → 50 % → 100 %, a day each', '1 1d, 5 1d, 25 1d, 50 1d, 100'],
  ['25 % → 100 % after 10 minutes', '25 10m, 100'],
];

/** The timeline of a rollout: one entry per step with its state ('done' | 'current' | 'pending' | 'skipped'). */
export function timeline(rollout) {
  const ended = ['completed', 'rolled_back', 'cancelled'].includes(rollout.status);
  return rollout.steps.map((step, i) => {
    const n = i + 1;
    let state;
    if (rollout.status === 'completed') state = 'done';
    else if (n < rollout.step) state = 'done';
    else if (n === rollout.step) state = ended ? 'stopped' : 'current';
    else state = ended ? 'skipped' : 'pending';
    return { n, percent: step.percent, holdSeconds: step.holdSeconds, state };
  });
}

export function isActive(rollout) { return rollout && (rollout.status === 'running' || rollout.status === 'paused'); }

/** A scheduled change's patch from the form: {on?, offVariation?, fallthrough?} or a pasted JSON merge patch. */
export function changePatch({ action, variation, json }) {
  switch (action) {
    case 'on': return { patch: { on: true } };
    case 'off': return { patch: { on: false } };
    case 'fallthrough': return { patch: { fallthrough: { variation: Number(variation) } } };
    case 'json': {
      try {
        const patch = JSON.parse(json);
        if (!patch || typeof patch !== 'object' || Array.isArray(patch) || !Object.keys(patch).length)
          return { error: 'The patch must be a non-empty JSON object' };
        return { patch };
      } catch (e) { return { error: `The patch is not valid JSON: ${e.message}` }; }
    }
    default: return { error: 'Choose what the change does' };
  }
}

/** A patch in words: "turn on", "serve variation 1 by default", else its JSON. */
export function patchText(patch, label = (i) => String(i)) {
  const keys = Object.keys(patch || {});
  if (keys.length === 1 && keys[0] === 'on') return patch.on ? 'turn targeting on' : 'turn targeting off';
  if (keys.length === 1 && keys[0] === 'fallthrough'
    && typeof patch.fallthrough?.variation === 'number') return `serve ${label(patch.fallthrough.variation)} by default`;
  return JSON.stringify(patch);
}
