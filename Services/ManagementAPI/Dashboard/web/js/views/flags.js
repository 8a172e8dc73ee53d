// /ui/projects/{p}/flags?env={e}: the project's flags in one environment, with search and filters (kept in
// the URL), an on/off switch per flag (confirmation and an optional audit comment; If-Match against the
// targeting version), each flag's last evaluation and a stale badge (insights API).
import { h, field, replace, fragment } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { toggleSwitch, setSwitch, badge, timeEl, empty } from '../components/widgets.js';
import { flagMatches, allTags, STALE_REASONS, variationLabel } from '../flagmodel.js';

export default {
  path: '/projects/:project/flags',
  title: (ctx) => `Flags · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Flags', order: 10, matches: ['/projects/:project/flags/:flag'] },
  render,
  prefetch: ({ api, path, params, env, signal }) => api.get(path`/projects/${params.project}/environments/${env}/flags`, { signal }),
};

async function render(ctx) {
  const env = ctx.env;
  const filters = {
    q: ctx.query.get('q') || '', tag: ctx.query.get('tag') || '', state: ctx.query.get('state') || '',
    stale: ctx.query.get('stale') || '',
  };
  let flags = [];
  let evaluations = new Map();   // key → {lastEvaluatedAt, stale}
  const rows = new Map();        // key → <tr>
  const tbody = h('tbody', {});
  const count = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'flag-count' });
  const errorArea = h('div', {});

  const search = h('input', { type: 'search', value: filters.q, 'data-testid': 'search',
    placeholder: 'key, name or description', autocomplete: 'off' });
  const tagSelect = h('select', { 'data-testid': 'filter-tag' });
  const stateSelect = h('select', { 'data-testid': 'filter-state' },
    [['', 'on and off'], ['on', 'on'], ['off', 'off']].map(([v, t]) => h('option', { value: v, selected: v === filters.state }, t)));
  const staleSelect = h('select', { 'data-testid': 'filter-stale' },
    [['', 'all'], ['stale', 'stale only'], ['fresh', 'not stale']].map(([v, t]) => h('option',
      { value: v, selected: v === filters.stale }, t)));

  function applyFilters() {
    let shown = 0;
    for (const flag of flags) {
      const row = rows.get(flag.key);
      const visible = flagMatches(flag, filters, env, evaluations.get(flag.key));
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    count.textContent = `${shown} of ${flags.length} flags`;
  }
  let searchTimer = null;
  search.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { filters.q = search.value.trim(); ctx.setQuery({ q: filters.q }); applyFilters(); }, 80);
  });
  tagSelect.addEventListener('change', () => { filters.tag = tagSelect.value; ctx.setQuery({ tag: filters.tag }); applyFilters(); });
  stateSelect.addEventListener('change', () => { filters.state = stateSelect.value;
    ctx.setQuery({ state: filters.state }); applyFilters(); });
  staleSelect.addEventListener('change', () => { filters.stale = staleSelect.value;
    ctx.setQuery({ stale: filters.stale }); applyFilters(); });

  const newButton = ctx.canWrite
    ? h('button', { type: 'button', class: 'primary', 'data-testid': 'new-flag', onclick: () => { createArea.hidden = !createArea.hidden;
      if (!createArea.hidden) createArea.querySelector('input').focus(); } }, 'New flag')
    : null;
  const createArea = ctx.canWrite ? createFlagForm(ctx) : h('div', {});
  createArea.hidden = true;

  replace(ctx.main,
    pageHeader(ctx, { title: 'Flags', env: true, actions: [newButton] }),
    createArea,
    h('div', { class: 'filters', role: 'search' },
      field('Search', search), field('Tag', tagSelect), field('State', stateSelect), field('Staleness', staleSelect)),
    count, errorArea,
    h('table', { class: 'table flags', 'data-testid': 'flags' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'On'), h('th', { scope: 'col' }, 'Flag'), h('th', { scope: 'col' }, 'Tags'),
        h('th', { scope: 'col' }, 'Serving'), h('th', { scope: 'col' }, 'Last evaluation'))),
      tbody));

  // Rows are kept across refreshes (live updates, insights): a changed flag updates its row's cells in place, so
  // the switch a person (or a test) holds stays the same element. Only added and removed flags add or drop rows.
  const byKey = new Map();       // key → latest flag object
  const flagsBase = ctx.href('/projects/:project/flags', { project: ctx.project.key });
  const envQuery = `?env=${encodeURIComponent(env)}`;
  const entries = new Map();     // key → {row, state, cells, text}

  function stateControl(flag) {
    const on = Boolean(flag.environments?.[env]?.on);
    // Readers get the state as text, not a control.
    return ctx.canWrite
      ? toggleSwitch({
        checked: on, label: `${flag.name} (${flag.key}) in ${env}`, testid: `toggle-${flag.key}`,
        onToggle: (next) => toggleFlag(ctx, byKey.get(flag.key), env, next),
      })
      : badge(on ? 'On' : 'Off', on ? 'ok' : '', undefined, `state-${flag.key}`);
  }

  function fill(entry, flag) {
    const t = flag.environments?.[env] || {};
    const on = Boolean(t.on);
    if (ctx.canWrite) setSwitch(entry.state, on);
    else { entry.state.textContent = on ? 'On' : 'Off'; entry.state.className = `badge ${on ? 'ok' : ''}`; }
    entry.state.setAttribute('aria-label', `${flag.name} (${flag.key}) in ${env}`);
    const serving = on
      ? (t.fallthrough?.rollout ? 'rollout' : variationLabel(flag, t.fallthrough?.variation))
      : variationLabel(flag, t.offVariation);
    replace(entry.cells.name,
      h('a', { href: `${flagsBase}/${encodeURIComponent(flag.key)}${envQuery}`, class: 'flag-name' }, flag.name),
      h('div', { class: 'mono muted small' }, flag.key),
      flag.description ? h('div', { class: 'muted small clamp' }, flag.description) : null);
    replace(entry.cells.tags, (flag.tags || []).map((tag) => badge(tag, 'tag')), flag.temporary ? badge('temporary', 'muted') : null);
    replace(entry.cells.serving, serving,
      (t.rules || []).length ? h('span', { class: 'muted' }, ` · ${t.rules.length} rule${t.rules.length > 1 ? 's' : ''}`) : null);
  }

  function fillEvaluation(entry, key) {
    const evaluation = evaluations.get(key);
    replace(entry.cells.evaluation,
      evaluation ? timeEl(evaluation.lastEvaluatedAt) : h('span', { class: 'muted' }, '…'),
      evaluation && evaluation.stale ? [' ', badge('stale', 'warn', STALE_REASONS[evaluation.stale.reason] || evaluation.stale.reason)]
        : null);
  }

  function entryFor(flag) {
    const cells = {
      name: h('td', {}), tags: h('td', {}), serving: h('td', { class: 'small' }),
      evaluation: h('td', { class: 'small', 'data-testid': `last-eval-${flag.key}` }),
    };
    const state = stateControl(flag);
    const row = h('tr', { 'data-testid': `flag-${flag.key}` }, h('td', {}, state), cells.name, cells.tags, cells.serving, cells.evaluation);
    const entry = { row, state, cells, text: JSON.stringify(flag) };
    fill(entry, flag);
    fillEvaluation(entry, flag.key);
    return entry;
  }

  function renderRows() {
    byKey.clear();
    for (const flag of flags) byKey.set(flag.key, flag);
    for (const [key, entry] of entries) if (!byKey.has(key)) { entry.row.remove(); entries.delete(key); rows.delete(key); }
    const fresh = [];
    for (const flag of flags) {
      const existing = entries.get(flag.key);
      if (!existing) {
        const entry = entryFor(flag);
        entries.set(flag.key, entry);
        rows.set(flag.key, entry.row);
        fresh.push(entry.row);
      } else {
        const text = JSON.stringify(flag);
        if (text !== existing.text) { existing.text = text; fill(existing, flag); }
      }
    }
    if (!entries.size) {
      replace(tbody, h('tr', {},
        h('td', { colspan: '5' }, empty(ctx.canWrite ? 'No flags yet: create the first one with "New flag".' : 'No flags yet.'))));
    } else if (fresh.length === entries.size) {
      replace(tbody, fragment(fresh));
    } else if (fresh.length) {
      // New flags among existing rows: put every row in key order (moving nodes keeps them the same elements).
      if (!tbody.querySelector('tr[data-testid]')) tbody.replaceChildren();
      for (const flag of flags) tbody.appendChild(entries.get(flag.key).row);
    }
    const tags = allTags(flags);
    replace(tagSelect, h('option', { value: '' }, 'any tag'), tags.map((t) => h('option', { value: t, selected: t === filters.tag }, t)));
    applyFilters();
  }

  function renderEvaluations() {
    for (const [key, entry] of entries) fillEvaluation(entry, key);
    applyFilters();
  }

  let shownFlags = null;
  async function loadFlags() {
    let request = null;
    if (ctx.prefetched && ctx.prefetched.env === env) { request = ctx.prefetched.promise; ctx.prefetched = null; }
    const { data } = await (request || ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${env}/flags`,
      { signal: ctx.signal }));
    const text = JSON.stringify(data.items);
    if (text === shownFlags) return;
    shownFlags = text;
    flags = data.items;
    renderRows();
  }
  let shownEvaluations = null;
  async function loadEvaluations() {
    try {
      const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${env}/flag-evaluations`,
        { signal: ctx.signal });
      const text = JSON.stringify(data.items);
      if (text === shownEvaluations) return;
      shownEvaluations = text;
      evaluations = new Map(data.items.map((f) => [f.key, { lastEvaluatedAt: f.lastEvaluatedAt ?? null, stale: f.stale ?? null }]));
      renderEvaluations();
    } catch (e) {
      if (e.name !== 'AbortError') replace(errorArea, errorBox(e));
    }
  }
  await loadFlags();
  performance.mark('vane:flags-interactive');
  loadEvaluations();
  ctx.onChange(async () => { await loadFlags(); });
  const timer = setInterval(loadEvaluations, 30000);
  ctx.signal.addEventListener('abort', () => clearInterval(timer));

  // The switch's state follows the server: after a toggle the live update re-renders the rows.
  ctx.main.addEventListener('vane:flag-toggled', () => { loadFlags().catch(() => {}); }, { signal: ctx.signal });
}

async function toggleFlag(ctx, flag, env, next) {
  const envName = ctx.project.environments.find((e) => e.key === env)?.name || env;
  const answer = await confirmDialog({
    title: `Turn ${flag.name} ${next ? 'on' : 'off'} in ${envName}?`,
    message: next ? 'Contexts get the targeting\'s result again within a second.'
      : `Every context gets the off variation (${variationLabel(flag, flag.environments?.[env]?.offVariation)}) within a second.`,
    confirmLabel: next ? 'Turn on' : 'Turn off', danger: !next, withComment: true,
  });
  if (!answer) return false;
  const version = flag.environments?.[env]?.version;
  try {
    const { data } = await ctx.api.patch(ctx.path`/projects/${ctx.project.key}/flags/${flag.key}/environments/${env}`, { on: next },
      { ifMatch: version, comment: answer.comment || undefined });
    flag.environments[env] = { ...flag.environments[env], ...data };
    notify(`${flag.name} is ${next ? 'on' : 'off'} in ${envName}`);
    return true;
  } catch (e) {
    notify(e.readable || e.message, 'error');
    if (e.status === 412) ctx.main.dispatchEvent(new CustomEvent('vane:flag-toggled'));
    return false;
  }
}

function createFlagForm(ctx) {
  const key = h('input', { type: 'text', required: true, 'data-testid': 'flag-key', autocomplete: 'off',
    pattern: '[A-Za-z0-9._\\-]{1,256}' });
  const name = h('input', { type: 'text', required: true, 'data-testid': 'flag-name', autocomplete: 'off' });
  const description = h('input', { type: 'text', 'data-testid': 'flag-description', autocomplete: 'off' });
  const kind = h('select', { 'data-testid': 'flag-type' },
    [['boolean', 'Boolean (true / false)'], ['string', 'String'], ['number', 'Number'],
      ['json', 'JSON']].map(([v, t]) => h('option', { value: v }, t)));
  const values = h('textarea', { rows: '3', 'data-testid': 'flag-variations', placeholder: 'one value per line' });
  const valuesField = field('Variations', values, 'One value per line (JSON for the JSON type)');
  valuesField.hidden = true;
  kind.addEventListener('change', () => { valuesField.hidden = kind.value === 'boolean'; });
  const tags = h('input', { type: 'text', 'data-testid': 'flag-tags', autocomplete: 'off', placeholder: 'checkout, q4' });
  const temporary = h('input', { type: 'checkbox', checked: true, 'data-testid': 'flag-temporary' });
  const status = h('div', {});
  const form = h('form', { class: 'stack-form' },
    h('div', { class: 'inline-form' }, field('Key', key, 'Never changes; what SDKs ask for'), field('Name', name), field('Type', kind)),
    field('Description', description), valuesField, field('Tags', tags, 'Comma-separated'),
    h('label', { class: 'checkbox' }, temporary, ' Temporary (a release flag to remove later)'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-flag' }, 'Create flag')), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    let variations;
    try {
      variations = variationsFrom(kind.value, values.value);
    } catch (e) { replace(status, errorBox(e)); return; }
    const body = {
      key: key.value.trim(), name: name.value.trim(), description: description.value.trim(), variations,
      tags: tags.value.split(',').map((t) => t.trim()).filter(Boolean), temporary: temporary.checked,
    };
    try {
      await ctx.api.post(ctx.path`/projects/${ctx.project.key}/flags`, body);
      notify(`Flag ${body.name} created (off in every environment)`);
      ctx.navigate(ctx.href('/projects/:project/flags/:flag', { project: ctx.project.key, flag: body.key }, { env: ctx.env }));
    } catch (e) { replace(status, errorBox(e)); }
  });
  return section('New flag', form);
}

/** Variations from the create form: booleans, or one value per line of the chosen type. */
export function variationsFrom(kind, text) {
  if (kind === 'boolean') return [{ value: true, name: 'on' }, { value: false, name: 'off' }];
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length < 1) throw new Error('Give at least one variation, one per line');
  return lines.map((line, i) => {
    if (kind === 'string') return { value: line };
    if (kind === 'number') {
      const n = Number(line);
      if (!Number.isFinite(n)) throw new Error(`Line ${i + 1} is not a number`);
      return { value: n };
    }
    try {
      const v = JSON.parse(line);
      if (v === null || typeof v !== 'object') throw new Error('not an object');
      return { value: v };
    } catch { throw new Error(`Line ${i + 1} is not a JSON object or array`); }
  });
}
