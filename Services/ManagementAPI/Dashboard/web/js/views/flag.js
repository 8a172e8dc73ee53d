// /ui/projects/{p}/flags/{key}?env={e}: one flag. The targeting editor of the selected environment (diff preview,
// If-Match, a readable 412), every environment side by side, evaluations per day and variation (insights, SVG),
// and the flag's settings and variations (JSON values edited safely).
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { diffView } from '../components/diff.js';
import { stackedBars, colorOf } from '../components/chart.js';
import { badge, timeEl } from '../components/widgets.js';
import { targetingEditor } from './flag-targeting.js';
import { variationLabel, valueType, bodyFrom, draftFrom, weightsOf, percentText, serveKind } from '../flagmodel.js';

export default {
  path: '/projects/:project/flags/:flag',
  title: (ctx) => `${ctx.params.flag} · flags`,
  render,
};

async function render(ctx) {
  const flagURL = ctx.path`/projects/${ctx.project.key}/flags/${ctx.params.flag}`;
  const targetingURL = ctx.path`/projects/${ctx.project.key}/flags/${ctx.params.flag}/environments/${ctx.env}`;
  const [flagResult, targetingResult, segmentsResult, flagsResult] = await Promise.all([
    ctx.api.get(flagURL, { signal: ctx.signal }),
    ctx.api.get(targetingURL, { signal: ctx.signal }),
    ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${ctx.env}/segments`,
      { signal: ctx.signal }).catch(() => ({ data: { items: [] } })),
    ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags`, { signal: ctx.signal }).catch(() => ({ data: { items: [] } })),
  ]);
  let flag = flagResult.data;
  let targeting = targetingResult.data;
  let version = targeting.version;
  const segments = segmentsResult.data.items.map((s) => s.key);
  const flags = flagsResult.data.items.map((f) => ({ key: f.key, name: f.name, variations: f.variations }));
  const envName = ctx.project.environments.find((e) => e.key === ctx.env)?.name || ctx.env;

  const editorArea = h('div', {});
  const status = h('div', { 'aria-live': 'polite', 'data-testid': 'targeting-status' });
  const compareArea = h('div', {});
  const chartArea = h('div', {});
  const settingsArea = h('div', {});
  let editor = null;

  function mountEditor() {
    editor = targetingEditor({ flag, targeting, readOnly: !ctx.canWrite, segments, flags });
    replace(editorArea, editor.element);
  }

  async function save() {
    replace(status);
    const before = bodyFrom(draftFrom(targeting));
    const after = editor.body();
    const answer = await confirmDialog({
      title: `Save the targeting of ${flag.name} in ${envName}?`,
      message: `Version ${version} → ${version + 1}. SDKs get the change within a second.`,
      details: h('div', { class: 'preview', 'data-testid': 'diff-preview' }, diffView(before, after)),
      confirmLabel: 'Save', withComment: true,
    });
    if (!answer) return;
    try {
      const { data } = await ctx.api.put(targetingURL, after, { ifMatch: version, comment: answer.comment || undefined });
      targeting = data;
      version = data.version;
      mountEditor();
      notify(`Saved: ${flag.name} in ${envName} is at version ${version}`);
      refreshSide();
    } catch (e) {
      replace(status, errorBox(e), e.status === 412 ? h('button', {
        type: 'button', 'data-testid': 'reload-targeting',
        onclick: async () => { await reloadTargeting(); replace(status); },
      }, 'Discard my changes and load the current version') : null);
    }
  }

  async function reloadTargeting() {
    const { data } = await ctx.api.get(targetingURL, { signal: ctx.signal });
    targeting = data;
    version = data.version;
    mountEditor();
  }

  async function refreshSide() {
    const { data } = await ctx.api.get(flagURL, { signal: ctx.signal });
    flag = data;
    replace(compareArea, compareView(ctx, flag));
  }

  const actions = ctx.canWrite ? h('div', { class: 'actions' },
    h('button', { type: 'button', 'data-testid': 'discard-targeting', onclick: () => { mountEditor(); replace(status); } },
      'Discard changes'),
    h('button', { type: 'button', class: 'primary', 'data-testid': 'save-targeting', onclick: save }, 'Review and save')) : null;

  replace(ctx.main,
    pageHeader(ctx, {
      title: flag.name, env: true,
      subtitle: [flag.key, flag.description ? ` · ${flag.description}` : '', flag.temporary ? ' · temporary' : ''].join(''),
    }),
    h('div', { class: 'tags' }, (flag.tags || []).map((t) => badge(t, 'tag'))),
    section(`Targeting in ${envName}`, editorArea, status, actions),
    section('Environments side by side', compareArea),
    section(`Evaluations in ${envName}, last 30 days`, chartArea),
    section('Settings and variations', settingsArea));
  mountEditor();
  replace(compareArea, compareView(ctx, flag));
  replace(settingsArea, settingsView(ctx, flag, flagURL));
  loadChart(ctx, flag, chartArea);

  ctx.onChange(async () => {
    let data;
    try {
      ({ data } = await ctx.api.get(targetingURL, { signal: ctx.signal }));
    } catch (e) {
      if (e.status === 404) replace(status, errorBox('This flag was deleted elsewhere; it no longer exists in any environment.'));
      return;
    }
    if (data.version !== version) {
      if (editor.dirty()) {
        replace(status, errorBox(`This targeting changed elsewhere (now version ${data.version}); saving your edit will be refused. `
          + 'Discard your changes to see the current version.'));
      } else {
        targeting = data;
        version = data.version;
        mountEditor();
      }
    }
    await refreshSide();
  });
}

function serveText(flag, t) {
  if (!t) return '—';
  if (!t.on) return `off → ${variationLabel(flag, t.offVariation)}`;
  const ft = t.fallthrough || {};
  if (serveKind(ft) === 'rollout') {
    return `rollout ${weightsOf(ft.rollout, flag.variations.length)
      .map((w, i) => `${percentText(w)} ${variationLabel(flag, i)}`).join(' / ')}`;
  }
  return variationLabel(flag, ft.variation);
}

function compareView(ctx, flag) {
  const envs = ctx.project.environments;
  const row = (label, fn) => h('tr', {}, h('th', { scope: 'row' }, label),
    envs.map((e) => h('td', {}, fn(flag.environments?.[e.key] || null))));
  const count = (t, f) => (t ? String(f(t)) : '—');
  return h('div', { class: 'scroll' }, h('table', { class: 'table compare', 'data-testid': 'compare' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), envs.map((e) => h('th', { scope: 'col' },
      h('a', { href: ctx.href('/projects/:project/flags/:flag', { project: ctx.project.key, flag: flag.key }, { env: e.key }) },
        e.name))))),
    h('tbody', {},
      row('State', (t) => (t ? badge(t.on ? 'On' : 'Off', t.on ? 'ok' : '') : '—')),
      row('Serving', (t) => serveText(flag, t)),
      row('Off variation', (t) => (t ? variationLabel(flag, t.offVariation) : '—')),
      row('Rules', (t) => count(t, (x) => (x.rules || []).length)),
      row('Targeted keys',
        (t) => count(t, (x) => [...(x.targets || []), ...(x.contextTargets || [])].reduce((n, g) => n + (g.values || []).length, 0))),
      row('Prerequisites',
        (t) => (t && (t.prerequisites || []).length ? t.prerequisites.map((p) => `${p.key} = ${p.variation}`).join(', ') : 'none')),
      row('Version', (t) => (t ? String(t.version) : '—')))));
}

async function loadChart(ctx, flag, area) {
  try {
    const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags/${flag.key}/insights`,
      { query: { environment: ctx.env, days: 30 }, signal: ctx.signal });
    const indexes = new Set();
    for (const day of data.daily) for (const v of day.variations) indexes.add(v.variation);
    const series = [...indexes].sort((a, b) => a - b).map((i) => ({
      name: i < 0 ? 'SDK default' : `${i}: ${variationLabel(flag, i)}`, color: colorOf(i),
      values: data.daily.map((d) => d.variations.find((v) => v.variation === i)?.evaluations || 0),
    }));
    const total = data.daily.reduce((n, d) => n + d.total, 0);
    replace(area, h('p', { class: 'muted small', 'data-testid': 'last-evaluated' }, 'Last evaluated: ', timeEl(data.lastEvaluatedAt),
      ` · ${total} evaluations in ${data.days} days`),
      total ? stackedBars({ categories: data.daily.map((d) => d.date), series, title: `Evaluations of ${flag.key} per day and variation` })
        : h('p', { class: 'muted' }, 'No evaluations reported by SDKs in this period.'));
  } catch (e) {
    if (e.name !== 'AbortError') replace(area, errorBox(e));
  }
}

/** A variation value as text for its editor, and back (the flag's type is kept). */
export function valueText(value) {
  return typeof value === 'string' ? value : JSON.stringify(value, null, valueType(value) === 'json' ? 2 : 0);
}

export function parseValue(type, text) {
  if (type === 'string') return text;
  if (type === 'boolean') {
    if (text.trim() === 'true') return true;
    if (text.trim() === 'false') return false;
    throw new Error('must be true or false');
  }
  if (type === 'number') {
    const n = Number(text.trim());
    if (text.trim() === '' || !Number.isFinite(n)) throw new Error('must be a number');
    return n;
  }
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new Error(`is not valid JSON (${e.message})`); }
  if (v === null || typeof v !== 'object') throw new Error('must be a JSON object or array');
  return v;
}

function settingsView(ctx, flag, flagURL) {
  const readOnly = !ctx.canWrite;
  const type = valueType(flag.variations[0]?.value);
  const name = h('input', { type: 'text', value: flag.name, 'data-testid': 'settings-name', required: true });
  const description = h('input', { type: 'text', value: flag.description || '', 'data-testid': 'settings-description' });
  const tags = h('input', { type: 'text', value: (flag.tags || []).join(', '), 'data-testid': 'settings-tags' });
  const temporary = h('input', { type: 'checkbox', checked: Boolean(flag.temporary), 'data-testid': 'settings-temporary' });
  const rows = flag.variations.map((v) => ({ value: valueText(v.value), name: v.name || '', description: v.description || '' }));
  const list = h('div', { class: 'variations' });
  const status = h('div', { 'aria-live': 'polite' });
  function renderRows() {
    replace(list, rows.map((r, i) => {
      const value = type === 'json'
        ? h('textarea', { rows: '3', 'data-testid': `variation-${i}-value`, 'aria-label': `Variation ${i} value (JSON)`,
          oninput: (e) => { r.value = e.target.value; } })
        : h('input', { type: 'text', 'data-testid': `variation-${i}-value`, 'aria-label': `Variation ${i} value (${type})`,
          oninput: (e) => { r.value = e.target.value; } });
      value.value = r.value;
      return h('div', { class: 'variation-row', 'data-testid': `variation-${i}` }, h('span', { class: 'mono' }, `${i}`), value,
        h('input', { type: 'text', value: r.name, placeholder: 'name', 'aria-label': `Variation ${i} name`,
          'data-testid': `variation-${i}-name`, oninput: (e) => { r.name = e.target.value; } }),
        h('input', { type: 'text', value: r.description, placeholder: 'description', 'aria-label': `Variation ${i} description`,
          oninput: (e) => { r.description = e.target.value; } }),
        readOnly || type === 'boolean' || rows.length < 2 ? null : h('button',
          { type: 'button', class: 'small', 'data-testid': `variation-${i}-delete`, onclick: () => { rows.splice(i, 1); renderRows(); } },
          'Remove'));
    }));
  }
  renderRows();
  const form = h('fieldset', { class: 'settings', disabled: readOnly },
    h('div', { class: 'inline-form' }, field('Name', name), field('Description', description), field('Tags', tags, 'Comma-separated')),
    h('label', { class: 'checkbox' }, temporary, ' Temporary'),
    h('h3', {}, `Variations (${type})`), list,
    readOnly || type === 'boolean' ? null : h('button', { type: 'button', class: 'small', 'data-testid': 'add-variation',
      onclick: () => { rows.push({ value: type === 'json' ? '{}' : '', name: '', description: '' }); renderRows(); } }, 'Add variation'),
    status,
    readOnly ? null : h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'danger', 'data-testid': 'delete-flag', onclick: () => deleteFlag(ctx, flag, flagURL) },
        'Delete flag'),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'save-settings', onclick: save }, 'Review and save')));

  async function save() {
    replace(status);
    const problems = [];
    const variations = rows.map((r, i) => {
      let value;
      try { value = parseValue(type, r.value); } catch (e) { problems.push(`Variation ${i}: the value ${e.message}`); }
      const v = { value };
      if (r.name.trim()) v.name = r.name.trim();
      if (r.description.trim()) v.description = r.description.trim();
      return v;
    });
    if (problems.length) { replace(status, errorBox(problems.join('; '))); return; }
    const patch = {
      name: name.value.trim(), description: description.value.trim(), temporary: temporary.checked,
      tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean), variations,
    };
    const before = { name: flag.name, description: flag.description || '', temporary: Boolean(flag.temporary), tags: flag.tags || [],
      variations: flag.variations };
    const answer = await confirmDialog({
      title: `Save the settings of ${flag.name}?`, details: h('div', { class: 'preview', 'data-testid': 'diff-preview' },
        diffView(before, patch)),
      confirmLabel: 'Save',
    });
    if (!answer) return;
    try {
      // Flag settings have no version: refuse if the flag changed since this page loaded it.
      const { data: current } = await ctx.api.get(flagURL);
      if (current.updatedAt !== flag.updatedAt) {
        replace(status, errorBox('Someone else changed this flag\'s settings while you were editing, so nothing was saved. '
          + 'Reload the page to see their change, then make yours again.'));
        return;
      }
      await ctx.api.patch(flagURL, patch);
      notify('Settings saved');
      ctx.navigate(window.location.pathname + window.location.search, { replace: true });
    } catch (e) { replace(status, errorBox(e)); }
  }
  return form;
}

async function deleteFlag(ctx, flag, flagURL) {
  const ok = await confirmDialog({
    title: `Delete the flag ${flag.name}?`, message: 'It is deleted in every environment; SDKs then serve their default value.',
    confirmLabel: 'Delete flag', danger: true,
  });
  if (!ok) return;
  try {
    await ctx.deleting(async () => {
      await ctx.api.del(flagURL);
      notify(`Flag ${flag.name} deleted`);
      ctx.navigate(ctx.href('/projects/:project/flags', { project: ctx.project.key }, { env: ctx.env }));
    });
  } catch (e) { notify(e.readable || e.message, 'error'); }
}
