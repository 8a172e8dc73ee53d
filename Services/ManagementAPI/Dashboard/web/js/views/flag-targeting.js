// The targeting editor of one flag in one environment: on/off, prerequisites, individual targets per context kind,
// rules (clauses with every operator, negation, segment match, context kinds; reordering), percentage rollouts that
// always sum to 100 %, the default rule (fallthrough) and the off variation. Edits change a draft; nothing is sent
// until "Review and save" shows the diff and the user confirms. Saving sends If-Match with the version the draft
// started from, so a concurrent change is refused (412) and said so, never overwritten.
import { h, field, replace, uid } from '../dom.js';
import { toggleSwitch } from '../components/widgets.js';
import {
  OPERATORS, FULL, rebalance, parsePercent, percentText, parseClauseValues, clauseValuesText, move, draftFrom, bodyFrom,
  serveKind, rolloutFor, weightsOf, clauseText, variationLabel,
} from '../flagmodel.js';

/**
 * targetingEditor({flag, targeting, readOnly, segments, flags, onChange}) → {element, draft(), body(), dirty()}
 * `segments`: keys of the environment's segments; `flags`: other flags of the project [{key, name, variations}].
 */
export function targetingEditor({ flag, targeting, readOnly, segments = [], flags = [] }) {
  const draft = draftFrom(targeting);
  const initial = JSON.stringify(bodyFrom(draftFrom(targeting)));
  const root = h('fieldset', { class: 'targeting', disabled: readOnly, 'data-testid': 'targeting-editor' });
  const nVariations = flag.variations.length;
  const segmentList = h('datalist', { id: uid('segments') }, segments.map((s) => h('option', { value: s })));

  function variationOptions(selected, { allowNone = false, noneLabel = 'none: the SDK\'s default value' } = {}) {
    const options = flag.variations.map((_, i) => h('option', { value: String(i), selected: selected === i },
      `${i}: ${variationLabel(flag, i)}`));
    if (allowNone) options.unshift(h('option', { value: '', selected: selected === null || selected === undefined }, noneLabel));
    return options;
  }

  function rerender() {
    const active = document.activeElement?.getAttribute?.('data-testid');
    replace(root, h('legend', { class: 'sr-only' }, 'Targeting'), segmentList,
      onSection(), prerequisitesSection(), targetsSection(), rulesSection(), fallthroughSection(), offSection());
    if (active) {
      const again = root.querySelector(`[data-testid="${CSS.escape(active)}"]`);
      if (again) again.focus();
    }
  }

  // MARK: sections

  function onSection() {
    const explanation = (on) => (on ? ' Rules and targets apply.' : ' Every context gets the off variation.');
    const hint = h('span', { class: 'muted small' }, explanation(draft.on));
    const sw = readOnly
      ? h('span', { class: `badge ${draft.on ? 'ok' : ''}`, 'data-testid': 'targeting-state' }, draft.on ? 'On' : 'Off')
      : toggleSwitch({
        checked: draft.on, label: 'Targeting on', testid: 'targeting-on',
        // The hint follows the switch (it used to keep saying what the flag did before the toggle).
        onToggle: async (next) => { draft.on = next; hint.textContent = explanation(next); return true; },
      });
    return h('div', { class: 'targeting-on' }, h('strong', {}, 'Targeting '), sw, hint);
  }

  function prerequisitesSection() {
    const others = flags.filter((f) => f.key !== flag.key);
    return h('section', { class: 'card sub' }, h('h3', {}, 'Prerequisites'),
      h('p', { class: 'muted small' }, 'This flag is on only for contexts that get the given variation of each prerequisite.'),
      draft.prerequisites.map((p, i) => {
        const prereqFlag = others.find((f) => f.key === p.key);
        const flagSelect = h('select', {
          'data-testid': `prereq-${i}-flag`, 'aria-label': `Prerequisite ${i + 1} flag`,
          onchange: () => { p.key = flagSelect.value; p.variation = 0; rerender(); },
        }, others.map((f) => h('option', { value: f.key, selected: f.key === p.key }, `${f.name} (${f.key})`)),
        prereqFlag ? null : h('option', { value: p.key, selected: true }, p.key));
        const variationSelect = h('select', {
          'data-testid': `prereq-${i}-variation`, 'aria-label': `Prerequisite ${i + 1} variation`,
          onchange: () => { p.variation = Number(variationSelect.value); },
        }, (prereqFlag?.variations || [{ value: p.variation }]).map((v, j) => h('option', { value: String(j), selected: j === p.variation },
          `${j}: ${v.name || JSON.stringify(v.value)}`)));
        return h('div', { class: 'row' }, flagSelect, ' must serve ', variationSelect,
          readOnly ? null : h('button', { type: 'button', class: 'small', 'data-testid': `prereq-${i}-delete`,
            onclick: () => { draft.prerequisites.splice(i, 1); rerender(); } }, 'Remove'));
      }),
      readOnly || !others.length ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': 'add-prerequisite',
        onclick: () => { draft.prerequisites.push({ key: others[0].key, variation: 0 }); rerender(); },
      }, 'Add prerequisite'));
  }

  function targetsSection() {
    return h('section', { class: 'card sub' }, h('h3', {}, 'Individual targets'),
      h('p', { class: 'muted small' }, 'Context keys that always get a variation, per context kind (one key per line or comma-separated).'),
      draft.groups.map((g, i) => {
        const kind = h('input', {
          type: 'text', value: g.contextKind, 'data-testid': `target-${i}-kind`,
          'aria-label': `Target group ${i + 1} context kind`, size: '10',
          oninput: () => { g.contextKind = kind.value.trim() || 'user'; },
        });
        const variation = h('select', {
          'data-testid': `target-${i}-variation`, 'aria-label': `Target group ${i + 1} variation`,
          onchange: () => { g.variation = Number(variation.value); },
        }, variationOptions(g.variation));
        const values = h('textarea', {
          rows: '2', 'data-testid': `target-${i}-values`, 'aria-label': `Target group ${i + 1} keys`,
          oninput: () => { g.values = values.value.split(/[\n,]/).map((v) => v.trim()).filter(Boolean); },
        });
        values.value = g.values.join('\n');
        return h('div', { class: 'target-group' },
          h('div', { class: 'row' }, h('label', {}, 'Kind ', kind), h('label', {}, ' serve ', variation),
            h('span', { class: 'muted small' }, ` ${g.values.length} key${g.values.length === 1 ? '' : 's'}`),
            readOnly ? null : h('button', { type: 'button', class: 'small', 'data-testid': `target-${i}-delete`,
              onclick: () => { draft.groups.splice(i, 1); rerender(); } }, 'Remove')),
          values);
      }),
      readOnly ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': 'add-target',
        onclick: () => { draft.groups.push({ contextKind: 'user', variation: 0, values: [] }); rerender(); },
      }, 'Add targets'));
  }

  function serveEditor(owner, prefix, label) {
    const kindSelect = h('select', {
      'data-testid': `${prefix}-serve`, 'aria-label': `${label}: serve`,
      onchange: () => {
        if (kindSelect.value === 'rollout') {
          const previous = Number.isInteger(owner.variation) ? owner.variation : 0;
          delete owner.variation;
          owner.rollout = rolloutFor(nVariations, previous);
        } else {
          delete owner.rollout;
          owner.variation = Number(kindSelect.value);
        }
        rerender();
      },
    }, flag.variations.map((_, i) => h('option', { value: String(i), selected: serveKind(owner) === 'variation' && owner.variation === i },
      `${i}: ${variationLabel(flag, i)}`)),
    h('option', { value: 'rollout', selected: serveKind(owner) === 'rollout' }, 'a percentage rollout'));
    return h('div', { class: 'serve' }, h('label', {}, 'Serve ', kindSelect), serveKind(owner) === 'rollout'
      ? rolloutEditor(owner, prefix, label) : null);
  }

  function rolloutEditor(owner, prefix, label) {
    const total = h('span', { class: 'muted small', 'data-testid': `${prefix}-total` });
    const inputs = [];
    const sliders = [];
    function weights() { return weightsOf(owner.rollout, nVariations); }
    function setWeights(w) {
      owner.rollout.variations = w.map((weight, variation) => ({ variation, weight }));
      w.forEach((weight, i) => {
        if (document.activeElement !== inputs[i]) inputs[i].value = String(weight / 1000);
        sliders[i].value = String(weight);
      });
      total.textContent = `total ${percentText(w.reduce((a, b) => a + b, 0))}`;
    }
    const rows = flag.variations.map((_, i) => {
      const input = h('input', {
        type: 'number', min: '0', max: '100', step: '0.001', 'data-testid': `${prefix}-weight-${i}`,
        'aria-label': `${label}: percentage for variation ${i} (${variationLabel(flag, i)})`, class: 'percent',
      });
      const slider = h('input', {
        type: 'range', min: '0', max: String(FULL), step: '1000', 'aria-label': `${label}: slider for variation ${i}`,
        'data-testid': `${prefix}-slider-${i}`,
      });
      input.addEventListener('input', () => {
        const w = parsePercent(input.value);
        if (w !== null) setWeights(rebalance(weights(), i, w));
      });
      input.addEventListener('change', () => setWeights(weights()));
      slider.addEventListener('input', () => setWeights(rebalance(weights(), i, Number(slider.value))));
      inputs.push(input);
      sliders.push(slider);
      return h('div', { class: 'weight-row' }, h('span', { class: 'weight-label' }, `${i}: ${variationLabel(flag, i)}`), slider, input,
        '%');
    });
    const bucketBy = h('input', {
      type: 'text', value: owner.rollout.bucketBy || '', placeholder: 'key', size: '12', 'data-testid': `${prefix}-bucket-by`,
      oninput: () => { if (bucketBy.value.trim()) owner.rollout.bucketBy = bucketBy.value.trim(); else delete owner.rollout.bucketBy; },
    });
    const contextKind = h('input', {
      type: 'text', value: owner.rollout.contextKind || '', placeholder: 'user', size: '10', 'data-testid': `${prefix}-rollout-kind`,
      oninput: () => { if (contextKind.value.trim()) owner.rollout.contextKind = contextKind.value.trim();
        else delete owner.rollout.contextKind; },
    });
    const element = h('div', { class: 'rollout' }, rows, total,
      h('div', { class: 'row small' }, h('label', {}, 'Bucket by attribute ', bucketBy), h('label', {}, ' of context kind ', contextKind)));
    // Normalise at once: a stored rollout that sums below 100 % is shown (and saved) with the rest on the last variation.
    const w = weights();
    const sum = w.reduce((a, b) => a + b, 0);
    if (sum !== FULL && w.length) w[w.length - 1] += FULL - sum;
    setWeights(w);
    return element;
  }

  function clauseEditor(rule, ruleIndex, clause, j) {
    const prefix = `rule-${ruleIndex}-clause-${j}`;
    const isSegment = clause.op === 'segmentMatch';
    const kind = h('input', {
      type: 'text', value: clause.contextKind || 'user', size: '8', 'data-testid': `${prefix}-kind`,
      'aria-label': `Rule ${ruleIndex + 1} clause ${j + 1} context kind`,
      oninput: () => { clause.contextKind = kind.value.trim() || 'user'; summary(); },
    });
    const attribute = h('input', {
      type: 'text', value: clause.attribute || '', size: '14', placeholder: 'email', 'data-testid': `${prefix}-attribute`,
      'aria-label': `Rule ${ruleIndex + 1} clause ${j + 1} attribute`,
      oninput: () => { clause.attribute = attribute.value.trim(); summary(); },
    });
    const op = h('select', {
      'data-testid': `${prefix}-op`, 'aria-label': `Rule ${ruleIndex + 1} clause ${j + 1} operator`,
      onchange: () => { clause.op = op.value; clause.values = parseClauseValues(clause.op, values.value); rerender(); },
    }, OPERATORS.map(([k, t]) => h('option', { value: k, selected: k === clause.op }, t)));
    const negate = h('input', {
      type: 'checkbox', checked: Boolean(clause.negate), 'data-testid': `${prefix}-negate`,
      onchange: () => { clause.negate = negate.checked; summary(); },
    });
    const values = h('textarea', {
      rows: '2', 'data-testid': `${prefix}-values`, 'aria-label': `Rule ${ruleIndex + 1} clause ${j + 1} values, one per line`,
      placeholder: isSegment ? 'segment keys, one per line' : 'one value per line',
      oninput: () => { clause.values = parseClauseValues(clause.op, values.value); summary(); },
    });
    values.value = clauseValuesText(clause.values);
    const segmentPicker = isSegment && segments.length ? h('input', {
      type: 'text', list: segmentList.id, placeholder: 'add a segment', size: '14', 'aria-label': 'Add a segment',
      'data-testid': `${prefix}-segment`,
      onchange: (event) => {
        const key = event.target.value.trim();
        if (key && !clause.values.includes(key)) { clause.values = [...clause.values, key];
          values.value = clauseValuesText(clause.values); summary(); }
        event.target.value = '';
      },
    }) : null;
    return h('div', { class: 'clause', 'data-testid': prefix },
      isSegment ? null : kind, isSegment ? null : attribute,
      h('label', { class: 'checkbox small' }, negate, ' not'), op, values, segmentPicker,
      readOnly || rule.clauses.length < 2 ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': `${prefix}-delete`, 'aria-label': `Remove clause ${j + 1}`,
        onclick: () => { rule.clauses.splice(j, 1); rerender(); },
      }, '×'));
  }

  const summaries = [];
  function summary() {
    for (const fn of summaries) fn();
  }

  function rulesSection() {
    summaries.length = 0;
    return h('section', { class: 'card sub' }, h('h3', {}, 'Rules'),
      h('p', { class: 'muted small' }, 'Evaluated in order; the first rule whose clauses all match decides.'),
      draft.rules.map((rule, i) => {
        const title = h('p', { class: 'rule-summary', 'data-testid': `rule-${i}-summary` });
        const update = () => {
          const serve = serveKind(rule) === 'rollout'
            ? `a rollout (${weightsOf(rule.rollout, nVariations).map((w, k) => `${percentText(w)} ${variationLabel(flag, k)}`).join(', ')})`
            : variationLabel(flag, rule.variation);
          title.textContent = `If ${rule.clauses.map(clauseText).join(' and ')} then serve ${serve}`;
        };
        summaries.push(update);
        update();
        const description = h('input', {
          type: 'text', value: rule.description || '', placeholder: 'description (optional)', 'data-testid': `rule-${i}-description`,
          'aria-label': `Rule ${i + 1} description`, oninput: () => { if (description.value.trim()) rule.description = description.value;
            else delete rule.description; },
        });
        return h('article', { class: 'rule', 'data-testid': `rule-${i}` },
          h('header', { class: 'row' }, h('strong', {}, `Rule ${i + 1}`), description,
            readOnly ? null : [
              h('button', { type: 'button', class: 'small', 'data-testid': `rule-${i}-up`, disabled: i === 0,
                'aria-label': `Move rule ${i + 1} up`, onclick: () => { draft.rules = move(draft.rules, i, i - 1); rerender(); } }, '↑'),
              h('button', { type: 'button', class: 'small', 'data-testid': `rule-${i}-down`, disabled: i === draft.rules.length - 1,
                'aria-label': `Move rule ${i + 1} down`, onclick: () => { draft.rules = move(draft.rules, i, i + 1); rerender(); } }, '↓'),
              h('button', { type: 'button', class: 'small danger', 'data-testid': `rule-${i}-delete`,
                onclick: () => { draft.rules.splice(i, 1); rerender(); } }, 'Delete rule'),
            ]),
          title,
          rule.clauses.map((c, j) => clauseEditor(rule, i, c, j)),
          readOnly ? null : h('button', {
            type: 'button', class: 'small', 'data-testid': `rule-${i}-add-clause`,
            onclick: () => { rule.clauses.push({ contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }); rerender(); },
          }, 'Add clause (and)'),
          serveEditor(rule, `rule-${i}`, `Rule ${i + 1}`));
      }),
      readOnly ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': 'add-rule',
        onclick: () => {
          draft.rules.push({ clauses: [{ contextKind: 'user', attribute: '', op: 'in', values: [], negate: false }], variation: 0 });
          rerender();
          const attr = root.querySelector(`[data-testid="rule-${draft.rules.length - 1}-clause-0-attribute"]`);
          if (attr) attr.focus();
        },
      }, 'Add rule'));
  }

  function fallthroughSection() {
    return h('section', { class: 'card sub' }, h('h3', {}, 'Default rule'),
      h('p', { class: 'muted small' }, 'Contexts that match no target and no rule.'),
      serveEditor(draft.fallthrough, 'fallthrough', 'Default rule'));
  }

  function offSection() {
    const select = h('select', {
      'data-testid': 'off-variation', onchange: () => { draft.offVariation = select.value === '' ? null : Number(select.value); },
    }, variationOptions(draft.offVariation, { allowNone: true }));
    return h('section', { class: 'card sub' }, h('h3', {}, 'When targeting is off'), field('Serve', select));
  }

  rerender();
  return {
    element: root,
    body: () => bodyFrom(draft),
    dirty: () => JSON.stringify(bodyFrom(draft)) !== initial,
  };
}
