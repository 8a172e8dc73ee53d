// /ui/projects/{p}/flags?env={e}: the project's flags in one environment, with search and filters (kept in
// the URL), an on/off switch per flag (confirmation and an optional audit comment; If-Match against the
// targeting version), each flag's last evaluation and a stale badge (insights API).
import { h, field, replace, fragment } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { toggleSwitch, badge, timeEl, empty } from '../components/widgets.js';
import { flagMatches, allTags, STALE_REASONS, variationLabel } from '../flagmodel.js';

export default {
  path: '/projects/:project/flags',
  title: (ctx) => `Flags · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Flags', order: 10, matches: ['/projects/:project/flags/:flag'] },
  render,
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

  const search = h('input', { type: 'search', value: filters.q, 'data-testid': 'search', placeholder: 'key, name or description', autocomplete: 'off' });
  const tagSelect = h('select', { 'data-testid': 'filter-tag' });
  const stateSelect = h('select', { 'data-testid': 'filter-state' },
    [['', 'on and off'], ['on', 'on'], ['off', 'off']].map(([v, t]) => h('option', { value: v, selected: v === filters.state }, t)));
  const staleSelect = h('select', { 'data-testid': 'filter-stale' },
    [['', 'all'], ['stale', 'stale only'], ['fresh', 'not stale']].map(([v, t]) => h('option', { value: v, selected: v === filters.stale }, t)));

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
  stateSelect.addEventListener('change', () => { filters.state = stateSelect.value; ctx.setQuery({ state: filters.state }); applyFilters(); });
  staleSelect.addEventListener('change', () => { filters.stale = staleSelect.value; ctx.setQuery({ stale: filters.stale }); applyFilters(); });

  const newButton = ctx.canWrite
    ? h('button', { type: 'button', class: 'primary', 'data-testid': 'new-flag', onclick: () => { createArea.hidden = !createArea.hidden; if (!createArea.hidden) createArea.querySelector('input').focus(); } }, 'New flag')
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

  function row(flag) {
    const t = flag.environments?.[env] || {};
    const evaluation = evaluations.get(flag.key);
    // Readers get the state as text, not a control.
    const toggle = ctx.canWrite
      ? toggleSwitch({
        checked: Boolean(t.on), label: `${flag.name} (${flag.key}) in ${env}`, testid: `toggle-${flag.key}`,
        onToggle: (next) => toggleFlag(ctx, flag, env, next),
      })
      : badge(t.on ? 'On' : 'Off', t.on ? 'ok' : '', undefined, `state-${flag.key}`);
    const serving = t.on
      ? (t.fallthrough?.rollout ? 'rollout' : variationLabel(flag, t.fallthrough?.variation))
      : variationLabel(flag, t.offVariation);
    return h('tr', { 'data-testid': `flag-${flag.key}` },
      h('td', {}, toggle),
      h('td', {},
        h('a', { href: ctx.href('/projects/:project/flags/:flag', { project: ctx.project.key, flag: flag.key }, { env }), class: 'flag-name' }, flag.name),
        h('div', { class: 'mono muted small' }, flag.key),
        flag.description ? h('div', { class: 'muted small clamp' }, flag.description) : null),
      h('td', {}, (flag.tags || []).map((tag) => badge(tag, 'tag')), flag.temporary ? badge('temporary', 'muted') : null),
      h('td', { class: 'small' }, serving, (t.rules || []).length ? h('span', { class: 'muted' }, ` · ${t.rules.length} rule${t.rules.length > 1 ? 's' : ''}`) : null),
      h('td', { class: 'small', 'data-testid': `last-eval-${flag.key}` },
        evaluation ? timeEl(evaluation.lastEvaluatedAt) : h('span', { class: 'muted' }, '…'),
        evaluation && evaluation.stale ? [' ', badge('stale', 'warn', STALE_REASONS[evaluation.stale.reason] || evaluation.stale.reason)] : null));
  }

  function renderRows() {
    const focusedId = document.activeElement?.getAttribute?.('data-testid');
    rows.clear();
    const built = flags.map((flag) => { const r = row(flag); rows.set(flag.key, r); return r; });
    replace(tbody, fragment(built));
    const tags = allTags(flags);
    replace(tagSelect, h('option', { value: '' }, 'any tag'), tags.map((t) => h('option', { value: t, selected: t === filters.tag }, t)));
    applyFilters();
    if (!flags.length) replace(tbody, h('tr', {}, h('td', { colspan: '5' }, empty(ctx.canWrite ? 'No flags yet: create the first one with "New flag".' : 'No flags yet.'))));
    if (focusedId) { const again = ctx.main.querySelector(`[data-testid="${CSS.escape(focusedId)}"]`); if (again) again.focus(); }
  }

  async function loadFlags() {
    const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags`, { signal: ctx.signal });
    flags = data.items;
    renderRows();
  }
  async function loadEvaluations() {
    try {
      const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${env}/flag-evaluations`, { signal: ctx.signal });
      evaluations = new Map(data.items.map((f) => [f.key, { lastEvaluatedAt: f.lastEvaluatedAt ?? null, stale: f.stale ?? null }]));
      renderRows();
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
    message: next ? 'Contexts get the targeting\'s result again within a second.' : `Every context gets the off variation (${variationLabel(flag, flag.environments?.[env]?.offVariation)}) within a second.`,
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
  const key = h('input', { type: 'text', required: true, 'data-testid': 'flag-key', autocomplete: 'off', pattern: '[A-Za-z0-9._\\-]{1,256}' });
  const name = h('input', { type: 'text', required: true, 'data-testid': 'flag-name', autocomplete: 'off' });
  const description = h('input', { type: 'text', 'data-testid': 'flag-description', autocomplete: 'off' });
  const kind = h('select', { 'data-testid': 'flag-type' },
    [['boolean', 'Boolean (true / false)'], ['string', 'String'], ['number', 'Number'], ['json', 'JSON']].map(([v, t]) => h('option', { value: v }, t)));
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
