// Page structure shared by the views: a header with the title, the environment picker and actions.
import { h } from '../dom.js';
import { envPicker } from './widgets.js';

/**
 * pageHeader(ctx, {title, subtitle, actions: [nodes], env: true})
 * With env: true (project pages), an environment picker that switches `?env=` and re-renders the page.
 */
export function pageHeader(ctx, { title, subtitle, actions = [], env = false }) {
  const picker = env && ctx.project && ctx.project.environments.length
    ? h('label', { class: 'env-label' }, 'Environment ', envPicker(ctx.project.environments, ctx.env,
      (key) => ctx.setQuery({ env: key }, { render: true })))
    : null;
  return h('div', { class: 'page-header' },
    h('div', {}, h('h1', { tabindex: '-1', 'data-testid': 'page-title' }, title), subtitle ? h('p', { class: 'muted' }, subtitle) : null),
    h('div', { class: 'page-actions' }, picker, actions));
}

/** A section with a heading. */
export function section(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, children);
}
