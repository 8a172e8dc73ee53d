// Pure logic of the segments, experiments, releases and evaluate pages (node --test Tests/Browser/unit).
import { test } from 'node:test';
import assert from 'node:assert/strict';

const web = new URL('../../../Services/ManagementAPI/Dashboard/web/js/', import.meta.url);
const load = (name) => import(new URL(name, web));

test('evaluate: the builder makes a context, typed attribute values, and back', async () => {
  const { buildContext, builderFrom, attributeValue, parseContext, contextRows, reasonText } = await load('evaluatemodel.js');
  assert.equal(attributeValue('42'), 42);
  assert.equal(attributeValue('true'), true);
  assert.deepEqual(attributeValue('["a","b"]'), ['a', 'b']);
  assert.equal(attributeValue('pro'), 'pro');
  assert.equal(attributeValue('<script>x</script>'), '<script>x</script>');
  assert.equal(attributeValue('[not json'), '[not json');
  const context = buildContext({ kind: 'org', key: 'acme', name: 'Acme', attributes: [{ name: 'seats', value: '12' },
    { name: '', value: 'x' }, { name: 'key', value: 'no' }] });
  assert.deepEqual(context, { kind: 'org', key: 'acme', name: 'Acme', seats: 12 });
  assert.deepEqual(builderFrom(context), { kind: 'org', key: 'acme', name: 'Acme', anonymous: false,
    attributes: [{ name: 'seats', value: '12' }] });
  assert.equal(builderFrom({ kind: 'multi', user: { key: 'a' } }), null);
  assert.match(parseContext('{').error, /not valid JSON/);
  assert.match(parseContext('[1]').error, /JSON object/);
  assert.deepEqual(parseContext('{"key":"a"}').context, { key: 'a' });
  assert.deepEqual(contextRows({ kind: 'multi', user: { key: 'u', plan: 'pro' }, org: { key: 'o', n: 3 } }),
    [{ kind: 'user', name: 'key', value: 'u' }, { kind: 'user', name: 'plan', value: 'pro' }, { kind: 'org', name: 'key', value: 'o' },
      { kind: 'org', name: 'n', value: '3' }]);
  assert.equal(reasonText({ kind: 'RULE_MATCH', ruleIndex: 1, ruleId: 'r' }), 'Rule 2 matched (r)');
  assert.equal(reasonText({ kind: 'PREREQUISITE_FAILED', prerequisiteKey: 'p' }), 'Prerequisite "p" not met');
});

test('segments: paste-in of many keys, newline or comma separated, deduplicated', async () => {
  const { parseKeys, mergeKeys, overlap, parseWeight, weightPercent, segmentBody, segmentDraft } = await load('segmentmodel.js');
  assert.deepEqual(parseKeys('a\nb, c,,\r\n d \n a\tE;f'), ['a', 'b', 'c', 'd', 'E', 'f']);
  assert.deepEqual(parseKeys(' \n , '), []);
  assert.deepEqual(mergeKeys(['a', 'b'], 'b\nc\nc\nd'), { list: ['a', 'b', 'c', 'd'], added: 2, duplicates: 1 });
  const many = Array.from({ length: 5000 }, (_, i) => `user-${i}`).join('\n');
  assert.equal(mergeKeys([], many).added, 5000);
  assert.deepEqual(overlap(['a', 'b'], ['b', 'c']), ['b']);
  assert.equal(parseWeight(''), null);
  assert.equal(parseWeight('12.5'), 12500);
  assert.ok(Number.isNaN(parseWeight('101')));
  assert.equal(weightPercent(12500), '12.5');
  const segment = { key: 's', name: 'S', version: 3, included: ['a'], excluded: [], salt: 'x', createdAt: 't',
    rules: [{ id: 'r1', clauses: [{ attribute: 'email', op: 'endsWith', values: ['@x'] }], weight: 50000 }] };
  const body = segmentBody(segmentDraft(segment));
  assert.deepEqual(body.rules, [{ id: 'r1', clauses: [{ attribute: 'email', op: 'endsWith', values: ['@x'] }], weight: 50000 }]);
  assert.equal(body.salt, 'x');
  assert.equal(body.version, undefined);
  assert.equal(body.createdAt, undefined);
});

test('experiments: views, SRM threshold, formatting, verdicts and the chart domain', async () => {
  const { statsFor, hasSRM, percent, share, pValueText, meanText, ciText, verdict, liftDomain,
    parseMetrics } = await load('experimentmodel.js');
  const v = { variation: 1, n: 1010, mean: 0.1287, relativeLift: 0.287,
    frequentist: { pValue: 0.075, ci: [-0.029, 0.603] }, sequential: { pValue: 0.61, ci: [-0.217, 0.791] },
    bayesian: { chanceToWin: 0.96, ci: [-0.029, 0.603], risk: [0.29, 0.0024] } };
  assert.deepEqual(statsFor(v, 'sequential'), { ci: [-0.217, 0.791], pValue: 0.61, chanceToWin: 0.96, risk: null });
  assert.equal(statsFor(v, 'bayesian').pValue, null);
  assert.deepEqual(statsFor({ variation: 1, frequentist: null, bayesian: null }, 'frequentist'),
    { ci: null, pValue: null, chanceToWin: null, risk: null });
  assert.equal(hasSRM({ srmPValue: 0.0009 }), true);
  assert.equal(hasSRM({ srmPValue: 0.001 }), false);
  assert.equal(hasSRM({ srmPValue: null }), false);
  assert.equal(percent(0.287), '+28.7 %');
  assert.equal(percent(-0.05), '-5.0 %');
  assert.equal(percent(null), '—');
  assert.equal(share(0.96), '96.0 %');
  assert.equal(pValueText(0.00001), '< 0.0001');
  assert.equal(pValueText(0.075), '0.0750');
  assert.equal(meanText(0.1287, 'proportion'), '12.87 %');
  assert.equal(meanText(12.345678, 'mean'), '12.35');
  assert.equal(ciText([-0.029, 0.603]), '[-2.9 %, +60.3 %]');
  assert.equal(verdict(v, 'frequentist'), 'inconclusive');
  assert.equal(verdict(v, 'bayesian'), 'better');
  assert.equal(verdict(v, 'bayesian', false), 'worse');
  assert.equal(verdict({ bayesian: { chanceToWin: 0.5 } }, 'bayesian'), 'inconclusive');
  const win = { frequentist: { pValue: 0.001, ci: [0.1, 0.3] } };
  assert.equal(verdict(win, 'frequentist', true), 'better');
  assert.equal(verdict(win, 'frequentist', false), 'worse');
  const [lo, hi] = liftDomain([v], 'sequential');
  assert.ok(lo <= -0.791 && hi >= 0.791 && Math.abs(lo + hi) < 1e-12);
  assert.deepEqual(liftDomain([{ relativeLift: null }], 'frequentist').map((x) => Math.round(x * 1000)), [-55, 55]);
  assert.deepEqual(parseMetrics('purchase proportion\nrevenue mean\nerrors proportion lower').metrics,
    [{ key: 'purchase', type: 'proportion', higherIsBetter: true }, { key: 'revenue', type: 'mean', higherIsBetter: true },
      { key: 'errors', type: 'proportion', higherIsBetter: false }]);
  assert.equal(parseMetrics('x median').problems.length, 1);
  assert.equal(parseMetrics('').problems.length, 1);
});

test('releases: steps as text, durations, the timeline and scheduled change patches', async () => {
  const { parseSteps, stepsText, parseDuration, durationText, timeline, changePatch, patchText } = await load('releasemodel.js');
  assert.equal(parseDuration('90'), 90);
  assert.equal(parseDuration('10m'), 600);
  assert.equal(parseDuration('1.5h'), 5400);
  assert.ok(Number.isNaN(parseDuration('soon')));
  assert.equal(durationText(5400), '1h 30m');
  assert.equal(durationText(0), '0s');
  assert.equal(durationText(90061), '1d 1h');
  assert.deepEqual(parseSteps('10 1h, 50 2h\n100'), { steps: [{ percent: 10, holdSeconds: 3600 }, { percent: 50, holdSeconds: 7200 },
    { percent: 100, holdSeconds: 0 }], problems: [] });
  assert.deepEqual(parseSteps('10% 30m, 100').steps[0], { percent: 10, holdSeconds: 1800 });
  assert.match(parseSteps('50 1h, 10 1h, 100').problems.join(), /increase/);
  assert.match(parseSteps('10 1h, 50').problems.join(), /last step must be 100/);
  assert.match(parseSteps('10.0001 1h, 100').problems.join(), /three decimals/);
  assert.match(parseSteps('10 31d, 100').problems.join(), /30 days/);
  assert.equal(stepsText([{ percent: 10, holdSeconds: 3600 }, { percent: 100, holdSeconds: 0 }]), '10 1h, 100');
  const steps = [{ percent: 10, holdSeconds: 60 }, { percent: 50, holdSeconds: 60 }, { percent: 100, holdSeconds: 0 }];
  assert.deepEqual(timeline({ status: 'running', step: 2, steps }).map((s) => s.state), ['done', 'current', 'pending']);
  assert.deepEqual(timeline({ status: 'rolled_back', step: 2, steps }).map((s) => s.state), ['done', 'stopped', 'skipped']);
  assert.deepEqual(timeline({ status: 'completed', step: 3, steps }).map((s) => s.state), ['done', 'done', 'done']);
  assert.deepEqual(changePatch({ action: 'on' }), { patch: { on: true } });
  assert.deepEqual(changePatch({ action: 'fallthrough', variation: '1' }), { patch: { fallthrough: { variation: 1 } } });
  assert.deepEqual(changePatch({ action: 'json', json: '{"offVariation":1}' }), { patch: { offVariation: 1 } });
  assert.match(changePatch({ action: 'json', json: '{}' }).error, /non-empty/);
  assert.match(changePatch({ action: 'json', json: '{' }).error, /not valid JSON/);
  assert.equal(patchText({ on: false }), 'turn targeting off');
  assert.equal(patchText({ fallthrough: { variation: 1 } }, (i) => `v${i}`), 'serve v1 by default');
});
