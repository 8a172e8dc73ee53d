// /ui/projects/{p}/releases?env={e}: pick a flag to release (its page has the rollout and the scheduled changes).
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { empty } from '../components/widgets.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/releases',
  title: (ctx) => `Releases · ${ctx.project.name}`,
  nav: { scope: 'project', label: 'Releases', id: 'releases', order: 40, matches: ['/projects/:project/releases/:flag'] },
  render,
};

async function render(ctx) {
  useFeatureStyles();
  const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}/flags`, { signal: ctx.signal });
  const flags = data.items.slice().sort((a, b) => a.key.localeCompare(b.key));
  const search = h('input', { type: 'search', 'data-testid': 'release-search', placeholder: 'flag key or name', autocomplete: 'off' });
  const list = h('ul', { class: 'plain-list', 'data-testid': 'release-flags' });
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const shown = flags.filter((f) => !q || f.key.toLowerCase().includes(q) || (f.name || '').toLowerCase().includes(q)).slice(0, 200);
    replace(list, shown.map((f) => h('li', {},
      h('a', { href: ctx.href('/projects/:project/releases/:flag', { project: ctx.project.key, flag: f.key }, { env: ctx.env }),
        'data-testid': `release-flag-${f.key}` }, f.name || f.key),
      ' ', h('span', { class: 'small muted mono' }, f.key))));
  };
  search.addEventListener('input', show);
  show();
  replace(ctx.main,
    pageHeader(ctx, { title: 'Releases', subtitle: 'Progressive and guarded rollouts, and scheduled changes, per flag and environment.',
      env: true }),
    flags.length ? section('Choose a flag', field('Search', search), list) : empty('No flags yet.'));
}
