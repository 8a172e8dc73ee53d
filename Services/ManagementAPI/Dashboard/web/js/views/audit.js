// /ui/projects/{p}/audit: who changed what and when in the project, with the comment and a readable diff of
// before and after. Filters (kept in the URL): resource (a kind, or an exact resource) and a time range.
import { h, field, replace } from '../dom.js';
import { pageHeader } from '../components/layout.js';
import { errorBox } from '../components/notice.js';
import { diffView } from '../components/diff.js';
import { timeEl, badge, empty } from '../components/widgets.js';

export default {
  path: '/projects/:project/audit',
  title: (ctx) => `Audit log · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Audit log', id: 'audit', order: 80 },
  render,
};

/** The `resource` filter of GET /audit for a choice of the page (pure; tested). */
export function resourceFilter(project, kind, text) {
  const p = `proj/${project}`;
  if (text) return text.includes('*') || text.startsWith('proj/') || text.startsWith('token/') ? text : `${p}:${text}`;
  switch (kind) {
    case 'project': return p;
    case 'flags': return `${p}:flag/*`;
    case 'targeting': return `${p}:env/*`;
    case 'experiments': return `${p}:experiment/*`;
    default: return `${p}*`;
  }
}

/** A `datetime-local` value (local time) as an RFC 3339 UTC string, or ''. */
export function toRFC3339(local) {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
}

async function render(ctx) {
  const kind = h('select', { 'data-testid': 'audit-kind' },
    [['', 'everything in the project'], ['project', 'the project itself'], ['flags', 'flag settings'],
      ['targeting', 'environments, targeting, segments'], ['experiments', 'experiments']]
      .map(([v, t]) => h('option', { value: v, selected: v === (ctx.query.get('kind') || '') }, t)));
  const resource = h('input', { type: 'text', value: ctx.query.get('resource') || '', 'data-testid': 'audit-resource',
    placeholder: 'flag/new-checkout or env/production:flag/*', autocomplete: 'off' });
  const since = h('input', { type: 'datetime-local', value: ctx.query.get('since') || '', 'data-testid': 'audit-since' });
  const until = h('input', { type: 'datetime-local', value: ctx.query.get('until') || '', 'data-testid': 'audit-until' });
  const list = h('div', { 'data-testid': 'audit-entries' });
  const more = h('div', {});
  const form = h('form', { class: 'filters', role: 'search' },
    field('Resource', kind), field('or exactly', resource, 'a resource below the project; * at the end for a prefix'),
    field('From', since), field('Until', until), h('button', { type: 'submit', 'data-testid': 'audit-filter' }, 'Filter'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.setQuery({ kind: kind.value, resource: resource.value.trim(), since: since.value, until: until.value });
    shown = null;
    load();
  });
  replace(ctx.main, pageHeader(ctx, { title: 'Audit log' }), form, list, more);

  // The project's prefix `proj/p*` would also match `proj/pp`; entries of other projects are dropped here.
  const own = (entry) => entry.resource === `proj/${ctx.project.key}` || entry.resource.startsWith(`proj/${ctx.project.key}:`);

  async function page(cursor) {
    const { data } = await ctx.api.get('/audit', {
      query: {
        resource: resourceFilter(ctx.project.key, kind.value, resource.value.trim()), since: toRFC3339(since.value),
        until: toRFC3339(until.value), limit: 50, cursor,
      },
      signal: ctx.signal,
    });
    return data;
  }
  let shown = null;
  async function load() {
    try {
      const data = await page();
      const text = JSON.stringify(data);
      if (text === shown) return;
      shown = text;
      const entries = data.items.filter(own);
      replace(list, entries.length ? entries.map(entryView) : empty('No audit entries match.'));
      showMore(data.nextCursor);
    } catch (e) {
      if (e.name !== 'AbortError') replace(list, errorBox(e));
    }
  }
  function showMore(cursor) {
    replace(more, cursor ? h('button', {
      type: 'button', 'data-testid': 'audit-more',
      onclick: async () => {
        try {
          const data = await page(cursor);
          list.append(...data.items.filter(own).map(entryView));
          showMore(data.nextCursor);
        } catch (e) { replace(more, errorBox(e)); }
      },
    }, 'Older entries') : null);
  }
  await load();
  ctx.onChange(load);
}

function entryView(entry) {
  const details = h('details', {}, h('summary', {}, 'Before and after'), diffView(entry.before, entry.after, { ignore: ['updatedAt'] }));
  if (entry.action.endsWith('.update') || entry.action === 'flag.targeting.update') details.open = true;
  return h('article', { class: 'card audit-entry', 'data-testid': `audit-${entry.id}` },
    h('header', {},
      h('strong', { class: 'actor' }, entry.actor), ' ', badge(entry.action, 'action'), ' ',
      h('span', { class: 'mono resource' }, entry.resource), ' ', timeEl(entry.at)),
    entry.comment ? h('blockquote', { class: 'comment', 'data-testid': 'audit-comment' }, entry.comment) : null,
    details);
}
