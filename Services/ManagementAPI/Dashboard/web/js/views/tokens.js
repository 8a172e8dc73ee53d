// /ui/tokens (admin): API tokens. Creating one shows its secret once; the list never has secrets; revoke.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog, infoDialog } from '../components/dialog.js';
import { copyButton, timeEl, badge, empty } from '../components/widgets.js';

export default {
  path: '/tokens',
  title: 'API tokens',
  nav: { scope: 'global', label: 'API tokens', order: 20, role: 'admin' },
  async render(ctx) {
    if (!ctx.isAdmin) {
      replace(ctx.main, pageHeader(ctx, { title: 'API tokens' }), errorBox('Only admins manage API tokens.'));
      return;
    }
    const list = h('div', {});
    replace(ctx.main, pageHeader(ctx, { title: 'API tokens' }), createForm(ctx, () => load()), list);
    let shown = null;
    async function load() {
      const { data } = await ctx.api.get('/tokens', { signal: ctx.signal });
      const text = JSON.stringify(data);
      if (text === shown) return;
      shown = text;
      if (!data.items.length) { replace(list, empty('No tokens.')); return; }
      replace(list, h('table', { class: 'table', 'data-testid': 'tokens' },
        h('thead', {}, h('tr', {}, ['Name', 'Role', 'Created', 'By', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, data.items.map((t) => h('tr', { 'data-testid': `token-${t.name}` },
          h('td', {}, t.name), h('td', {}, badge(t.role)), h('td', {}, timeEl(t.createdAt)), h('td', { class: 'muted' }, t.createdBy || ''),
          h('td', {}, t.id === ctx.me.id ? h('span', { class: 'muted' }, 'this session') : h('button', {
            type: 'button', class: 'small danger', 'data-testid': `revoke-${t.name}`,
            onclick: async () => {
              const ok = await confirmDialog({
                title: `Revoke the token ${t.name}?`, message: 'Everything using it gets 401 within 2 seconds.',
                confirmLabel: 'Revoke', danger: true,
              });
              if (!ok) return;
              try {
                await ctx.api.del(ctx.path`/tokens/${t.id}`); notify('Token revoked'); await load();
              } catch (e) { notify(e.readable || e.message, 'error'); }
            },
          }, 'Revoke')))))));
    }
    await load();
    ctx.onChange(load);
  },
};

function createForm(ctx, reload) {
  const name = h('input', { type: 'text', required: true, 'data-testid': 'token-name', autocomplete: 'off' });
  const role = h('select', { 'data-testid': 'token-role' }, ['reader', 'writer', 'admin'].map((r) => h('option', { value: r }, r)));
  const status = h('div', {});
  const form = h('form', { class: 'inline-form' }, field('Name', name), field('Role', role),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-token' }, 'Create token'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const { data } = await ctx.api.post('/tokens', { name: name.value.trim(), role: role.value });
      form.reset();
      replace(status);
      await infoDialog({
        title: `Token ${data.name} (${data.role})`,
        body: h('div', {}, h('p', {}, 'Copy the secret now: it is shown only this once.'),
          h('code', { class: 'mono secret', 'data-testid': 'token-secret' }, data.token), ' ',
          copyButton(data.token, 'Copy the secret', 'copy-secret')),
      });
      await reload();
    } catch (e) { replace(status, errorBox(e)); }
  });
  return section('New token', form);
}
