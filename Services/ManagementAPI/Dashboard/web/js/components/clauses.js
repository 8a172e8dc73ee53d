// An editor of a list of clauses (all must match): context kind, attribute, operator (every operator), negation and
// values (one per line). Used by the segment rules; the flag page's targeting editor has its own, richer one.
import { h, replace } from '../dom.js';
import { OPERATORS, parseClauseValues, clauseValuesText, clauseText } from '../flagmodel.js';

/** A new empty clause. */
export function emptyClause() { return { contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }; }

/**
 * clauseList({clauses, readOnly, prefix, label, segments}) → element; edits `clauses` in place.
 * `prefix` names the data-testids (`${prefix}-clause-${j}-attribute`, …); `segments`: keys for segmentMatch.
 */
export function clauseList({ clauses, readOnly = false, prefix, label, segments = [] }) {
  const root = h('div', { class: 'clauses' });
  function render() {
    replace(root, clauses.map((clause, j) => one(clause, j)),
      readOnly ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': `${prefix}-add-clause`,
        onclick: () => { clauses.push(emptyClause()); render(); },
      }, 'Add clause (and)'));
  }
  function one(clause, j) {
    const id = `${prefix}-clause-${j}`;
    const name = `${label} clause ${j + 1}`;
    const summary = h('p', { class: 'small muted', 'aria-live': 'polite' }, clauseText(clause));
    const update = () => { summary.textContent = clauseText(clause); };
    const kind = h('input', {
      type: 'text', size: '8', value: clause.contextKind || 'user', disabled: readOnly, 'data-testid': `${id}-kind`,
      'aria-label': `${name} context kind`,
      oninput: () => { clause.contextKind = kind.value.trim() || 'user'; update(); },
    });
    const attribute = h('input', {
      type: 'text', size: '14', value: clause.attribute || '', placeholder: 'email', disabled: readOnly || clause.op === 'segmentMatch',
      'data-testid': `${id}-attribute`, 'aria-label': `${name} attribute`,
      oninput: () => { clause.attribute = attribute.value.trim(); update(); },
    });
    const op = h('select', {
      disabled: readOnly, 'data-testid': `${id}-op`, 'aria-label': `${name} operator`,
      onchange: () => { clause.op = op.value; if (clause.op === 'segmentMatch') clause.attribute = '';
        clause.values = parseClauseValues(clause.op, values.value); render(); },
    }, OPERATORS.map(([k, t]) => h('option', { value: k, selected: k === clause.op }, t)));
    const negate = h('input', {
      type: 'checkbox', checked: Boolean(clause.negate), disabled: readOnly, 'data-testid': `${id}-negate`,
      onchange: () => { clause.negate = negate.checked; update(); },
    });
    const values = h('textarea', {
      rows: '2', disabled: readOnly, 'data-testid': `${id}-values`, 'aria-label': `${name} values, one per line`,
      placeholder: clause.op === 'segmentMatch' ? segments.join('\n') || 'segment keys' : 'one value per line',
      oninput: () => { clause.values = parseClauseValues(clause.op, values.value); update(); },
    });
    values.value = clauseValuesText(clause.values);
    return h('div', { class: 'clause', 'data-testid': id },
      h('div', { class: 'row' }, kind, attribute, h('label', { class: 'checkbox' }, negate, ' not'), op,
        readOnly || clauses.length < 2 ? null : h('button', {
          type: 'button', class: 'small', 'data-testid': `${id}-delete`, 'aria-label': `Remove ${name}`,
          onclick: () => { clauses.splice(j, 1); render(); },
        }, 'Remove')),
      values, summary);
  }
  render();
  return root;
}
