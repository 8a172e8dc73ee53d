// Client-side routing under /ui: every page has its own URL, the server answers index.html for all of them,
// and this module maps the path to a view. Pure functions (compile, match, href) are tested with node --test.

export const BASE = '/ui';

/** Compiles '/projects/:project/flags/:flag' to a matcher. */
export function compile(pattern) {
  const names = [];
  const source = pattern.split('/').map((part) => {
    if (part.startsWith(':')) { names.push(part.slice(1)); return '([^/]+)'; }
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/');
  const regex = new RegExp(`^${source}/?$`);
  return (pathname) => {
    const m = regex.exec(pathname);
    if (!m) return null;
    const params = {};
    names.forEach((n, i) => {
      try { params[n] = decodeURIComponent(m[i + 1]); } catch { params[n] = m[i + 1]; }
    });
    return params;
  };
}

/** Finds the first view whose path matches `pathname` (relative to BASE). */
export function match(views, pathname) {
  for (const view of views) {
    if (!view._match) view._match = compile(view.path);
    const params = view._match(pathname);
    if (params) return { view, params };
  }
  return null;
}

/**
 * The URL of a view path with its parameters filled in (each encoded as one segment) and a query:
 * href('/projects/:project/flags', {project: 'shop'}, {env: 'production'}) → '/ui/projects/shop/flags?env=production'
 */
export function href(pattern, params = {}, query = {}) {
  const filled = pattern.split('/').map((part) => {
    if (!part.startsWith(':')) return part;
    const value = params[part.slice(1)];
    if (value === undefined || value === null) throw new Error(`href: missing ${part}`);
    return encodeURIComponent(String(value));
  }).join('/');
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const q = qs.toString();
  return BASE + (filled === '/' ? '/' : filled) + (q ? `?${q}` : '');
}

/** The path below BASE of a location pathname ('/ui/projects' → '/projects', '/ui/' → '/'). */
export function localPath(pathname) {
  if (!pathname.startsWith(BASE)) return null;
  const rest = pathname.slice(BASE.length);
  return rest === '' ? '/' : rest;
}

/**
 * Starts routing: calls `onRoute({view, params, query, url})` for the current URL, on back/forward and
 * on navigate(). Clicks on same-origin links under /ui are handled here (no full reload).
 */
export function createRouter({ views, onRoute, notFound }) {
  function resolve() {
    const local = localPath(window.location.pathname) ?? '/';
    const found = match(views, local);
    const query = new URLSearchParams(window.location.search);
    if (found) onRoute({ ...found, query, url: window.location.pathname + window.location.search });
    else notFound({ path: local, query });
  }
  function navigate(url, { replace = false } = {}) {
    if (replace) window.history.replaceState(null, '', url);
    else if (url !== window.location.pathname + window.location.search) window.history.pushState(null, '', url);
    resolve();
  }
  window.addEventListener('popstate', resolve);
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = event.target.closest && event.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, window.location.href);
    if (url.origin !== window.location.origin || localPath(url.pathname) === null || url.pathname.startsWith(`${BASE}/assets/`)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  return { navigate, resolve };
}
