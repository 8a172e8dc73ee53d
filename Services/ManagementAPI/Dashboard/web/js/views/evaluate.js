// /ui/projects/{p}/evaluate?env={e}: evaluate every flag of an environment for one context, on the server
// (POST /environments/{e}/evaluate, the evaluator SDKs and the relay use). The context is built in a form (kind, key,
// name, attributes) or pasted as JSON; the two stay in step. Every value of the context and of the results is
// rendered as text. The context stays in this tab's memory only (it may hold personal data): never in the URL.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox } from '../components/notice.js';
import { badge, empty } from '../components/widgets.js';
import { variationLabel } from '../flagmodel.js';
import { buildContext, builderFrom, parseContext, contextRows, reasonText } from '../evaluatemodel.js';
import { useFeatureStyles } from '../featurestyle.js';

// The last context per project, so switching the environment (which re-renders) keeps it.
const drafts = new Map();

export default {
  path: '/projects/:project/evaluate',
  title: (ctx) => `Evaluate · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Evaluate', id: 'evaluate', order: 60 },
  render,
};

async function render(ctx) {
  useFeatureStyles();
  const projectKey = ctx.project.key;
  const initial = drafts.get(projectKey) || { kind: 'user', key: '', name: '', anonymous: false, attributes: [{ name: '', value: '' }] };
  const state = { ...initial, attributes: initial.attributes.map((a) => ({ ...a })) };

  const kind = h('input', { type: 'text', value: state.kind, 'data-testid': 'ctx-kind', autocomplete: 'off' });
  const key = h('input', { type: 'text', value: state.key, 'data-testid': 'ctx-key', autocomplete: 'off' });
  const name = h('input', { type: 'text', value: state.name, 'data-testid': 'ctx-name', autocomplete: 'off' });
  const attrList = h('div', { class: 'attr-list' });
  const json = h('textarea', { rows: '8', class: 'mono', 'data-testid': 'ctx-json', spellcheck: 'false' });
  const jsonNote = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const results = h('div', { 'data-testid': 'eval-results' });
  const contextView = h('div', {});

  function syncJSON() {
    state.kind = kind.value; state.key = key.value; state.name = name.value;
    json.value = JSON.stringify(buildContext(state), null, 2);
    drafts.set(projectKey, state);
  }

  function renderAttributes() {
    replace(attrList, state.attributes.map((a, i) => {
      const n = h('input', { type: 'text', value: a.name, 'aria-label': `Attribute ${i + 1} name`, 'data-testid': `attr-${i}-name`,
        placeholder: 'e.g. plan', autocomplete: 'off' });
      const v = h('input', { type: 'text', value: a.value, 'aria-label': `Attribute ${i + 1} value`, 'data-testid': `attr-${i}-value`,
        placeholder: 'pro, 42, true or JSON', autocomplete: 'off' });
      n.addEventListener('input', () => { a.name = n.value; syncJSON(); });
      v.addEventListener('input', () => { a.value = v.value; syncJSON(); });
      return h('div', { class: 'row' }, n, ' = ', v,
        h('button', { type: 'button', class: 'small', 'data-testid': `attr-${i}-delete`, onclick: () => { state.attributes.splice(i, 1);
          renderAttributes(); syncJSON(); } }, 'Remove'));
    }), h('button', {
      type: 'button', class: 'small', 'data-testid': 'add-attribute',
      onclick: () => { state.attributes.push({ name: '', value: '' }); renderAttributes(); },
    }, 'Add attribute'));
  }

  for (const input of [kind, key, name]) input.addEventListener('input', syncJSON);
  // Pasting JSON fills the builder when it is a single-kind context; a multi-kind one is evaluated as pasted.
  json.addEventListener('input', () => {
    const parsed = parseContext(json.value);
    if (parsed.error) { jsonNote.textContent = parsed.error; return; }
    const fields = builderFrom(parsed.context);
    if (fields) {
      Object.assign(state, fields);
      if (!state.attributes.length) state.attributes.push({ name: '', value: '' });
      kind.value = state.kind; key.value = state.key; name.value = state.name;
      renderAttributes();
      jsonNote.textContent = '';
    } else {
      jsonNote.textContent = 'A multi-kind context: evaluated as pasted (the form shows single-kind contexts).';
    }
  });

  let flagsByKey = new Map();
  async function loadFlags() {
    try {
      const { data } = await ctx.api.get(ctx.path`/projects/${projectKey}/flags`, { signal: ctx.signal });
      flagsByKey = new Map(data.items.map((f) => [f.key, f]));
    } catch { flagsByKey = new Map(); }
  }

  let lastContext = null;
  async function evaluate() {
    const parsed = parseContext(json.value);
    if (parsed.error) { replace(results, errorBox(new Error(parsed.error))); return; }
    lastContext = parsed.context;
    replace(results, h('p', { class: 'loading', role: 'status' }, 'Evaluating…'));
    try {
      const [{ data }] = await Promise.all([
        ctx.api.post(ctx.path`/projects/${projectKey}/environments/${ctx.env}/evaluate`, parsed.context, { signal: ctx.signal }),
        flagsByKey.size ? null : loadFlags(),
      ]);
      showResults(data);
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(results, errorBox(error));
    }
  }

  function showResults(data) {
    replace(contextView, section('Context as evaluated',
      h('table', { class: 'table', 'data-testid': 'eval-context' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'Attribute'),
          h('th', { scope: 'col' }, 'Value'))),
        h('tbody', {}, contextRows(data.context).map((r) => h('tr', {}, h('td', {}, r.kind), h('td', { class: 'mono' }, r.name),
          h('td', { class: 'mono' }, r.value)))))));
    if (!data.items.length) { replace(results, empty('This environment has no flags yet.')); return; }
    replace(results, h('table', { class: 'table eval-table' },
      h('caption', { class: 'sr-only' }, `Every flag of ${ctx.env} for this context`),
      h('thead', {}, h('tr', {}, ['Flag', 'Value', 'Variation', 'Reason'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, data.items.map((item) => {
        const flag = flagsByKey.get(item.key) || { key: item.key, variations: [] };
        const href = ctx.href('/projects/:project/flags/:flag', { project: projectKey, flag: item.key }, { env: ctx.env });
        return h('tr', { 'data-testid': `eval-${item.key}` },
          h('td', {}, h('a', { href }, flag.name || item.key), h('div', { class: 'small muted mono' }, item.key)),
          h('td', { class: 'mono', 'data-testid': `eval-${item.key}-value` },
            item.variation === null ? 'SDK default' : JSON.stringify(item.value)),
          h('td', {}, item.variation === null ? '—' : `${item.variation}: ${variationLabel(flag, item.variation)}`),
          h('td', { 'data-testid': `eval-${item.key}-reason` },
            badge(item.reason.kind, item.reason.kind === 'ERROR' ? 'danger' : item.reason.kind === 'OFF' ? '' : 'ok'),
            ' ', reasonText(item.reason), item.reason.inExperiment ? [' ', badge('in experiment', 'warn')] : null));
      }))));
  }

  const form = h('form', { class: 'stack-form', 'data-testid': 'eval-form', novalidate: true },
    h('div', { class: 'inline-form' }, field('Context kind', kind), field('Key', key), field('Name (optional)', name)),
    h('h3', {}, 'Attributes'), attrList,
    field('Context JSON (edit or paste; a multi-kind context too)', json,
      'LaunchDarkly context format: {"kind": "user", "key": "…", "plan": "pro"}'),
    jsonNote,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'evaluate' }, 'Evaluate')));
  form.addEventListener('submit', (event) => { event.preventDefault(); evaluate(); });

  renderAttributes();
  syncJSON();
  replace(ctx.main,
    pageHeader(ctx, { title: 'Evaluate as a context', subtitle: 'Every flag of this environment, evaluated on the server for one context.',
      env: true }),
    section('Context', form), contextView, section(`Flags in ${ctx.env}`, results));
  // Live updates: evaluate again with the same context when anything changed.
  ctx.onChange(async () => { if (lastContext) { flagsByKey = new Map(); await evaluate(); } });
  if (state.key) await evaluate();
}
