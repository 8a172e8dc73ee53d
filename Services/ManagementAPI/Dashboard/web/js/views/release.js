// /ui/projects/{p}/releases/{flag}?env={e}: the releases of one flag in one environment:
// - the current rollout: a step timeline, the percentage served the new variation, pause / resume / roll back, and
//   for a guarded rollout the guard's latest look with its numbers (arms, difference, interval, p-value);
// - a form that starts a progressive rollout (variation, steps and holds, optional guard);
// - scheduled changes: create (turn on/off, change the default variation, or any targeting patch), list with status,
//   cancel; and the history of rollouts.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { timeEl, badge, empty } from '../components/widgets.js';
import { variationLabel } from '../flagmodel.js';
import { pValueText, percent } from '../experimentmodel.js';
import {
  parseSteps, stepsText, STEP_PRESETS, durationText, timeline, isActive, changePatch, patchText,
} from '../releasemodel.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/releases/:flag',
  title: (ctx) => `Releases of ${ctx.params.flag} · ${ctx.project.name}`,
  render,
};

const STATUS_KIND = { running: 'ok', paused: 'warn', completed: 'ok', rolled_back: 'danger', cancelled: '', pending: 'warn',
  applied: 'ok', failed: 'danger' };

function number(x, digits = 4) { return typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : '—'; }

async function render(ctx) {
  useFeatureStyles();
  const base = ctx.path`/projects/${ctx.project.key}/flags/${ctx.params.flag}/environments/${ctx.env}`;
  const { data: flag } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags/${ctx.params.flag}`, { signal: ctx.signal });
  const label = (i) => `${i}: ${variationLabel(flag, i)}`;
  const currentArea = h('div', { 'data-testid': 'rollout-current' });
  const startArea = h('div', {});
  const historyArea = h('div', {});
  const changesArea = h('div', { 'data-testid': 'scheduled-changes' });
  const status = h('div', {});
  let startFormShown = false;
  let currentRollout = null;
  let lastShown = null;

  function guardPanel(rollout) {
    if (!rollout.guard) return null;
    const g = rollout.guard;
    const d = rollout.decision;
    const arm = (name, a) => h('tr', {}, h('th', { scope: 'row' }, name), h('td', { class: 'num' }, a ? String(a.n) : '—'),
      h('td', { class: 'num' }, a ? number(a.sum) : '—'), h('td', { class: 'num' }, a ? number(a.mean) : '—'));
    return h('div', { class: 'card sub', 'data-testid': 'guard' },
      h('h3', {}, 'Guard ', d ? badge(d.action, d.action === 'rollback' ? 'danger' : d.action === 'proceed' ? 'ok' : 'warn', undefined,
        'guard-action') : badge('no look yet', '')),
      h('p', { class: 'small' },
        `Metric ${g.metric} (${g.type}, ${g.higherIsBetter === false ? 'lower' : 'higher'} is better), alpha ${g.alpha ?? 0.05}, `
        + `at least ${g.minContexts ?? 100} contexts per arm. Rolls back when the new variation is significantly worse.`),
      d ? [
        h('table', { class: 'table compact' },
          h('thead', {}, h('tr', {}, ['Arm', 'Contexts', 'Sum', 'Mean'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, arm(`control ${label(rollout.controlVariation)}`, d.control),
            arm(`new ${label(rollout.variation)}`, d.treatment))),
        h('p', { class: 'small', 'data-testid': 'guard-numbers' },
          `Difference ${number(d.difference)}`, d.ci ? ` [${number(d.ci[0])}, ${number(d.ci[1])}]` : '',
          ` · relative lift ${percent(d.relativeLift)} · p-value ${pValueText(d.pValue)} · looked `, timeEl(d.evaluatedAt)),
        d.reason ? h('p', { class: 'small muted' }, d.reason) : null,
      ] : null);
  }

  function timelineView(rollout) {
    return h('ol', { class: 'timeline', 'data-testid': 'rollout-timeline' },
      timeline(rollout).map((s) => h('li', { class: `step ${s.state}`, 'data-testid': `rollout-step-${s.n}`, 'data-state': s.state },
      h('strong', {}, `${s.percent} %`),
      h('span', { class: 'small muted' }, s.n === rollout.steps.length ? 'final' : `hold ${durationText(s.holdSeconds)}`),
      h('span', { class: 'small' }, { done: 'done', current: 'now', pending: 'next', skipped: 'skipped',
        stopped: 'stopped here' }[s.state]))));
  }

  async function command(which) {
    const rollback = which === 'rollback';
    const answer = await confirmDialog({
      title: { pause: 'Pause the rollout?', resume: 'Resume the rollout?', rollback: 'Roll back?' }[which],
      message: rollback && currentRollout
        ? `The default rule serves ${label(currentRollout.controlVariation)} to every context again; the rollout ends.` : null,
      confirmLabel: { pause: 'Pause', resume: 'Resume', rollback: 'Roll back' }[which], danger: rollback,
    });
    if (!answer) return;
    try {
      await ctx.api.post(`${base}/rollouts/current/${which}`, {});
      notify({ pause: 'Paused', resume: 'Resumed', rollback: 'Rolled back' }[which]);
      await load();
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  function currentView(rollout) {
    if (!rollout) return empty('No rollout of this flag in this environment yet.');
    const active = isActive(rollout);
    const controls = ctx.canWrite && active ? h('div', { class: 'actions' },
      rollout.status === 'running'
        ? h('button', { type: 'button', 'data-testid': 'rollout-pause', onclick: () => command('pause') }, 'Pause')
        : h('button', { type: 'button', class: 'primary', 'data-testid': 'rollout-resume', onclick: () => command('resume') }, 'Resume'),
      h('button', { type: 'button', class: 'danger', 'data-testid': 'rollout-rollback', onclick: () => command('rollback') }, 'Roll back'))
        : null;
    return h('div', {},
      h('p', {}, badge(rollout.status.replace('_', ' '), STATUS_KIND[rollout.status], undefined, 'rollout-status'), ' ',
        h('strong', { class: 'big', 'data-testid': 'rollout-percent' }, `${rollout.percent} %`),
        ` of the default rule serve ${label(rollout.variation)} instead of ${label(rollout.controlVariation)}.`),
      h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
        'aria-valuenow': String(rollout.percent), 'aria-label': 'Rollout percentage' },
        h('div', { class: 'progress-bar', style: { width: `${rollout.percent}%` } })),
      timelineView(rollout),
      h('p', { class: 'small muted' }, `Step ${rollout.step} of ${rollout.steps.length}, started `, timeEl(rollout.startedAt),
        rollout.nextStepAt ? [' · next step ', timeEl(rollout.nextStepAt)] : null,
        typeof rollout.remainingHoldSeconds === 'number'
          ? ` · ${durationText(rollout.remainingHoldSeconds)} of hold left when resumed` : null,
        rollout.endedAt ? [' · ended ', timeEl(rollout.endedAt)] : null),
      rollout.endReason ? h('p', { class: 'small', 'data-testid': 'rollout-end-reason' }, rollout.endReason) : null,
      guardPanel(rollout), controls);
  }

  function startForm(current) {
    if (!ctx.canWrite || isActive(current)) return null;
    const variation = h('select', { 'data-testid': 'rollout-variation' },
      flag.variations.map((_, i) => h('option', { value: String(i), selected: i === 1 }, label(i))));
    const steps = h('input', { type: 'text', value: STEP_PRESETS[0][1], 'data-testid': 'rollout-steps', autocomplete: 'off', size: '40' });
    const preset = h('select', { 'aria-label': 'Step presets', onchange: () => { if (preset.value) steps.value = preset.value; } },
      h('option', { value: '' }, 'presets…'), STEP_PRESETS.map(([t, v]) => h('option', { value: v }, t)));
    const guardOn = h('input', { type: 'checkbox', 'data-testid': 'rollout-guard' });
    const metric = h('input', { type: 'text', 'data-testid': 'guard-metric', placeholder: 'checkout-error', autocomplete: 'off' });
    const type = h('select', { 'data-testid': 'guard-type' }, h('option', { value: 'proportion' }, 'proportion'),
      h('option', { value: 'mean' }, 'mean'));
    const direction = h('select', { 'data-testid': 'guard-direction' },
      h('option', { value: 'lower' }, 'lower is better (errors, latency)'), h('option', { value: 'higher' }, 'higher is better'));
    const alpha = h('input', { type: 'number', step: 'any', min: '0.001', max: '0.5', value: '0.05', 'data-testid': 'guard-alpha' });
    const minContexts = h('input', { type: 'number', min: '1', value: '100', 'data-testid': 'guard-min' });
    const guardFields = h('div', { class: 'inline-form', hidden: true }, field('Metric (custom event key)', metric), field('Type', type),
      field('Direction', direction), field('Alpha', alpha), field('Min contexts per arm', minContexts));
    guardOn.addEventListener('change', () => { guardFields.hidden = !guardOn.checked; });
    const problem = h('div', {});
    const form = h('form', { class: 'stack-form', 'data-testid': 'rollout-form', novalidate: true },
      h('div', { class: 'inline-form' }, field('Roll out variation', variation),
        field('Steps: percent and hold', steps, 'e.g. 10 1h, 50 2h, 100 (holds in s, m, h or d)'), field('Presets', preset)),
      h('label', { class: 'checkbox' }, guardOn, ' Guard it with a metric (roll back automatically when the new variation is worse)'),
      guardFields,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'rollout-start' }, 'Start rollout')),
      problem);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      replace(problem);
      const parsed = parseSteps(steps.value);
      if (parsed.problems.length) { replace(problem, errorBox(new Error(`Steps: ${parsed.problems.join('; ')}`))); return; }
      const body = { variation: Number(variation.value), steps: parsed.steps };
      if (guardOn.checked) {
        if (!metric.value.trim()) { replace(problem, errorBox(new Error('The guard needs a metric.'))); return; }
        if (!(Number(alpha.value) > 0 && Number(alpha.value) <= 0.5)) { replace(problem,
          errorBox(new Error('Alpha must be within (0, 0.5].'))); return; }
        body.guard = { metric: metric.value.trim(), type: type.value, higherIsBetter: direction.value === 'higher',
          alpha: Number(alpha.value), minContexts: Number(minContexts.value) };
      }
      const answer = await confirmDialog({
        title: `Start rolling out ${label(body.variation)} in ${ctx.env}?`, confirmLabel: 'Start',
        message: `Steps: ${stepsText(body.steps)}${body.guard ? `; guarded by ${body.guard.metric}` : ''}. The first step applies now.`,
      });
      if (!answer) return;
      try {
        await ctx.api.post(`${base}/rollouts`, body);
        notify('Rollout started');
        await load();
      } catch (error) {
        replace(problem, errorBox(error));
      }
    });
    return form;
  }

  function historyView(items) {
    const past = items.filter((r) => !isActive(r)).slice(0, 20);
    if (past.length < 2) return null;
    return h('details', {}, h('summary', {}, `Earlier rollouts (${past.length})`),
      h('table', { class: 'table compact' }, h('tbody', {}, past.map((r) => h('tr', {},
        h('td', {}, badge(r.status.replace('_', ' '), STATUS_KIND[r.status])), h('td', {}, label(r.variation)),
        h('td', {}, stepsText(r.steps)), h('td', {}, timeEl(r.startedAt)), h('td', { class: 'small muted' }, r.endReason || ''))))));
  }

  async function cancelChange(change) {
    const answer = await confirmDialog({ title: 'Cancel this scheduled change?', message: patchText(change.patch, label),
      confirmLabel: 'Cancel the change', danger: true });
    if (!answer) return;
    try {
      await ctx.api.del(`${base}/scheduled-changes/${encodeURIComponent(change.id)}`);
      notify('Scheduled change cancelled');
      await loadChanges();
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  function changeForm() {
    if (!ctx.canWrite) return null;
    const when = h('input', { type: 'datetime-local', required: true, 'data-testid': 'change-at' });
    const soon = new Date(Date.now() + 3600e3);
    soon.setSeconds(0, 0);
    when.value = new Date(soon.getTime() - soon.getTimezoneOffset() * 60e3).toISOString().slice(0, 16);
    const action = h('select', { 'data-testid': 'change-action' },
      [['on', 'Turn targeting on'], ['off', 'Turn targeting off'], ['fallthrough', 'Serve a variation by default'],
        ['json', 'Any targeting patch (JSON)']]
        .map(([v, t]) => h('option', { value: v }, t)));
    const variation = h('select', { 'data-testid': 'change-variation', 'aria-label': 'Default variation' },
      flag.variations.map((_, i) => h('option', { value: String(i) }, label(i))));
    const json = h('textarea', { rows: '3', class: 'mono', 'data-testid': 'change-json',
      placeholder: '{"offVariation": 1}', spellcheck: 'false' });
    const variationField = field('Variation', variation);
    const jsonField = field('Patch (JSON merge patch of the targeting)', json);
    const comment = h('input', { type: 'text', maxlength: '1000', 'data-testid': 'change-comment', placeholder: 'launch' });
    const problem = h('div', {});
    const sync = () => { variationField.hidden = action.value !== 'fallthrough'; jsonField.hidden = action.value !== 'json'; };
    action.addEventListener('change', sync);
    sync();
    const form = h('form', { class: 'stack-form', 'data-testid': 'change-form' },
      h('div', { class: 'inline-form' }, field('When (your local time)', when), field('Change', action), variationField,
        field('Comment', comment)), jsonField,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'change-create' }, 'Schedule')),
      problem);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      replace(problem);
      const at = new Date(when.value);
      if (Number.isNaN(at.getTime())) { replace(problem, errorBox(new Error('Choose a date and time.'))); return; }
      const { patch, error } = changePatch({ action: action.value, variation: variation.value, json: json.value });
      if (error) { replace(problem, errorBox(new Error(error))); return; }
      try {
        await ctx.api.post(`${base}/scheduled-changes`, { executeAt: at.toISOString(), patch, comment: comment.value.trim() || undefined });
        notify('Change scheduled');
        await loadChanges();
      } catch (err) {
        replace(problem, errorBox(err));
      }
    });
    return form;
  }

  async function loadChanges() {
    try {
      const { data } = await ctx.api.get(`${base}/scheduled-changes`, { signal: ctx.signal });
      const items = data.items.slice().sort((a, b) => (a.status === 'pending') - (b.status === 'pending') || 0).reverse();
      replace(changesArea, items.length ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['When', 'Change', 'Status', 'By', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, items.map((c) => h('tr', { 'data-testid': `change-${c.id}` },
          h('td', {}, timeEl(c.executeAt), h('div', { class: 'small muted' }, c.executeAt.replace('T', ' ').slice(0, 16), ' UTC')),
          h('td', {}, patchText(c.patch, label), c.comment ? h('div', { class: 'small muted' }, c.comment) : null),
          h('td', {}, badge(c.status, STATUS_KIND[c.status], undefined, 'change-status'),
            c.outcome?.reason ? h('div', { class: 'small' }, String(c.outcome.reason)) : null,
            c.outcome?.late ? h('div', { class: 'small muted' }, `${c.outcome.lateSeconds} s late`) : null),
          h('td', { class: 'small' }, c.createdBy),
          h('td', {}, ctx.canWrite && c.status === 'pending'
            ? h('button', { type: 'button', class: 'small danger', 'data-testid': `change-cancel-${c.id}`, onclick: () => cancelChange(c) },
              'Cancel') : null)))))
        : empty('No scheduled changes.'));
    } catch (error) {
      if (error.name !== 'AbortError') replace(changesArea, errorBox(error));
    }
  }

  async function load() {
    let items = [];
    try {
      ({ data: { items } } = await ctx.api.get(`${base}/rollouts`, { signal: ctx.signal }));
    } catch (error) {
      if (error.name === 'AbortError') return;
      replace(currentArea, errorBox(error));
      return;
    }
    // A live update that changed nothing here keeps the page as it is (focus, an open form).
    const shown = JSON.stringify(items);
    if (shown === lastShown) return;
    lastShown = shown;
    const current = items[0] || null;
    currentRollout = current;
    replace(currentArea, currentView(current));
    const form = startForm(current);
    if (!form || !startFormShown || isActive(current)) replace(startArea, form ? section('Start a progressive rollout', form) : null);
    startFormShown = Boolean(form);
    replace(historyArea, historyView(items));
  }

  replace(ctx.main,
    pageHeader(ctx, { title: `Releases of ${flag.name || flag.key}`, subtitle: `Flag ${flag.key}`, env: true }),
    h('p', {}, h('a', { href: ctx.href('/projects/:project/flags/:flag', { project: ctx.project.key, flag: flag.key }, { env: ctx.env }) },
      'Targeting of this flag'),
      ' · ', h('a', { href: ctx.href('/projects/:project/releases', { project: ctx.project.key }, { env: ctx.env }) }, 'All releases')),
    status, section('Rollout', currentArea), startArea, historyArea,
    section('Scheduled changes', changeForm(), changesArea));
  await Promise.all([load(), loadChanges()]);
  ctx.onChange(() => Promise.all([load(), loadChanges()]));
}
