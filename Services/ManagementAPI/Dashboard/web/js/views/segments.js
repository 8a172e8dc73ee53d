// /ui/projects/{p}/segments?env={e}: the segments of one environment (name, key, sizes) and, for writers, a form
// that creates one and opens it.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { empty, timeEl } from '../components/widgets.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/segments',
  title: (ctx) => `Segments · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Segments', id: 'segments', order: 20, matches: ['/projects/:project/segments/:segment'] },
  render,
};

async function render(ctx) {
  useFeatureStyles();
  const listArea = h('div', { 'data-testid': 'segment-list' });
  const segmentHref = (key) => ctx.href('/projects/:project/segments/:segment',
    { project: ctx.project.key, segment: key }, { env: ctx.env });

  async function load() {
    try {
      const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${ctx.env}/segments`, { signal: ctx.signal });
      const items = data.items.slice().sort((a, b) => a.key.localeCompare(b.key));
      if (!items.length) { replace(listArea, empty(`No segments in ${ctx.env} yet.`)); return; }
      replace(listArea, h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Segment', 'Included', 'Excluded', 'Rules', 'Updated'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, items.map((s) => h('tr', { 'data-testid': `segment-${s.key}` },
          h('td', {}, h('a', { href: segmentHref(s.key) }, s.name || s.key), h('div', { class: 'small muted mono' }, s.key),
            s.description ? h('div', { class: 'small muted clamp' }, s.description) : null),
          h('td', {}, String((s.included || []).length + (s.includedContexts || []).reduce((n, c) => n + c.values.length, 0))),
          h('td', {}, String((s.excluded || []).length + (s.excludedContexts || []).reduce((n, c) => n + c.values.length, 0))),
          h('td', {}, String((s.rules || []).length)),
          h('td', {}, timeEl(s.updatedAt)))))));
    } catch (error) {
      if (error.name !== 'AbortError') replace(listArea, errorBox(error));
    }
  }

  let create = null;
  if (ctx.canWrite) {
    const key = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9._\\-]{1,256}', 'data-testid': 'new-segment-key',
      autocomplete: 'off', placeholder: 'beta-testers' });
    const name = h('input', { type: 'text', 'data-testid': 'new-segment-name', autocomplete: 'off', placeholder: 'Beta testers' });
    const problem = h('div', {});
    create = h('form', { class: 'inline-form', 'data-testid': 'new-segment' },
      field('Key', key, 'letters, digits, . _ -; never changes'), field('Name', name),
      h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-segment' }, 'Create segment'), problem);
    create.addEventListener('submit', async (event) => {
      event.preventDefault();
      replace(problem);
      try {
        // PUT creates or replaces: If-None-Match: * makes the server refuse (412) to replace an existing segment.
        await ctx.api.put(ctx.path`/projects/${ctx.project.key}/environments/${ctx.env}/segments/${key.value.trim()}`,
          { name: name.value.trim() || key.value.trim(), included: [], excluded: [], rules: [] }, { ifNoneMatch: '*' });
        notify('Segment created');
        ctx.navigate(segmentHref(key.value.trim()));
      } catch (error) {
        const taken = error.status === 412 ? new Error(`A segment "${key.value.trim()}" already exists in ${ctx.env}.`) : null;
        replace(problem, errorBox(taken || error));
      }
    });
  }

  replace(ctx.main, pageHeader(ctx,
    { title: 'Segments', subtitle: 'Groups of contexts that flag rules target, per environment.', env: true }),
    create ? section('New segment', create) : null, section(`Segments in ${ctx.env}`, listArea));
  await load();
  ctx.onChange(load);
}
