// /ui/projects/{p}: the project's name, its environments and their keys (copy, rotate with a grace period),
// secure mode; admins create, rename and delete. Writers see keys in full, readers masked.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { copyButton, toggleSwitch, timeEl, badge } from '../components/widgets.js';

const GRACE = [
  ['0', 'immediately'], ['3600', 'after 1 hour'], ['86400', 'after 24 hours'], ['604800', 'after 7 days'],
];

export default {
  path: '/projects/:project',
  title: (ctx) => `${ctx.project.name} · settings`,
  nav: { scope: 'project', label: 'Environments & keys', id: 'settings', order: 90, keepEnv: false },
  async render(ctx) {
    // Forms are built once; live updates re-render only the header and the environment cards, so a half-typed
    // new environment or name survives a change made elsewhere. The cards' name fields keep what was typed in
    // them (nameDrafts) and their focus across a re-render.
    const header = h('div', {});
    const grid = h('div', { class: 'env-grid' });
    const nameDrafts = new Map();
    let forms = null;
    let shown = null;
    async function load() {
      const { data } = await ctx.api.get(ctx.path`/projects/${ctx.project.key}`, { signal: ctx.signal });
      const text = JSON.stringify(data);
      if (text === shown) return;
      shown = text;
      replace(header, pageHeader(ctx, { title: data.name, subtitle: `Project ${data.key}` }));
      const focused = grid.contains(document.activeElement) ? document.activeElement.dataset.testid : null;
      replace(grid, data.environments.map((e) => environmentCard(ctx, e, load, nameDrafts)));
      const refocus = focused && grid.querySelector(`[data-testid="${CSS.escape(focused)}"]`);
      if (refocus) refocus.focus();
      if (!forms) {
        forms = true;
        replace(ctx.main, header,
          ctx.isAdmin ? projectSettings(ctx, data) : null,
          section('Environments', grid),
          ctx.isAdmin ? newEnvironment(ctx, load) : null,
          ctx.isAdmin ? dangerZone(ctx, data) : null);
      }
    }
    await load();
    ctx.onChange(load);
  },
};

function projectSettings(ctx, project) {
  const name = h('input', { type: 'text', value: project.name, required: true, 'data-testid': 'project-rename' });
  const status = h('div', {});
  const form = h('form', { class: 'inline-form' }, field('Project name', name),
    h('button', { type: 'submit', 'data-testid': 'save-project-name' }, 'Rename'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await ctx.api.patch(ctx.path`/projects/${project.key}`, { name: name.value.trim() });
      ctx.invalidateProject();
      notify('Project renamed');
      ctx.navigate(window.location.pathname + window.location.search, { replace: true });
    } catch (e) { replace(status, errorBox(e)); }
  });
  return section('Settings', form);
}

function keyRow(ctx, label, value, testid, rotateKind, environment, reload) {
  const masked = typeof value === 'string' && value.includes('…');
  return h('div', { class: 'key-row' },
    h('span', { class: 'key-label' }, label),
    h('code', { class: 'mono key-value', 'data-testid': testid }, value),
    masked ? h('span', { class: 'muted' }, 'masked for readers') : copyButton(value, `Copy the ${label}`, `copy-${testid}`),
    rotateKind && ctx.isAdmin ? rotateControl(ctx, environment, rotateKind, reload) : null);
}

function rotateControl(ctx, environment, kind, reload) {
  const grace = h('select', { 'aria-label': `When the old ${kind} key stops working`, 'data-testid': `grace-${environment.key}-${kind}` },
    GRACE.map(([v, t]) => h('option', { value: v }, `old key stops ${t}`)));
  const button = h('button', {
    type: 'button', class: 'small', 'data-testid': `rotate-${environment.key}-${kind}`,
    onclick: async () => {
      const label = GRACE.find(([v]) => v === grace.value)[1];
      const ok = await confirmDialog({
        title: `Rotate the ${kind === 'sdk' ? 'SDK' : 'mobile'} key of ${environment.name}?`,
        message: `A new key is generated now; the old one keeps working ${label === 'immediately' ? 'nowhere (it stops at once)' : label}.`
          + ' Update your applications before then.',
        confirmLabel: 'Rotate', danger: true,
      });
      if (!ok) return;
      try {
        await ctx.api.post(ctx.path`/projects/${ctx.project.key}/environments/${environment.key}/keys/${kind}/rotate`,
          { expireOldAfterSeconds: Number(grace.value) });
        notify('Key rotated');
        await reload();
      } catch (e) { notify(e.readable || e.message, 'error'); }
    },
  }, 'Rotate');
  return h('span', { class: 'rotate' }, grace, button);
}

function environmentCard(ctx, environment, reload, nameDrafts) {
  const retired = environment.retiredKeys || [];
  const secure = toggleSwitch({
    checked: environment.secureMode, label: `Secure mode of ${environment.name}`, testid: `secure-${environment.key}`,
    disabled: !ctx.isAdmin,
    onToggle: async (next) => {
      const ok = await confirmDialog({
        title: `${next ? 'Enable' : 'Disable'} secure mode in ${environment.name}?`,
        message: next ? 'Browser SDKs must then send each context\'s HMAC-SHA256 hash, computed by your server with the SDK key.'
          : 'Browser SDKs may then evaluate flags for any context they name.',
        confirmLabel: next ? 'Enable' : 'Disable',
      });
      if (!ok) return false;
      try {
        await ctx.api.patch(ctx.path`/projects/${ctx.project.key}/environments/${environment.key}`, { secureMode: next });
        notify(`Secure mode ${next ? 'on' : 'off'}`);
        return true;
      } catch (e) { notify(e.readable || e.message, 'error'); return false; }
    },
  });
  const card = h('article', { class: 'card env-card', 'data-testid': `environment-${environment.key}` },
    h('h3', {}, environment.name, ' ', h('span', { class: 'muted mono' }, environment.key)),
    keyRow(ctx, 'SDK key', environment.sdkKey, `sdk-key-${environment.key}`, 'sdk', environment, reload),
    keyRow(ctx, 'Mobile key', environment.mobileKey, `mobile-key-${environment.key}`, 'mobile', environment, reload),
    keyRow(ctx, 'Client-side ID', environment.clientSideId, `client-id-${environment.key}`, null, environment, reload),
    h('div', { class: 'key-row' }, h('span', { class: 'key-label' }, 'Secure mode'), secure),
    retired.length ? h('div', { class: 'retired' }, h('h4', {}, 'Retired keys still accepted'),
      h('ul', {}, retired.map((r) => h('li', {}, h('code', { class: 'mono' }, r.key || r.sdkKey || r.mobileKey || '(key)'), ' ',
        badge(r.kind || 'key'), ' until ', timeEl(new Date(r.expiresAt).toISOString()))))) : null,
    ctx.isAdmin ? environmentActions(ctx, environment, reload, nameDrafts) : null);
  return card;
}

function environmentActions(ctx, environment, reload, nameDrafts) {
  const name = h('input', { type: 'text', value: nameDrafts.get(environment.key) ?? environment.name,
    'aria-label': `Name of ${environment.key}`, 'data-testid': `env-name-${environment.key}` });
  const keepDraft = () => nameDrafts.set(environment.key, name.value);
  name.addEventListener('input', keepDraft);
  name.addEventListener('change', keepDraft);
  return h('div', { class: 'env-actions' }, name,
    h('button', {
      type: 'button', class: 'small', 'data-testid': `rename-env-${environment.key}`,
      onclick: async () => {
        try {
          await ctx.api.patch(ctx.path`/projects/${ctx.project.key}/environments/${environment.key}`, { name: name.value.trim() });
          nameDrafts.delete(environment.key);
          ctx.invalidateProject();
          notify('Environment renamed');
          await reload();
        } catch (e) { notify(e.readable || e.message, 'error'); }
      },
    }, 'Rename'),
    h('button', {
      type: 'button', class: 'small danger', 'data-testid': `delete-env-${environment.key}`,
      onclick: async () => {
        const ok = await confirmDialog({
          title: `Delete the environment ${environment.name}?`,
          message: 'Its targeting, segments, experiments and keys are deleted; SDKs using its keys stop getting flags.',
          confirmLabel: 'Delete environment', danger: true,
        });
        if (!ok) return;
        try {
          await ctx.api.del(ctx.path`/projects/${ctx.project.key}/environments/${environment.key}`);
          ctx.invalidateProject();
          notify('Environment deleted');
          await reload();
        } catch (e) { notify(e.readable || e.message, 'error'); }
      },
    }, 'Delete'));
}

function newEnvironment(ctx, reload) {
  const key = h('input', { type: 'text', required: true, 'data-testid': 'new-env-key', autocomplete: 'off' });
  const name = h('input', { type: 'text', required: true, 'data-testid': 'new-env-name', autocomplete: 'off' });
  const secure = h('input', { type: 'checkbox', 'data-testid': 'new-env-secure' });
  const status = h('div', {});
  const form = h('form', { class: 'inline-form' }, field('Key', key), field('Name', name),
    h('label', { class: 'checkbox' }, secure, ' Secure mode'),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-env' }, 'Create environment'), status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await ctx.api.post(ctx.path`/projects/${ctx.project.key}/environments`, { key: key.value.trim(), name: name.value.trim(),
        secureMode: secure.checked });
      ctx.invalidateProject();
      notify('Environment created; every flag starts off in it');
      form.reset();
      await reload();
    } catch (e) { replace(status, errorBox(e)); }
  });
  return section('New environment', form);
}

function dangerZone(ctx, project) {
  const confirmKey = h('input', { type: 'text', 'data-testid': 'delete-project-confirm', autocomplete: 'off' });
  return section('Delete this project',
    h('p', {}, 'Deletes every environment, flag, segment and experiment of the project. SDKs using its keys stop getting data.'),
    h('div', { class: 'inline-form' }, field(`Type the project key (${project.key}) to confirm`, confirmKey),
      h('button', {
        type: 'button', class: 'danger', 'data-testid': 'delete-project',
        onclick: async () => {
          if (confirmKey.value !== project.key) { notify('Type the project key first', 'error'); confirmKey.focus(); return; }
          try {
            await ctx.deleting(async () => {
              await ctx.api.del(ctx.path`/projects/${project.key}`);
              ctx.invalidateProject();
              notify('Project deleted');
              ctx.navigate(ctx.href('/projects'));
            });
          } catch (e) { notify(e.readable || e.message, 'error'); }
        },
      }, 'Delete project')));
}
