// DOM helpers. The dashboard NEVER parses data as HTML: there is no innerHTML, outerHTML,
// insertAdjacentHTML or document.write anywhere. Everything a user or an SDK supplied becomes a text node
// (children that are strings) or an attribute value set with setAttribute, which the browser never parses
// as markup. `href` values are checked so that `javascript:` URLs cannot be created from data.

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(parent, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) { for (const c of child) append(parent, c); return; }
  if (child instanceof Node) { parent.appendChild(child); return; }
  parent.appendChild(document.createTextNode(String(child)));
}

/** A safe URL for href/src: same-origin paths, fragments, http(s) and mailto only. */
export function safeURL(value) {
  const text = String(value);
  if (text.startsWith('/') && !text.startsWith('//')) return text;
  if (text.startsWith('#') || text.startsWith('?')) return text;
  if (/^(https?:|mailto:)/i.test(text)) return text;
  return '#';
}

function setProps(el, props) {
  if (!props) return;
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'style' && typeof value === 'object') {
      // CSSOM, allowed by the Content-Security-Policy (style attributes are not).
      for (const [k, v] of Object.entries(value)) el.style.setProperty(k, String(v));
    } else if (name === 'class') {
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value));
    } else if (name === 'value' && 'value' in el) {
      el.value = String(value);
    } else if (name === 'checked' || name === 'disabled' || name === 'selected' || name === 'hidden'
               || name === 'required' || name === 'readOnly' || name === 'multiple') {
      el[name] = Boolean(value);
      if (name === 'disabled' || name === 'hidden' || name === 'required') el.setAttribute(name, '');
    } else if (name === 'ref' && typeof value === 'function') {
      value(el);
    } else if (name === 'href' || name === 'src' || name === 'action') {
      el.setAttribute(name, safeURL(value));
    } else if (name === 'innerHTML' || name === 'outerHTML' || name === 'srcdoc') {
      throw new Error(`dom: ${name} is not allowed`);
    } else {
      el.setAttribute(name, value === true ? '' : String(value));
    }
  }
}

/**
 * h('button', {class: 'primary', 'data-testid': 'save', onclick: fn}, 'Save')
 * Strings, numbers and nested arrays become text; null/undefined/false are skipped.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/** The same for SVG elements (charts). */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (props) {
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
      else if (name === 'href') el.setAttribute(name, safeURL(value));
      else el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A DocumentFragment of children (fast bulk insertion). */
export function fragment(...children) {
  const f = document.createDocumentFragment();
  append(f, children);
  return f;
}

let idCounter = 0;
/** A unique element id, for label/aria wiring. */
export function uid(prefix = 'v') { idCounter += 1; return `${prefix}-${idCounter}`; }

/** A labelled form field: returns the wrapper; the control gets an id and the label points at it. */
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const hintEl = hint ? h('small', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}
