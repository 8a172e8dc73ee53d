// /ui/projects/{p}/segments/{s}?env={e}: one segment: name and description, the included and excluded context keys
// (per context kind, with paste-in of many keys at once), and rules (clauses, optional percentage and bucketing).
// Saving shows the diff, asks for an optional audit comment, and refuses when someone else saved in between.
import { h, field, replace } from '../dom.js';
import { pageHeader, section } from '../components/layout.js';
import { errorBox, notify } from '../components/notice.js';
import { confirmDialog } from '../components/dialog.js';
import { diffView } from '../components/diff.js';
import { clauseList, emptyClause } from '../components/clauses.js';
import { clauseText } from '../flagmodel.js';
import { mergeKeys, overlap, segmentDraft, segmentBody, weightPercent, parseWeight } from '../segmentmodel.js';
import { useFeatureStyles } from '../featurestyle.js';

export default {
  path: '/projects/:project/segments/:segment',
  title: (ctx) => `Segment ${ctx.params.segment} · ${ctx.project.name}`,
  render,
};

async function render(ctx) {
  useFeatureStyles();
  const url = ctx.path`/projects/${ctx.project.key}/environments/${ctx.env}/segments/${ctx.params.segment}`;
  const listHref = ctx.href('/projects/:project/segments', { project: ctx.project.key }, { env: ctx.env });
  let segment;
  try {
    ({ data: segment } = await ctx.api.get(url, { signal: ctx.signal }));
  } catch (error) {
    if (error.status === 404) {
      replace(ctx.main, pageHeader(ctx, { title: ctx.params.segment, env: true }),
        errorBox(new Error(`There is no segment "${ctx.params.segment}" in ${ctx.env}.`)),
        h('p', {}, h('a', { href: listHref }, 'All segments')));
      return;
    }
    throw error;
  }
  let segmentKeys = [];
  ctx.api.get(ctx.path`/projects/${ctx.project.key}/environments/${ctx.env}/segments`, { signal: ctx.signal })
    .then(({ data }) => { segmentKeys = data.items.map((s) => s.key).filter((k) => k !== segment.key); }, () => {});

  const readOnly = !ctx.canWrite;
  let draft = segmentDraft(segment);
  let baseVersion = segment.version;
  const editor = h('div', {});
  const status = h('div', { 'aria-live': 'polite' });

  function keyList(which, title) {
    const box = h('div', { class: 'key-box', 'data-testid': `${which}-list` });
    const count = h('span', { class: 'muted small', 'data-testid': `${which}-count` });
    const filter = h('input', { type: 'search', placeholder: 'filter', 'aria-label': `Filter ${title}`, autocomplete: 'off' });
    function renderList() {
      const q = filter.value.trim().toLowerCase();
      const shown = draft[which].filter((k) => !q || k.toLowerCase().includes(q));
      count.textContent = `${draft[which].length} key${draft[which].length === 1 ? '' : 's'}`;
      replace(box, shown.slice(0, 500).map((k) => h('span', { class: 'key-chip', 'data-testid': `${which}-key` }, k,
        readOnly ? null : h('button', {
          type: 'button', class: 'link', 'aria-label': `Remove ${k} from ${title}`,
          onclick: () => { draft[which] = draft[which].filter((x) => x !== k); renderList(); },
        }, '×'))), shown.length > 500 ? h('p', { class: 'small muted' }, `… and ${shown.length - 500} more (filter to find them)`) : null);
    }
    filter.addEventListener('input', renderList);
    renderList();
    let paste = null;
    if (!readOnly) {
      const text = h('textarea', { rows: '3', 'data-testid': `${which}-paste`,
        placeholder: 'user-1\nuser-2, user-3', spellcheck: 'false' });
      const add = h('button', {
        type: 'button', class: 'small', 'data-testid': `${which}-add`,
        onclick: () => {
          const { list: merged, added, duplicates } = mergeKeys(draft[which], text.value);
          draft[which] = merged;
          text.value = '';
          renderList();
          notify(`${added} key${added === 1 ? '' : 's'} added${duplicates ? `, ${duplicates} already there` : ''} (not saved yet)`);
        },
      }, 'Add keys');
      paste = h('div', {}, field(`Paste keys to add to ${title.toLowerCase()} (one per line or comma-separated)`, text), add);
    }
    return h('section', { class: 'card sub' }, h('h3', {}, title, ' ', count), filter, box, paste);
  }

  function rulesSection() {
    const host = h('div', {});
    function renderRules() {
      replace(host, draft.rules.map((rule, i) => {
        const weight = h('input', {
          type: 'text', size: '6', value: weightPercent(rule.weight), disabled: readOnly, 'data-testid': `segment-rule-${i}-weight`,
          'aria-label': `Rule ${i + 1} percentage of matching contexts included (empty: all)`, placeholder: 'all',
          oninput: () => { const w = parseWeight(weight.value); rule.weight = Number.isNaN(w) ? rule.weight : w; },
        });
        return h('div', { class: 'rule', 'data-testid': `segment-rule-${i}` },
          h('header', { class: 'row' }, h('strong', {}, `Rule ${i + 1}`),
            h('span', { class: 'small muted' }, rule.clauses.map(clauseText).join(' and ')),
            readOnly ? null : h('button', { type: 'button', class: 'small', 'data-testid': `segment-rule-${i}-delete`,
              onclick: () => { draft.rules.splice(i, 1); renderRules(); } }, 'Remove rule')),
          clauseList({ clauses: rule.clauses, readOnly, prefix: `segment-rule-${i}`, label: `Rule ${i + 1}`, segments: segmentKeys }),
          h('div', { class: 'row' }, h('label', {}, 'Include ', weight, ' % of the matching contexts')));
      }), readOnly ? null : h('button', {
        type: 'button', class: 'small', 'data-testid': 'segment-add-rule',
        onclick: () => { draft.rules.push({ clauses: [emptyClause()], weight: null }); renderRules(); },
      }, 'Add rule'));
    }
    renderRules();
    return h('section', { class: 'card sub' }, h('h3', {}, 'Rules'),
      h('p', { class: 'small muted' }, 'A context is in the segment when it is included, or not excluded and matches any rule.'), host);
  }

  function renderEditor() {
    const name = h('input', { type: 'text', value: draft.name, disabled: readOnly, 'data-testid': 'segment-name',
      oninput: () => { draft.name = name.value; } });
    const description = h('textarea', { rows: '2', disabled: readOnly, 'data-testid': 'segment-description',
      oninput: () => { draft.description = description.value; } });
    description.value = draft.description;
    const kinds = [...(draft.includedContexts || []), ...(draft.excludedContexts || [])];
    replace(editor,
      section('About', field('Name', name), field('Description', description)),
      h('div', { class: 'two-col' }, keyList('included', 'Included'), keyList('excluded', 'Excluded')),
      kinds.length ? section('Other context kinds', h('ul', {}, kinds.map((c) => h('li', {}, `${c.contextKind}: ${c.values.join(', ')}`))))
        : null,
      rulesSection());
  }

  async function save() {
    replace(status);
    const bad = draft.rules.findIndex((r) => Number.isNaN(r.weight));
    if (bad >= 0) { replace(status, errorBox(new Error(`Rule ${bad + 1}: the percentage must be a number from 0 to 100.`))); return; }
    const body = segmentBody(draft);
    const both = overlap(draft.included, draft.excluded);
    const answer = await confirmDialog({
      title: `Save segment ${segment.key} in ${ctx.env}?`, confirmLabel: 'Save', withComment: true,
      message: both.length ? `${both.length} key(s) are both included and excluded; included wins: ${both.slice(0, 5).join(', ')}` : null,
      details: h('div', { class: 'preview' }, diffView(segmentBody(segmentDraft(segment)), body)),
    });
    if (!answer) return;
    try {
      // If-Match: the server refuses (412, readable) a save over a version this page did not start from; the edit stays.
      const { data } = await ctx.api.put(url, body, { ifMatch: baseVersion, comment: answer.comment });
      segment = data; baseVersion = data.version; draft = segmentDraft(data);
      renderHeader();
      renderEditor();
      notify('Segment saved');
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  async function remove() {
    const answer = await confirmDialog({ title: `Delete segment ${segment.key} from ${ctx.env}?`, confirmLabel: 'Delete',
      danger: true, withComment: true,
      message: 'Flags that target it must stop first (the server refuses otherwise).' });
    if (!answer) return;
    try {
      await ctx.deleting(async () => {
        await ctx.api.del(url, { ifMatch: baseVersion, comment: answer.comment });
        notify('Segment deleted');
        ctx.navigate(listHref);
      });
    } catch (error) {
      replace(status, errorBox(error));
    }
  }

  const actions = readOnly ? [] : [
    h('button', { type: 'button', class: 'primary', 'data-testid': 'segment-save', onclick: save }, 'Review and save'),
    h('button', { type: 'button', class: 'danger', 'data-testid': 'segment-delete', onclick: remove }, 'Delete'),
  ];
  const headerHost = h('div', {});
  const renderHeader = () => replace(headerHost,
    pageHeader(ctx, { title: segment.name || segment.key, subtitle: `Segment ${segment.key} · version ${segment.version}`, env: true,
      actions }));
  renderHeader();
  renderEditor();
  replace(ctx.main, headerHost, h('p', {}, h('a', { href: listHref }, '← All segments')), status, editor);
  ctx.onChange(async () => {
    try {
      const { data } = await ctx.api.get(url, { signal: ctx.signal });
      if (data.version === baseVersion) return;
      if (JSON.stringify(segmentBody(draft)) === JSON.stringify(segmentBody(segmentDraft(segment)))) {
        segment = data; baseVersion = data.version; draft = segmentDraft(data); renderHeader(); renderEditor();
      } else {
        replace(status, h('div', { class: 'notice-inline', role: 'status' },
          `Someone else changed this segment (now version ${data.version}); your unsaved edit is kept. Reload to see theirs.`));
      }
    } catch (error) {
      // A 404: deleted elsewhere. Anything else is transient; the next change retries.
      if (error.status === 404) replace(status, errorBox('This segment was deleted elsewhere.'));
    }
  });
}
