// /ui/projects/{p}/experiments/{x}?iteration=N&view=frequentist|sequential|bayesian: one experiment: start and stop
// (writers), the iteration, and per metric a table (n, mean, lift, interval, p-value, chance to win), an SVG chart of
// relative lift with its interval per variation, and a sample ratio mismatch warning when srmPValue < 0.001.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { timeEl, badge } from '../components/widgets.js';
import { liftChart } from '../components/liftchart.js';
import { variationLabel } from '../flagmodel.js';
import {
  VIEWS, hasSRM, statsFor, percent, share, pValueText, meanText, ciText, verdict,
} from '../experimentmodel.js';
import { statusBadge } from './experiments.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/experiments/:experiment',
  title: (ctx) => `Experiment ${ctx.params.experiment} · ${ctx.project.name}`,
  render,
};

const VERDICT_TEXT = { better: 'better', worse: 'worse', inconclusive: 'not clear yet' };

async function render(ctx) {
  useFeatureStyles();
  const url = ctx.path`/projects/${ctx.project.key}/experiments/${ctx.params.experiment}`;
  let view = VIEWS.some(([v]) => v === ctx.query.get('view')) ? ctx.query.get('view') : 'frequentist';
  const header = h('div', {});
  const status = h('div', {});
  const results = h('div', { 'data-testid': 'experiment-results' });
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Analysis' });
  let experiment;
  let flag = { variations: [] };
  let lastResults = null;

  function renderTabs() {
    replace(tabs, VIEWS.map(([v, label]) => h('button', {
      type: 'button', role: 'tab', 'aria-selected': v === view ? 'true' : 'false', 'data-testid': `view-${v}`,
      tabindex: v === view ? '0' : '-1',
      onclick: () => { view = v; ctx.setQuery({ view: v }); renderTabs(); if (lastResults) showResults(lastResults); },
      onkeydown: (event) => {
        const i = VIEWS.findIndex(([x]) => x === view);
        const next = event.key === 'ArrowRight' ? (i + 1) % VIEWS.length : event.key === 'ArrowLeft'
          ? (i + VIEWS.length - 1) % VIEWS.length : -1;
        if (next >= 0) { view = VIEWS[next][0]; ctx.setQuery({ view }); renderTabs(); if (lastResults) showResults(lastResults);
          tabs.querySelector('[aria-selected="true"]').focus(); }
      },
    }, label)));
  }

  const label = (v) => `${v.variation}: ${variationLabel(flag, v.variation)}`;

  function metricSection(metric) {
    const [control, ...treatments] = metric.variations;
    const higher = experiment.metrics.find((m) => m.key === metric.key)?.higherIsBetter !== false;
    const srm = hasSRM(metric)
      ? h('div', { class: 'error-box', role: 'alert', 'data-testid': 'srm-warning' },
        `Sample ratio mismatch (p ${pValueText(metric.srmPValue).startsWith('<') ? '' : '= '}${pValueText(metric.srmPValue)}): `
        + 'contexts are not split over the variations as the traffic weights say. '
        + 'Assignment or event collection is broken somewhere; do not trust these results until it is fixed.')
      : null;
    const pHeader = view === 'bayesian' ? 'Risk (control / variation)' : 'p-value';
    const rows = [control, ...treatments].filter(Boolean).map((v) => {
      const isControl = v === control;
      const st = statsFor(v, view);
      const kind = isControl ? null : verdict(v, view, higher);
      return h('tr', { 'data-testid': `result-${metric.key}-${v.variation}` },
        h('th', { scope: 'row' }, label(v), isControl ? [' ', badge('control', 'tag')] : null),
        h('td', { class: 'num', 'data-testid': 'n' }, String(v.n)),
        h('td', { class: 'num' }, meanText(v.mean, metric.type)),
        h('td', { class: 'num', 'data-testid': 'lift' }, isControl ? '—' : percent(v.relativeLift)),
        h('td', { class: 'num', 'data-testid': 'ci' }, isControl ? '—' : ciText(st.ci)),
        h('td', { class: 'num', 'data-testid': 'p' }, isControl ? '—' : view === 'bayesian'
          ? (st.risk ? `${share(st.risk[0], 2)} / ${share(st.risk[1], 2)}` : '—') : pValueText(st.pValue)),
        h('td', { class: 'num', 'data-testid': 'ctw' }, isControl ? '—' : share(st.chanceToWin)),
        h('td', {}, kind ? badge(VERDICT_TEXT[kind], kind === 'better' ? 'ok' : kind === 'worse' ? 'danger' : '') : '—'));
    });
    return h('section', { class: 'card', 'data-testid': `metric-${metric.key}` },
      h('h2', {}, metric.key, ' ', h('span', { class: 'small muted' }, `${metric.type}${higher ? '' : ', lower is better'}`)),
      srm,
      h('table', { class: 'table results' },
        h('thead', {}, h('tr', {}, ['Variation', 'n', 'Mean', 'Lift', `${view === 'bayesian' ? 'Credible' : 'Confidence'} interval`,
          pHeader, 'Chance to win', '']
          .map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)),
      treatments.length ? liftChart({ variations: treatments, view, label, higherIsBetter: higher,
        title: `${metric.key}: relative lift (${view})` }) : null);
  }

  function showResults(data) {
    lastResults = data;
    replace(results,
      h('p', { class: 'muted small' }, `Iteration ${data.iteration.number}: `, timeEl(data.iteration.start), ' to ',
        data.iteration.stop ? timeEl(data.iteration.stop) : 'now (running)', ' · computed ', timeEl(data.updatedAt)),
      view === 'sequential' ? h('p', { class: 'small muted' }, 'Sequential: valid however often you look; stop as soon as p < 0.05.')
        : null,
      view === 'frequentist' ? h('p', { class: 'small muted' },
        'Frequentist (Welch): valid once, at a sample size fixed in advance. '
        + 'Peeking inflates false positives: use the sequential view to decide early.') : null,
      view === 'bayesian' ? h('p', { class: 'small muted' },
        'Bayesian: chance to win is the probability that the variation beats the control; risk is the expected loss of choosing it.')
          : null,
      data.metrics.map(metricSection));
  }

  async function loadResults() {
    if (!experiment.iteration) {
      replace(results, h('p', { class: 'muted' }, ctx.canWrite ? 'Not started yet: start it to collect results.' : 'Not started yet.'));
      return;
    }
    const iteration = ctx.query.get('iteration');
    try {
      const { data } = await ctx.api.get(`${url}/results`, { query: { iteration }, signal: ctx.signal });
      showResults(data);
    } catch (error) {
      if (error.name !== 'AbortError') replace(results, errorBox(error));
    }
  }

  async function action(which) {
    const starting = which === 'start';
    const answer = await confirmDialog({
      title: `${starting ? 'Start' : 'Stop'} ${experiment.name}?`,
      message: starting ? 'A new iteration opens now; contexts exposed from now on count in it.'
        : 'The running iteration closes now; its results stay readable.',
      confirmLabel: starting ? 'Start' : 'Stop', danger: !starting,
    });
    if (!answer) return;
    try {
      await ctx.api.post(`${url}/${which}`, {});
      notify(starting ? 'Experiment started' : 'Experiment stopped');
      ctx.setQuery({ iteration: null });
      await load();
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  async function load() {
    const [{ data }, iterations] = await Promise.all([
      ctx.api.get(url, { signal: ctx.signal }),
      ctx.api.get(`${url}/iterations`, { signal: ctx.signal }).then((r) => r.data.items || r.data, () => []),
    ]);
    experiment = data;
    try {
      ({ data: flag } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags/${experiment.flagKey}`, { signal: ctx.signal }));
    } catch { flag = { variations: [] }; }
    const actions = [];
    if (ctx.canWrite) {
      if (experiment.status === 'running') actions.push(h('button', { type: 'button', class: 'danger', 'data-testid': 'experiment-stop',
        onclick: () => action('stop') }, 'Stop'));
      else actions.push(h('button', { type: 'button', class: 'primary', 'data-testid': 'experiment-start', onclick: () => action('start') },
        experiment.iteration ? 'Start a new iteration' : 'Start'));
    }
    const picker = Array.isArray(iterations) && iterations.length > 1
      ? field('Iteration', h('select', {
        'data-testid': 'iteration',
        onchange: (event) => { ctx.setQuery({ iteration: event.target.value || null }); loadResults(); },
      }, iterations.slice().reverse().map((it, i) => h('option', {
        value: i === 0 ? '' : String(it.number), selected: String(it.number) === ctx.query.get('iteration'),
      }, `#${it.number}${it.stop ? '' : ' (running)'}`))))
      : null;
    replace(header, pageHeader(ctx, { title: experiment.name, subtitle: `Experiment ${experiment.key}`, actions }),
      h('p', {}, statusBadge(experiment.status), ' Flag ',
        h('a', { href: ctx.href('/projects/:project/flags/:flag', { project: ctx.project.key, flag: experiment.flagKey },
          { env: experiment.environmentKey }) }, experiment.flagKey),
        ` in ${experiment.environmentKey}, control ${experiment.controlVariation}: ${variationLabel(flag, experiment.controlVariation)}`),
      experiment.description ? h('p', { class: 'muted' }, experiment.description) : null, picker);
    await loadResults();
  }

  renderTabs();
  replace(ctx.main, header, status, h('div', { class: 'row' }, tabs), results);
  await load();
  ctx.onChange(load);
}
