// Pure logic of the dashboard's ES modules, run with `node --test Tests/Browser/unit` (no package needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';

const web = new URL('../../../Services/ManagementAPI/Dashboard/web/js/', import.meta.url);
const load = (name) => import(new URL(name, web));

test('router: compile, match and href round-trip encoded parameters', async () => {
  const { compile, match, href, localPath } = await load('router.js');
  const m = compile('/projects/:project/flags/:flag');
  assert.deepEqual(m('/projects/shop/flags/new%20checkout'), { project: 'shop', flag: 'new checkout' });
  assert.equal(m('/projects/shop/flags'), null);
  assert.deepEqual(m('/projects/shop/flags/x/'), { project: 'shop', flag: 'x' });
  const views = [{ path: '/projects' }, { path: '/projects/:project' }];
  assert.equal(match(views, '/projects/a').view, views[1]);
  assert.equal(href('/projects/:project/flags', { project: 'a/b' }, { env: 'prod', q: '' }), '/ui/projects/a%2Fb/flags?env=prod');
  assert.equal(localPath('/ui'), '/');
  assert.equal(localPath('/ui/projects'), '/projects');
  assert.equal(localPath('/api/v1'), null);
});

test('api: path encodes each value as one segment; errors are readable; 412 explains the conflict', async () => {
  const { path, createApi, ApiError, versionOf } = await load('api.js');
  assert.equal(path`/projects/${'a b'}/flags/${'<img>'}`, '/projects/a%20b/flags/%3Cimg%3E');
  assert.equal(versionOf('"7"'), 7);
  assert.equal(versionOf('W/"12"'), 12);
  const calls = [];
  const responses = [
    new Response(JSON.stringify({ on: false, version: 8 }), { status: 200, headers: { ETag: '"8"' } }),
    new Response(JSON.stringify({ code: 'precondition_failed', message: 'the targeting is at version 9, not 7' }), { status: 412 }),
    new Response(JSON.stringify({ code: 'validation_failed', message: 'the request has 1 problem',
      details: [{ path: 'rules[0].clauses[0].op', message: 'unknown operator' }] }), { status: 422 }),
    new Response('', { status: 401 }),
  ];
  let unauthorized = 0;
  const api = createApi({
    token: () => 'secret', onUnauthorized: () => { unauthorized += 1; },
    fetch: async (url, init) => { calls.push([url, init]); return responses.shift(); },
  });
  const ok = await api.patch('/projects/p/flags/f/environments/e', { on: false }, { ifMatch: 7, comment: 'INC-1 kill+switch' });
  assert.equal(ok.data.version, 8);
  assert.equal(ok.etag, '"8"');
  assert.equal(calls[0][0], '/api/v1/projects/p/flags/f/environments/e?comment=INC-1%20kill%2Bswitch');
  assert.equal(calls[0][1].headers['If-Match'], '"7"');
  assert.equal(calls[0][1].headers.Authorization, 'Bearer secret');
  await assert.rejects(api.patch('/x', {}, { ifMatch: 7 }), (e) => e instanceof ApiError && e.status === 412
    && /Someone else changed this/.test(e.message));
  await assert.rejects(api.put('/x', {}), (e) => e.status === 422 && e.readable.includes('rules[0].clauses[0].op: unknown operator'));
  await assert.rejects(api.get('/x'), (e) => e.status === 401);
  assert.equal(unauthorized, 1);
});

test('session: roles include the ones below them', async () => {
  const { allows } = await load('session.js');
  assert.ok(allows('admin', 'writer'));
  assert.ok(allows('writer', 'reader'));
  assert.ok(!allows('reader', 'writer'));
  assert.ok(!allows('writer', 'admin'));
  assert.ok(!allows('reader', 'nonsense'));
});

test('rollouts always sum to 100%', async () => {
  const { rebalance, FULL, parsePercent, percentText } = await load('flagmodel.js');
  const sum = (w) => w.reduce((a, b) => a + b, 0);
  assert.deepEqual(rebalance([50000, 50000], 0, 30000), [30000, 70000]);
  assert.deepEqual(rebalance([30000, 70000], 1, 100000), [0, 100000]);
  assert.deepEqual(rebalance([FULL / 2, FULL / 4, FULL / 4], 0, 90000), [90000, 10000, 0]);
  for (let i = 0; i < 200; i += 1) {
    const n = 1 + (i % 5);
    let w = Array.from({ length: n }, (_, k) => (k === 0 ? FULL : 0));
    w = rebalance(w, i % n, (i * 7919) % (FULL + 1));
    assert.equal(sum(w), FULL, `case ${i}: ${w}`);
    assert.ok(w.every((x) => x >= 0));
  }
  assert.equal(parsePercent('30'), 30000);
  assert.equal(parsePercent('12.5%'), 12500);
  assert.equal(parsePercent('101'), null);
  assert.equal(parsePercent('abc'), null);
  assert.equal(percentText(12500), '12.5%');
  assert.equal(percentText(30000), '30%');
});

test('flag filters: search, tag, on/off and stale', async () => {
  const { flagMatches, allTags, parseClauseValues, move, targetingBody } = await load('flagmodel.js');
  const flag = { key: 'new-checkout', name: 'New checkout', tags: ['checkout'], environments: { production: { on: true } } };
  assert.ok(flagMatches(flag, { q: 'CHECK' }, 'production'));
  assert.ok(!flagMatches(flag, { q: 'search' }, 'production'));
  assert.ok(flagMatches(flag, { tag: 'checkout', state: 'on' }, 'production'));
  assert.ok(!flagMatches(flag, { state: 'off' }, 'production'));
  assert.ok(!flagMatches(flag, { stale: 'stale' }, 'production', { stale: null }));
  assert.ok(flagMatches(flag, { stale: 'stale' }, 'production', { stale: { reason: 'neverEvaluated' } }));
  assert.deepEqual(allTags([flag, { tags: ['b', 'checkout'] }]), ['b', 'checkout']);
  assert.deepEqual(parseClauseValues('greaterThan', '3\n4.5\n'), [3, 4.5]);
  assert.deepEqual(parseClauseValues('in', 'a\n true\nfalse'), ['a', true, false]);
  assert.deepEqual(move(['a', 'b', 'c'], 2, 0), ['c', 'a', 'b']);
  assert.deepEqual(Object.keys(targetingBody({ on: true, fallthrough: { variation: 0 }, salt: 's', version: 3 })).sort(),
    ['contextTargets', 'fallthrough', 'offVariation', 'on', 'prerequisites', 'rules', 'targets']);
});

test('diff: one line per changed leaf with its JSON path', async () => {
  const { diffJSON, flatten } = await load('components/diff.js');
  assert.deepEqual([...flatten({ a: [1, { b: 2 }], 'x y': {} })], [['a[0]', 1], ['a[1].b', 2], ['["x y"]', {}]]);
  const changes = diffJSON({ on: true, rules: [{ id: 'r', variation: 0 }], updatedAt: 1 }, { on: false, rules: [], updatedAt: 2 },
    { ignore: ['updatedAt'] });
  assert.deepEqual(changes, [
    { path: 'on', kind: 'changed', before: true, after: false },
    { path: 'rules', kind: 'added', after: [] },
    { path: 'rules[0].id', kind: 'removed', before: 'r' },
    { path: 'rules[0].variation', kind: 'removed', before: 0 },
  ]);
  assert.deepEqual(diffJSON(null, null), []);
});

test('audit filters build the resource parameter of GET /audit', async () => {
  const { resourceFilter, toRFC3339 } = await load('views/audit.js');
  assert.equal(resourceFilter('shop', '', ''), 'proj/shop*');
  assert.equal(resourceFilter('shop', 'flags', ''), 'proj/shop:flag/*');
  assert.equal(resourceFilter('shop', '', 'flag/new-checkout'), 'proj/shop:flag/new-checkout');
  assert.equal(resourceFilter('shop', '', 'proj/other'), 'proj/other');
  assert.equal(toRFC3339(''), '');
  assert.match(toRFC3339('2026-12-05T10:00'), /^2026-12-0\dT\d\d:00:00.000Z$/);
});

test('create-flag variations: booleans, typed lines, JSON objects', async () => {
  const { variationsFrom } = await load('views/flags.js');
  assert.deepEqual(variationsFrom('boolean', ''), [{ value: true, name: 'on' }, { value: false, name: 'off' }]);
  assert.deepEqual(variationsFrom('number', '1\n2.5'), [{ value: 1 }, { value: 2.5 }]);
  assert.deepEqual(variationsFrom('json', '{"a":1}\n[1]'), [{ value: { a: 1 } }, { value: [1] }]);
  assert.throws(() => variationsFrom('number', 'x'), /not a number/);
  assert.throws(() => variationsFrom('json', '3'), /not a JSON object/);
});
