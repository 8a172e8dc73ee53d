// Small reusable controls: an on/off switch, a copy button, badges, times, an environment picker, empty states.
import { h } from '../dom.js';
import { notify } from './notice.js';

/**
 * An accessible on/off switch: <button role="switch" aria-checked>. `onToggle(next)` decides (it may ask for
 * confirmation and return false to keep the state); the switch updates only if it resolves true.
 */
export function toggleSwitch({ checked, label, testid, disabled = false, onToggle }) {
  const button = h('button', {
    type: 'button', role: 'switch', class: 'switch', 'aria-checked': checked ? 'true' : 'false',
    'aria-label': label, 'data-testid': testid, disabled,
  }, h('span', { class: 'knob', 'aria-hidden': 'true' }), h('span', { class: 'switch-text' }, checked ? 'On' : 'Off'));
  button.addEventListener('click', async () => {
    const current = button.getAttribute('aria-checked') === 'true';
    button.disabled = true;
    try {
      if (await onToggle(!current)) setSwitch(button, !current);
    } finally {
      button.disabled = disabled;
    }
  });
  return button;
}

export function setSwitch(button, checked) {
  button.setAttribute('aria-checked', checked ? 'true' : 'false');
  const text = button.querySelector('.switch-text');
  if (text) text.textContent = checked ? 'On' : 'Off';
}

/** A button that copies `value` to the clipboard. */
export function copyButton(value, label = 'Copy', testid) {
  return h('button', {
    type: 'button', class: 'small', 'data-testid': testid, 'aria-label': label,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        notify('Copied to the clipboard');
      } catch {
        notify('The browser refused the clipboard; select the text and copy it instead', 'error');
      }
    },
  }, 'Copy');
}

export function badge(text, kind = '', title, testid) {
  return h('span', { class: `badge ${kind}`, title, 'data-testid': testid }, text);
}

/** '3 min ago' for a time within a day, else the date; the exact time as a tooltip. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const seconds = Math.round((now - t) / 1000);
  if (seconds < 0) return new Date(t).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 86400 * 30) return `${Math.floor(seconds / 86400)} days ago`;
  return new Date(t).toISOString().slice(0, 10);
}

export function timeEl(iso) {
  return h('time', { datetime: iso || undefined, title: iso || undefined }, relativeTime(iso));
}

/** A <select> of the project's environments; `onChange(key)`. */
export function envPicker(environments, current, onChange, testid = 'env') {
  const select = h('select', { 'data-testid': testid, 'aria-label': 'Environment', onchange: () => onChange(select.value) },
    environments.map((e) => h('option', { value: e.key, selected: e.key === current }, `${e.name} (${e.key})`)));
  return select;
}

export function empty(text, ...actions) {
  return h('div', { class: 'empty' }, h('p', {}, text), actions);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}
