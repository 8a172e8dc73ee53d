// Transient notices (bottom right, announced to screen readers) and inline error boxes.
import { h } from '../dom.js';

export function notify(message, kind = 'info', timeout = 4000) {
  const host = document.getElementById('notices');
  if (!host) return;
  const item = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message,
    h('button', { type: 'button', class: 'link', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  host.appendChild(item);
  if (timeout) setTimeout(() => item.remove(), kind === 'error' ? timeout * 2 : timeout);
}

/** An inline error box for an ApiError or any Error (role=alert, data-testid="error"). */
export function errorBox(error) {
  const message = error && (error.readable || error.message) ? (error.readable || error.message) : String(error);
  return h('div', { class: 'error-box', role: 'alert', 'data-testid': 'error' }, message);
}
