// /ui/projects/{p}/experiments: the project's experiments (status, flag, environment, current iteration) and, for
// writers, a form that creates one.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { badge, empty, timeEl } from '../components/widgets.js';
import { variationLabel } from '../flagmodel.js';
import { parseMetrics } from '../experimentmodel.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/experiments',
  title: (ctx) => `Experiments · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Experiments', id: 'experiments', order: 30, matches: ['/projects/:project/experiments/:experiment'] },
  render,
};

export function statusBadge(status) {
  return badge(status, status === 'running' ? 'ok' : status === 'stopped' ? '' : 'tag', undefined, 'experiment-status');
}

async function render(ctx) {
  useFeatureStyles();
  const listArea = h('div', { 'data-testid': 'experiment-list' });
  const href = (key) => ctx.href('/projects/:project/experiments/:experiment', { project: ctx.project.key, experiment: key });

  async function load() {
    try {
      const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/experiments`, { signal: ctx.signal });
      if (!data.items.length) { replace(listArea, empty('No experiments yet.')); return; }
      replace(listArea, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Experiment', 'Status', 'Flag', 'Environment', 'Metrics',
          'Iteration'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, data.items.map((x) => h('tr', { 'data-testid': `experiment-${x.key}` },
          h('td', {}, h('a', { href: href(x.key) }, x.name), h('div', { class: 'small muted mono' }, x.key)),
          h('td', {}, statusBadge(x.status)),
          h('td', { class: 'mono' }, x.flagKey), h('td', { class: 'mono' }, x.environmentKey),
          h('td', {}, x.metrics.map((m) => m.key).join(', ')),
          h('td', {}, x.iteration ? [`#${x.iteration.number} since `, timeEl(x.iteration.start)] : '—'))))));
    } catch (error) {
      if (error.name !== 'AbortError') replace(listArea, errorBox(error));
    }
  }

  let create = null;
  if (ctx.canWrite) {
    let flags = [];
    try {
      ({ data: { items: flags } } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags`, { signal: ctx.signal }));
    } catch { flags = []; }
    flags = flags.filter((f) => (f.variations || []).length >= 2);
    const key = h('input', { type: 'text', required: true, 'data-testid': 'new-experiment-key', autocomplete: 'off',
      placeholder: 'checkout-test' });
    const name = h('input', { type: 'text', required: true, 'data-testid': 'new-experiment-name', autocomplete: 'off',
      placeholder: 'New checkout' });
    const description = h('input', { type: 'text', 'data-testid': 'new-experiment-description', autocomplete: 'off' });
    const flag = h('select', { 'data-testid': 'new-experiment-flag', required: true },
      flags.map((f) => h('option', { value: f.key }, `${f.name} (${f.key})`)));
    const env = h('select', { 'data-testid': 'new-experiment-env' },
      ctx.project.environments.map((e) => h('option', { value: e.key, selected: e.key === ctx.env }, `${e.name} (${e.key})`)));
    const control = h('select', { 'data-testid': 'new-experiment-control' });
    const metrics = h('textarea', { rows: '3', 'data-testid': 'new-experiment-metrics', spellcheck: 'false',
      placeholder: 'purchase proportion\nrevenue mean\nsupport-ticket proportion lower' });
    const weights = h('input', { type: 'text', 'data-testid': 'new-experiment-weights', autocomplete: 'off',
      placeholder: 'equal (e.g. 50, 50)' });
    const problem = h('div', {});
    const fillControl = () => {
      const f = flags.find((x) => x.key === flag.value);
      replace(control, (f?.variations || []).map((_, i) => h('option', { value: String(i) }, `${i}: ${variationLabel(f, i)}`)));
    };
    flag.addEventListener('change', fillControl);
    fillControl();
    create = h('form', { class: 'stack-form', 'data-testid': 'new-experiment' },
      h('div', { class: 'inline-form' }, field('Key', key), field('Name', name), field('Description', description)),
      h('div', { class: 'inline-form' }, field('Flag', flag), field('Environment', env), field('Control variation', control)),
      field('Metrics (one per line: event key, proportion or mean, and "lower" when lower is better)', metrics),
      field('Traffic weights (optional)', weights, 'the expected split per variation, for the sample ratio check'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-experiment' },
        'Create experiment')), problem);
    create.addEventListener('submit', async (event) => {
      event.preventDefault();
      replace(problem);
      const parsed = parseMetrics(metrics.value);
      if (parsed.problems.length) { replace(problem, errorBox(new Error(`Metrics: ${parsed.problems.join('; ')}`))); return; }
      const body = {
        key: key.value.trim(), name: name.value.trim(), description: description.value.trim(), flagKey: flag.value,
        environmentKey: env.value, controlVariation: Number(control.value), metrics: parsed.metrics,
      };
      if (weights.value.trim()) body.trafficWeights = weights.value.split(/[,\s]+/).filter(Boolean).map(Number);
      try {
        await ctx.api.post(ctx.path`/projects/${ctx.project.key}/experiments`, body);
        notify('Experiment created');
        ctx.navigate(href(body.key));
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    if (!flags.length) create = empty('Experiments compare the variations of a flag: create a flag with at least two variations first.');
  }

  replace(ctx.main, pageHeader(ctx, { title: 'Experiments', subtitle: 'Compare the variations of a flag on metrics from SDK events.' }),
    create ? section('New experiment', create) : null, section('All experiments', listArea));
  await load();
  ctx.onChange(load);
}
