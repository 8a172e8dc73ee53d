// The dashboard's entry point: sign-in, navigation, and the rendering of the view that matches the URL.
// Views are registered in views/index.js (see docs/dashboard.md, "Adding a page", for the contract).
import { h, replace } from './dom.js';
import { createApi, path, ApiError } from './api.js';
import { createRouter, href, BASE } from './router.js';
import { storedToken, storedIdentity, storeToken, forgetToken, whoAmI, allows } from './session.js';
import { startLive } from './live.js';
import { errorBox } from './components/notice.js';
import { views } from './views/index.js';

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
const sidenav = document.getElementById('sidenav');

let token = storedToken();
let me = null;
let router = null;
let live = null;
let current = null;        // {controller, refreshers, route}
let projectCache = new Map();
let signInMessage = null;

const api = createApi({
  token: () => token,
  onUnauthorized: () => {
    // Only a signed-in session is ended here; a refused sign-in is reported by the form.
    if (!token || !me) return;
    signOut('Your token is no longer valid (revoked or unknown). Sign in again.');
  },
});

function signOut(message = null) {
  token = null;
  me = null;
  forgetToken();
  projectCache = new Map();
  if (live) { live.stop(); live = null; }
  signInMessage = message;
  renderSignIn();
}

// MARK: sign-in

function renderSignIn() {
  if (current) { current.controller.abort(); current = null; }
  replace(topbar, h('a', { class: 'brand', href: `${BASE}/` }, brandMark(), 'Vane'));
  replace(sidenav);
  const input = h('input', {
    id: 'token', type: 'password', 'data-testid': 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'vane-…',
  });
  const status = h('div', { 'aria-live': 'polite' }, signInMessage ? errorBox(signInMessage) : null);
  const form = h('form', { class: 'signin card', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to Vane'),
    h('p', { class: 'muted' },
      'Paste an API token. It stays in this browser tab only (sessionStorage) and is forgotten when the tab closes.'),
    h('div', { class: 'field' }, h('label', { for: 'token' }, 'API token'), input),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'sign-in' }, 'Sign in'),
    status);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) return;
    token = candidate;
    try {
      me = await whoAmI(api);
      storeToken(candidate, me);
      signInMessage = null;
      start();
    } catch (e) {
      token = null;
      replace(status, errorBox(e instanceof ApiError && e.status === 401 ? 'This token is not valid.' : e));
      input.focus();
    }
  });
  replace(main, form);
  document.title = 'Sign in · Vane';
  input.focus();
}

function brandMark() {
  return h('img', { src: new URL('../img/vane.svg', import.meta.url).pathname, alt: '', width: '24', height: '24' });
}

// MARK: chrome

function renderTopbar() {
  replace(topbar,
    h('a', { class: 'brand', href: `${BASE}/projects` }, brandMark(), 'Vane'),
    h('nav', { class: 'topnav', 'aria-label': 'Main' },
      views.filter((v) => v.nav && v.nav.scope === 'global' && allows(me.role, v.nav.role || 'reader'))
        .sort((a, b) => (a.nav.order ?? 50) - (b.nav.order ?? 50))
        .map((v) => h('a', { href: href(v.path), 'data-nav': v.path }, v.nav.label))),
    h('div', { class: 'whoami' },
      h('span', { 'data-testid': 'identity' }, `${me.name} · ${me.role}`),
      h('button', { type: 'button', class: 'small', 'data-testid': 'sign-out', onclick: () => signOut() }, 'Sign out')));
}

function renderSidenav(route, ctx) {
  if (!ctx.project) { replace(sidenav); sidenav.hidden = true; return; }
  sidenav.hidden = false;
  const items = views.filter((v) => v.nav && v.nav.scope === 'project' && allows(me.role, v.nav.role || 'reader'))
    .sort((a, b) => (a.nav.order ?? 50) - (b.nav.order ?? 50));
  replace(sidenav,
    h('p', { class: 'sidenav-project' }, h('a', { href: href('/projects/:project', { project: ctx.project.key }) }, ctx.project.name),
      h('span', { class: 'muted mono' }, ctx.project.key)),
    h('ul', {}, items.map((v) => {
      const active = v === route.view || (v.nav.matches && v.nav.matches.includes(route.view.path));
      return h('li', {}, h('a', {
        href: href(v.path, { project: ctx.project.key }, v.nav.keepEnv === false ? {} : { env: ctx.env }),
        'aria-current': active ? 'page' : undefined, 'data-testid': `nav-${v.nav.id || v.nav.label.toLowerCase()}`,
      }, v.nav.label));
    })));
  for (const a of topbar.querySelectorAll('a[data-nav]')) {
    if (a.getAttribute('data-nav') === route.view.path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// MARK: routing

async function loadProject(key, signal) {
  if (projectCache.has(key)) return projectCache.get(key);
  const { data } = await api.get(path`/projects/${key}`, { signal });
  projectCache.set(key, data);
  return data;
}

function chooseEnv(project, requested) {
  const keys = project.environments.map((e) => e.key);
  if (requested && keys.includes(requested)) return requested;
  let remembered = null;
  try { remembered = window.sessionStorage.getItem(`vane.env.${project.key}`); } catch { /* ignore */ }
  if (remembered && keys.includes(remembered)) return remembered;
  return keys.includes('production') ? 'production' : keys[0] ?? null;
}

async function onRoute(route) {
  if (current) current.controller.abort();
  const controller = new AbortController();
  const state = { controller, refreshers: [], route, paused: false };
  current = state;
  const ctx = {
    params: route.params,
    query: route.query,
    api,
    path,
    href,
    me,
    can: (role) => allows(me.role, role),
    canWrite: allows(me.role, 'writer'),
    isAdmin: allows(me.role, 'admin'),
    signal: controller.signal,
    main,
    project: null,
    env: null,
    navigate: (url, options) => router.navigate(url, options),
    /** Changes query parameters; re-renders the view only with {render: true}. */
    setQuery: (changes, { render = false } = {}) => {
      const q = new URLSearchParams(window.location.search);
      for (const [k, v] of Object.entries(changes)) { if (v === null || v === undefined || v === '') q.delete(k);
        else q.set(k, String(v)); }
      const qs = q.toString();
      const url = window.location.pathname + (qs ? `?${qs}` : '');
      if (render) router.navigate(url);
      else window.history.replaceState(null, '', url);
    },
    /** Registers a function to run when data changed anywhere (live updates); cleared on navigation. */
    onChange: (fn) => { state.refreshers.push(fn); },
    /**
     * Runs `remove` (which deletes this page's subject and usually navigates away) with live updates paused for the page,
     * so a change noticed meanwhile, the deletion's own, does not re-fetch what no longer exists.
     */
    deleting: async (remove) => {
      state.paused = true;
      try { return await remove(); } finally { state.paused = false; }
    },
    setTitle: (text) => { document.title = `${text} · Vane`; },
    /** Forgets the cached project (after renaming it or changing its environments). */
    invalidateProject: () => { if (ctx.project) projectCache.delete(ctx.project.key); },
  };
  // A view may fetch its data while the project loads (the flag list of ?env=): `prefetch` returns a promise.
  const requestedEnv = route.query.get('env');
  if (route.view.prefetch && requestedEnv) {
    ctx.prefetched = { env: requestedEnv, promise: route.view.prefetch({ api, path, params: route.params, env: requestedEnv,
      signal: controller.signal }) };
    ctx.prefetched.promise.catch(() => {});
  }
  try {
    if (route.params.project !== undefined) {
      ctx.project = await loadProject(route.params.project, controller.signal);
      ctx.env = chooseEnv(ctx.project, route.query.get('env'));
      if (ctx.env) { try { window.sessionStorage.setItem(`vane.env.${ctx.project.key}`, ctx.env); } catch { /* ignore */ } }
    }
    if (controller.signal.aborted) return;
    renderSidenav(route, ctx);
    ctx.setTitle(typeof route.view.title === 'function' ? route.view.title(ctx) : route.view.title || 'Vane');
    replace(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    await route.view.render(ctx);
    if (!controller.signal.aborted) {
      const heading = main.querySelector('h1');
      if (heading && document.activeElement === document.body) heading.focus({ preventScroll: true });
    }
  } catch (e) {
    if (controller.signal.aborted || (e && e.name === 'AbortError')) return;
    if (e instanceof ApiError && e.status === 401) return;
    replace(main, h('h1', {}, 'Something went wrong'), errorBox(e),
      h('p', {}, h('a', { href: `${BASE}/projects` }, 'Back to the projects')));
  }
}

function notFound({ path: local }) {
  if (local === '/' || local === '') { router.navigate(`${BASE}/projects`, { replace: true }); return; }
  if (current) { current.controller.abort(); current = null; }
  replace(sidenav);
  replace(main, h('h1', {}, 'Page not found'), h('p', {}, `There is no dashboard page at ${local}.`),
    h('p', {}, h('a', { href: `${BASE}/projects` }, 'Go to the projects')));
}

function onLiveChange() {
  projectCache = new Map();
  if (!current || current.paused) return;
  for (const fn of current.refreshers) {
    try {
      const result = fn();
      if (result && result.catch) result.catch(() => {});
    } catch { /* a view's refresh failing must not stop the others */ }
  }
}

function start() {
  renderTopbar();
  if (!router) router = createRouter({ views, onRoute, notFound });
  router.resolve();
  if (!live) live = startLive(api, onLiveChange);
}

async function boot() {
  if (!token) { renderSignIn(); return; }
  const known = storedIdentity();
  if (known && known.role) { me = known; start(); return; }
  try {
    me = await whoAmI(api);
    storeToken(token, me);
    start();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // signOut already showed the sign-in form
    replace(main, h('h1', {}, 'Vane cannot be reached'), errorBox(e));
  }
}

boot();
