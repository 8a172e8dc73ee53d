// /ui/projects: every project, and (admin) creating one.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { empty, timeEl } from '../components/widgets.js';

export default {
  path: '/projects',
  title: 'Projects',
  nav: { scope: 'global', label: 'Projects', order: 10 },
  async render(ctx) {
    const list = h('div', {});
    const createForm = ctx.isAdmin ? createProjectForm(ctx) : null;
    replace(ctx.main, pageHeader(ctx, { title: 'Projects' }), list, createForm);
    let shown = null;
    async function load() {
      const { data } = await ctx.api.get('/projects', { signal: ctx.signal });
      const text = JSON.stringify(data);
      if (text === shown) return;
      shown = text;
      const items = data.items;
      if (!items.length) {
        replace(list, empty(ctx.isAdmin ? 'No projects yet. Create the first one below.' : 'No projects yet.')); return;
      }
      replace(list, h('table', { class: 'table', 'data-testid': 'projects' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Project'), h('th', { scope: 'col' }, 'Key'),
          h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, ''))),
        h('tbody', {}, items.map((p) => h('tr', { 'data-testid': `project-${p.key}` },
          h('td', {}, h('a', { href: ctx.href('/projects/:project/flags', { project: p.key }) }, p.name)),
          h('td', { class: 'mono' }, p.key),
          h('td', {}, timeEl(p.createdAt)),
          h('td', {}, h('a', { href: ctx.href('/projects/:project', { project: p.key }) }, 'Environments and keys')))))));
    }
    await load();
    ctx.onChange(load);
  },
};

function createProjectForm(ctx) {
  const key = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9._\\-]{1,256}',
    'data-testid': 'project-key', autocomplete: 'off' });
  const name = h('input', { type: 'text', required: true, 'data-testid': 'project-name', autocomplete: 'off' });
  const envs = h('input', { type: 'text', value: 'production, test', 'data-testid': 'project-envs', autocomplete: 'off' });
  const status = h('div', {});
  const form = h('form', { class: 'inline-form' },
    field('Key', key, 'Letters, digits, . _ -; never changes'), field('Name', name),
    field('Environments', envs, 'Comma-separated keys; each gets its own SDK keys'),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-project' }, 'Create project'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const environments = envs.value.split(',').map((s) => s.trim()).filter(Boolean)
      .map((k) => ({ key: k, name: k.charAt(0).toUpperCase() + k.slice(1) }));
    try {
      await ctx.api.post('/projects', { key: key.value.trim(), name: name.value.trim(), environments });
      notify(`Project ${name.value.trim()} created`);
      ctx.navigate(ctx.href('/projects/:project/flags', { project: key.value.trim() }));
    } catch (e) {
      replace(status, errorBox(e));
    }
  });
  return section('New project', form);
}
