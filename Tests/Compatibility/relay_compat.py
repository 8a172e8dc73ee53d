#!/usr/bin/env python3
"""Compatibility checks of relay-streamer with LaunchDarkly's Python SDK and the OFREP provider.

Usage (each prints a JSON summary on its last stdout line and exits 0, or 1 with the mismatches)::

    relay_compat.py scenario     --management URL --token T --relay URL --vanectl PATH
    relay_compat.py differential --management URL --token T --relay URL --vanectl PATH [--seed S] [--flags N] [--contexts M]
    relay_compat.py ofrep-conformance --management URL --token T --relay URL --vanectl PATH [--seed S] [--examples N]

``scenario`` creates a project with a handful of flags and a segment through management-api, then
checks, against the relay: the Python SDK in streaming and in polling mode evaluates every flag as
``vanectl eval`` (ModelsCore) does; a kill switch (targeting ``PATCH {"on": false}``) reaches the
streaming SDK, and the time it took; a deleted flag disappears; the client-side ``evalx`` endpoints
and the OpenFeature OFREP provider give the same answers; a rotated SDK key keeps working until its
grace period ends and then gets 401.

``differential`` creates a randomized corpus (``gen_eval_corpus.py``: every operator, attribute
references, prerequisites, segments, rollouts and experiments, old-user and multi-kind contexts)
through management-api — items the API refuses are simplified until it accepts them — and checks
that, for every context and flag,

* the relay's client-side ``evalx`` (SDK key, ``withReasons``) and OFREP bulk answers equal the
  LaunchDarkly reference semantics (``ld_reference_eval.py``, Go's evaluator) and ModelsCore
  (``vanectl eval``) on the data management-api holds;
* the Python SDK connected to the relay (streaming and polling) answers exactly what the same SDK
  answers when given management-api's data directly: the relay delivers the data unchanged. (The
  Python SDK's own evaluator differs from Go's in a few documented places; those differences are
  counted and reported, not failed.)

``ofrep-conformance`` creates flags of every value type OFREP knows (and the cases around them: an
off flag without an off variation, an array value, a percentage rollout, a failed
prerequisite), then runs schemathesis against the relay's two OFREP routes with the document in
``ofrep/openapi.yaml`` (the official one, open-feature/protocol ``service/openapi.yaml``), with a
fixed seed and a bounded number of examples per operation. The official document cannot be used
as it is: its ``evaluationSuccess`` says ``oneOf`` boolean/string/integer/float/object/code-default,
and ``codeDefaultFlag`` (``properties: {}``) matches every object while an integer is also a float,
so no success response can match exactly one. ``conformance_schema`` states the same facts without
the ambiguity (see there); nothing else is changed.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

import ldclient  # noqa: E402
from ldclient import Context  # noqa: E402
from ldclient.config import Config  # noqa: E402
from ldclient.integrations import Files  # noqa: E402
from ldclient.impl.integrations.files import file_data_source, file_data_sourcev2  # noqa: E402

# The SDK's file data source prefers PyYAML when it is installed (schemathesis brings it), and YAML
# 1.1 reads the JSON number 1e+20 as a string: the files written here are JSON, so read them as JSON.
file_data_source.have_yaml = False
file_data_sourcev2.have_yaml = False

from gen_eval_corpus import CorpusGenerator  # noqa: E402
from ld_reference_eval import ReferenceEvaluator, context_from_json, ordered_reason  # noqa: E402

logging.getLogger('ldclient').setLevel(logging.CRITICAL)
KEY_PATTERN = re.compile(r'^[A-Za-z0-9._-]{1,256}$')


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# management-api and the relay over HTTP
# ---------------------------------------------------------------------------------------------

class Management:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip('/') + '/api/v1'
        self.session = requests.Session()
        self.session.headers['Authorization'] = 'Bearer ' + token

    def call(self, method: str, path: str, body: Any = None, ok: Tuple[int, ...] = (200, 201, 204)) -> requests.Response:
        response = self.session.request(method, self.base + path, json=body, timeout=30)
        if response.status_code not in ok:
            raise Failure('%s %s -> %d %s' % (method, path, response.status_code, response.text[:2000]))
        return response

    def project(self, key: str) -> dict:
        created = self.call('POST', '/projects', {'key': key, 'name': key}).json()
        return next(e for e in created['environments'] if e['key'] == 'production')

    def payload(self, project: str, environment: str = 'production') -> dict:
        return self.call('GET', '/projects/%s/environments/%s/data' % (project, environment)).json()


def wait_for_relay_data(relay: str, sdk_key: str, expected: dict, timeout: float = 60) -> None:
    """Waits until the relay's /sdk/latest-all equals management-api's payload."""
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        response = requests.get(relay + '/sdk/latest-all', headers={'Authorization': sdk_key}, timeout=10)
        if response.status_code == 200:
            last = response.json()
            if canonical(last) == canonical(expected):
                return
        time.sleep(0.1)
    raise Failure('the relay did not converge on management-api\'s data within %ss; last: %s' % (timeout, str(last)[:500]))


def canonical(payload: dict) -> Any:
    live = lambda items: {k: v for k, v in (items or {}).items() if not v.get('deleted')}  # noqa: E731
    return json.dumps({'flags': live(payload.get('flags')), 'segments': live(payload.get('segments'))}, sort_keys=True)


def base64url(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(',', ':')).encode()).decode().rstrip('=')


# ---------------------------------------------------------------------------------------------
# Expected answers
# ---------------------------------------------------------------------------------------------

def vanectl_eval(vanectl: str, payload: dict, contexts: List[Any]) -> Dict[Tuple[int, str], dict]:
    with tempfile.TemporaryDirectory() as directory:
        data_path = os.path.join(directory, 'data.json')
        contexts_path = os.path.join(directory, 'contexts.json')
        with open(data_path, 'w') as f:
            json.dump(payload, f)
        with open(contexts_path, 'w') as f:
            json.dump(contexts, f)
        output = subprocess.run([vanectl, 'eval', '--data', data_path, '--contexts', contexts_path],
                                check=True, capture_output=True, text=True).stdout
    records = [json.loads(line) for line in output.splitlines() if line]
    return {(r['context'], r['flag']): r for r in records}


def reference_eval(payload: dict, contexts: List[Any]) -> Dict[Tuple[int, str], dict]:
    return {(r['context'], r['flag']): r for r in ReferenceEvaluator(payload).records(contexts)}


def same(a: Any, b: Any) -> bool:
    """JSON equality where 1 == 1.0 but True != 1."""
    return json.dumps(normalize(a), sort_keys=True) == json.dumps(normalize(b), sort_keys=True)


def normalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------

def sdk_client(sdk_key: str, relay: Optional[str], stream: bool, data_file: Optional[str] = None) -> ldclient.LDClient:
    if data_file is not None:
        config = Config(sdk_key, update_processor_class=Files.new_data_source(paths=[data_file]), send_events=False,
                        diagnostic_opt_out=True)
    else:
        config = Config(sdk_key, stream_uri=relay, base_uri=relay, events_uri='http://127.0.0.1:9', stream=stream,
                        send_events=False, diagnostic_opt_out=True, initial_reconnect_delay=0.2)
    client = ldclient.LDClient(config, start_wait=20)
    if not client.is_initialized():
        client.close()
        raise Failure('the Python SDK did not initialize (stream=%s, file=%s)' % (stream, data_file))
    return client


def sdk_context(raw: Any) -> Context:
    return Context.from_dict(raw) if isinstance(raw, dict) else Context.create('')


def sdk_detail(client: ldclient.LDClient, key: str, raw_context: Any) -> dict:
    detail = client.variation_detail(key, sdk_context(raw_context), None)
    return {'value': detail.value, 'variationIndex': detail.variation_index, 'reason': detail.reason}


def ofrep_context(raw: Any) -> Optional[dict]:
    """An LD context in the current format as an OpenFeature context (None for old users/invalid)."""
    if not isinstance(raw, dict) or not isinstance(raw.get('kind'), str) or context_from_json(raw) is None:
        return None

    def single(body: dict, kind: Optional[str]) -> Optional[dict]:
        out = {k: v for k, v in body.items() if k not in ('key', 'kind', '_meta')}
        if any(k in out for k in ('targetingKey', 'privateAttributes')):
            return None
        out['targetingKey'] = body['key']
        if kind is not None:
            out['kind'] = kind
        meta = body.get('_meta')
        if isinstance(meta, dict) and meta.get('privateAttributes'):
            out['privateAttributes'] = meta['privateAttributes']
        return out

    if raw['kind'] == 'multi':
        members = {k: single(v, None) for k, v in raw.items() if k != 'kind'}
        if any(m is None for m in members.values()) or any(k == '' or v.get('kind') is not None for k, v in raw.items() if k != 'kind'):
            return None
        return {'kind': 'multi', **members}
    return single(raw, raw['kind'])


def ofrep_expected(record: dict) -> dict:
    reason = record['reason']
    meta = {'reasonKind': reason['kind']}
    for name in ('ruleIndex', 'ruleId', 'prerequisiteKey', 'inExperiment', 'errorKind'):
        if name in reason:
            meta[name] = reason[name]
    if record['variationIndex'] is not None:
        meta['variationIndex'] = record['variationIndex']
    return {'value': record['value'] if record['variationIndex'] is not None else None, 'meta': meta}


def ofrep_actual(result: dict) -> dict:
    meta = {k: v for k, v in result.get('metadata', {}).items() if k not in ('flagVersion', 'bigSegmentsStatus')}
    return {'value': result.get('value'), 'meta': meta}


# ---------------------------------------------------------------------------------------------
# differential
# ---------------------------------------------------------------------------------------------

def management_key(key: str, index: int) -> str:
    return key if KEY_PATTERN.match(key) else 'k%03d' % index


def uniform_variations(values: List[Any], rng: random.Random) -> List[Any]:
    """management-api requires at least one variation, all of one JSON type, none null."""
    values = [v for v in values if v is not None]
    if not values:
        return [True, False]
    kind = type(values[0]) if not isinstance(values[0], (int, float)) or isinstance(values[0], bool) else (int, float)
    same_kind = [v for v in values if isinstance(v, kind) and not (kind == (int, float) and isinstance(v, bool))]
    if isinstance(values[0], (dict, list)):
        same_kind = [v for v in values if isinstance(v, (dict, list))]
    while len(same_kind) < len(values):
        same_kind.append(same_kind[len(same_kind) % len(same_kind)])
    return same_kind


TARGETING_FIELDS = ('on', 'targets', 'contextTargets', 'rules', 'fallthrough', 'offVariation', 'prerequisites',
                    'trackEvents', 'trackEventsFallthrough')


KNOWN_OPERATORS = {'in', 'endsWith', 'startsWith', 'matches', 'contains', 'lessThan', 'lessThanOrEqual', 'greaterThan',
                   'greaterThanOrEqual', 'before', 'after', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan', 'segmentMatch'}


def repair_choice(choice: Any, n: int) -> dict:
    """A variation-or-rollout management-api accepts: indexes in range, one of the two, weights <= 100%."""
    choice = dict(choice) if isinstance(choice, dict) else {}
    rollout = choice.get('rollout')
    if isinstance(rollout, dict) and 'variation' not in choice:
        rollout = dict(rollout)
        if rollout.get('kind') not in (None, 'rollout', 'experiment'):
            rollout.pop('kind')
        variations = [dict(v, variation=v['variation'] % n)
                      for v in rollout.get('variations') or []] or [{'variation': 0, 'weight': 100000}]
        total = sum(max(0, v['weight']) for v in variations)
        if total > 100000:
            for v in variations:
                v['weight'] = max(0, v['weight']) * 100000 // total
        rollout['variations'] = variations
        return {'rollout': rollout}
    return {'variation': choice.get('variation', 0) % n}


def repair_clauses(clauses: Any, segments: set) -> List[dict]:
    repaired = []
    for clause in clauses or []:
        if clause.get('op') not in KNOWN_OPERATORS:
            continue
        if clause['op'] == 'segmentMatch':
            values = [v for v in clause.get('values', []) if isinstance(v, str) and v in segments]
            if values:
                repaired.append(dict(clause, values=values))
        elif clause.get('attribute'):
            repaired.append(clause)
    return repaired


def repair(targeting: dict, n: int, variation_counts: Dict[str, int], segments: set) -> dict:
    """The generated targeting with what management-api refuses by rule fixed, keeping its shape."""
    out = dict(targeting)
    if isinstance(out.get('offVariation'), int):
        out['offVariation'] %= n
    out['fallthrough'] = repair_choice(out.get('fallthrough'), n)
    out['rules'] = [{**{k: v for k, v in rule.items() if k not in ('variation', 'rollout')},
                     'clauses': repair_clauses(rule.get('clauses'), segments), **repair_choice(rule, n)}
                    for rule in out.get('rules') or []]
    for name in ('targets', 'contextTargets'):
        if name in out:
            out[name] = [dict(t, variation=t['variation'] % n) for t in out[name]]
    out['prerequisites'] = [dict(p, variation=p['variation'] % variation_counts[p['key']])
                            for p in out.get('prerequisites') or [] if p['key'] in variation_counts]
    return out


def simplifications(targeting: dict) -> List[dict]:
    """The targeting as generated, then with ever more of it removed (until management-api accepts)."""
    steps = [dict(targeting)]
    reduced = dict(targeting)
    for fields in (('prerequisites',), ('rules',), ('targets', 'contextTargets'), ('fallthrough', 'offVariation')):
        for field in fields:
            reduced.pop(field, None)
        steps.append(dict(reduced))
    return steps


def rename_references(item: Any, renames: Dict[str, str]) -> Any:
    if isinstance(item, dict):
        out = {k: rename_references(v, renames) for k, v in item.items()}
        if item.get('op') == 'segmentMatch' and isinstance(item.get('values'), list):
            out['values'] = [renames.get(v, v) if isinstance(v, str) else v for v in item['values']]
        return out
    if isinstance(item, list):
        return [rename_references(v, renames) for v in item]
    return item


def create_corpus(mgmt: Management, project: str, corpus: dict, rng: random.Random) -> Dict[str, int]:
    stats = {'flags': 0, 'flagsSimplified': 0, 'segments': 0, 'segmentsSimplified': 0}
    segment_renames = {k: management_key(k, i) for i, k in enumerate(corpus['segments'])}
    for key, segment in corpus['segments'].items():
        if segment.get('deleted'):
            continue
        body = {k: v for k, v in rename_references(segment, segment_renames).items() if k not in ('key', 'version', 'deleted')}
        for attempt, candidate in enumerate([body, {k: v for k, v in body.items() if k != 'rules'}]):
            response = mgmt.call('PUT', '/projects/%s/environments/production/segments/%s' % (project, segment_renames[key]),
                                 candidate, ok=(200, 201, 422, 400))
            if response.status_code in (200, 201):
                stats['segments'] += 1
                stats['segmentsSimplified'] += attempt > 0
                break
    flag_renames = {k: management_key(k, i) for i, k in enumerate(corpus['flags'])}
    live = {k: f for k, f in corpus['flags'].items() if not f.get('deleted')}
    variations = {key: uniform_variations(flag.get('variations', []), rng) for key, flag in live.items()}
    variation_counts = {flag_renames[key]: len(values) for key, values in variations.items()}
    segments = {item['key'] for item in mgmt.call('GET', '/projects/%s/environments/production/segments' % project).json()['items']}
    for key, flag in live.items():
        settings = {'key': flag_renames[key], 'name': key, 'variations': [{'value': v} for v in variations[key]],
                    'clientSideAvailability': {'usingEnvironmentId': bool(flag.get('clientSide')), 'usingMobileKey': True}}
        if flag.get('salt'):
            settings['salt'] = flag['salt']
        mgmt.call('POST', '/projects/%s/flags' % project, settings)
    for key, flag in live.items():
        targeting = {k: v for k, v in rename_references(flag, segment_renames).items() if k in TARGETING_FIELDS}
        for prerequisite in targeting.get('prerequisites', []):
            prerequisite['key'] = flag_renames.get(prerequisite['key'], prerequisite['key'])
        targeting = repair(targeting, len(variations[key]), variation_counts, segments)
        for attempt, candidate in enumerate(simplifications(targeting)):
            response = mgmt.call('PUT', '/projects/%s/flags/%s/environments/production' % (project, flag_renames[key]),
                                 candidate, ok=(200, 422, 400, 412))
            if response.status_code == 200:
                stats['flags'] += 1
                stats['flagsSimplified'] += attempt > 0
                break
            if os.environ.get('RELAY_COMPAT_DEBUG'):
                print('refused:', response.text[:300], file=sys.stderr)
    return stats


def differential(args: argparse.Namespace) -> dict:
    mgmt = Management(args.management, args.token)
    rng = random.Random(args.seed)
    project = 'diff-%d-%d' % (args.seed, int(time.time() * 1000) % 100000)
    environment = mgmt.project(project)
    corpus, contexts = CorpusGenerator(args.seed, args.flags, args.contexts).generate()
    stats = create_corpus(mgmt, project, corpus, rng)
    payload = mgmt.payload(project)
    sdk_key = environment['sdkKey']
    wait_for_relay_data(args.relay, sdk_key, payload)

    expected = reference_eval(payload, contexts)
    models_core = vanectl_eval(args.vanectl, payload, contexts)
    flag_keys = sorted(payload['flags'])
    mismatches: List[str] = []

    def mismatch(text: str) -> None:
        if len(mismatches) < 30:
            mismatches.append(text)
        else:
            mismatches.append('...')
            raise Failure('\n'.join(mismatches))

    for key, record in expected.items():
        if not same(record, models_core[key]):
            mismatch('ModelsCore %s: %s != reference %s' % (key, models_core[key], record))

    # The relay's client-side endpoint (SDK key: every flag) and OFREP bulk.
    checked = {'evalx': 0, 'ofrep': 0, 'sdkStreaming': 0, 'sdkPolling': 0}
    for index, raw in enumerate(contexts):
        response = requests.request('REPORT', args.relay + '/sdk/evalx/context?withReasons=true', data=json.dumps(raw),
                                    headers={'Authorization': sdk_key, 'Content-Type': 'application/json'}, timeout=30)
        if context_from_json(raw) is None:
            if response.status_code != 400:
                mismatch('evalx context %d (invalid) answered %d' % (index, response.status_code))
            continue
        if response.status_code != 200:
            mismatch('evalx context %d answered %d %s' % (index, response.status_code, response.text[:300]))
            continue
        results = response.json()
        for key in flag_keys:
            want = expected[(index, key)]
            got = results.get(key)
            if got is None or not same(got.get('value'), want['value']) or got.get('variation') != want['variationIndex'] \
                    or got.get('reason') != want['reason']:
                mismatch('evalx context %d flag %s: %s != %s' % (index, key, got, want))
            checked['evalx'] += 1
        ofrep = ofrep_context(raw)
        if ofrep is None:
            continue
        response = requests.post(args.relay + '/ofrep/v1/evaluate/flags', json={'context': ofrep},
                                 headers={'Authorization': 'Bearer ' + sdk_key}, timeout=30)
        if response.status_code != 200:
            mismatch('OFREP context %d answered %d %s' % (index, response.status_code, response.text[:300]))
            continue
        by_key = {result['key']: result for result in response.json()['flags']}
        for key in flag_keys:
            want = ofrep_expected(expected[(index, key)])
            got = ofrep_actual(by_key.get(key, {}))
            if not same(got, want):
                mismatch('OFREP context %d flag %s: %s != %s' % (index, key, by_key.get(key), want))
            checked['ofrep'] += 1

    # The Python SDK through the relay versus the same SDK reading management-api's data directly.
    divergences = 0
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump(payload, f)
        data_file = f.name
    try:
        local = sdk_client(sdk_key, None, False, data_file=data_file)
        for stream in (True, False):
            client = sdk_client(sdk_key, args.relay, stream)
            try:
                for index, raw in enumerate(contexts):
                    for key in flag_keys:
                        got = sdk_detail(client, key, raw)
                        want = sdk_detail(local, key, raw)
                        if not same(got, want):
                            mismatch('Python SDK (stream=%s) context %d flag %s: %s != local %s' % (stream, index, key, got, want))
                        if stream:
                            reference = expected[(index, key)]
                            divergences += not same(
                                {**got, 'reason': ordered_reason(got['reason'])},
                                {name: reference[name] for name in ('value', 'variationIndex', 'reason')})
                        checked['sdkStreaming' if stream else 'sdkPolling'] += 1
            finally:
                client.close()
        local.close()
    finally:
        os.unlink(data_file)
    if mismatches:
        raise Failure('\n'.join(mismatches))
    return {'created': stats, 'contexts': len(contexts), 'flags': len(flag_keys), 'checked': checked,
            'pythonSdkDivergencesFromGo': divergences}


# ---------------------------------------------------------------------------------------------
# scenario
# ---------------------------------------------------------------------------------------------

SCENARIO_CONTEXTS = [
    {'kind': 'user', 'key': 'alice', 'email': 'alice@example.com', 'plan': 'gold'},
    {'kind': 'user', 'key': 'bob', 'email': 'bob@corp.com'},
    {'kind': 'multi', 'user': {'key': 'carol', 'plan': 'silver'}, 'org': {'key': 'acme', 'tier': 3}},
    {'kind': 'org', 'key': 'globex', 'tier': 1},
]


def scenario(args: argparse.Namespace) -> dict:
    mgmt = Management(args.management, args.token)
    project = 'scenario-%d' % (int(time.time() * 1000) % 1000000)
    environment = mgmt.project(project)
    sdk_key, mobile_key, client_id = environment['sdkKey'], environment['mobileKey'], environment['clientSideId']
    base = '/projects/%s' % project
    mgmt.call('PUT', base + '/environments/production/segments/beta', {'included': ['bob'], 'rules': [
        {'clauses': [{'contextKind': 'org', 'attribute': 'tier', 'op': 'greaterThan', 'values': [2]}]}]})
    mgmt.call('POST', base + '/flags', {'key': 'kill-switch', 'name': 'Kill switch', 'variations': [{'value': True}, {'value': False}],
                                       'clientSideAvailability': {'usingEnvironmentId': True, 'usingMobileKey': True}})
    mgmt.call('PUT', base + '/flags/kill-switch/environments/production', {'on': True, 'fallthrough': {'variation': 0}, 'offVariation': 1})
    mgmt.call('POST', base + '/flags',
              {'key': 'banner', 'name': 'Banner', 'variations': [{'value': 'none'}, {'value': 'blue'}, {'value': 'red'}]})
    mgmt.call('PUT', base + '/flags/banner/environments/production', {
        'on': True, 'targets': [{'values': ['alice'], 'variation': 2}],
        'rules': [{'id': 'beta-rule', 'clauses': [{'attribute': 'segmentMatch', 'op': 'segmentMatch', 'values': ['beta']}], 'variation': 1},
                  {'clauses': [{'attribute': 'email', 'op': 'endsWith', 'values': ['@corp.com']}],
                   'rollout': {'variations': [{'variation': 0, 'weight': 40000}, {'variation': 1, 'weight': 60000}]}}],
        'fallthrough': {'rollout': {'kind': 'experiment', 'variations': [{'variation': 0, 'weight': 50000},
            {'variation': 2, 'weight': 50000}]}},
        'offVariation': 0})
    mgmt.call('POST', base + '/flags', {'key': 'gated', 'name': 'Gated', 'variations': [{'value': 1}, {'value': 2.5}],
                                       'clientSideAvailability': {'usingEnvironmentId': False, 'usingMobileKey': False}})
    mgmt.call('PUT', base + '/flags/gated/environments/production', {
        'on': True, 'prerequisites': [{'key': 'kill-switch', 'variation': 0}], 'fallthrough': {'variation': 1}, 'offVariation': 0})
    mgmt.call('POST', base + '/flags', {'key': 'doomed', 'name': 'Doomed', 'variations': [{'value': {'a': [1, None]}}, {'value': {}}]})
    mgmt.call('PUT', base + '/flags/doomed/environments/production', {'on': True, 'fallthrough': {'variation': 0}})

    payload = mgmt.payload(project)
    wait_for_relay_data(args.relay, sdk_key, payload)
    expected = vanectl_eval(args.vanectl, payload, SCENARIO_CONTEXTS)
    flag_keys = sorted(payload['flags'])
    report: Dict[str, Any] = {}

    # 1. The Python SDK, streaming and polling, against ModelsCore.
    streaming = sdk_client(sdk_key, args.relay, True)
    for stream, client in ((True, streaming), (False, None)):
        client = client or sdk_client(sdk_key, args.relay, False)
        for index, raw in enumerate(SCENARIO_CONTEXTS):
            for key in flag_keys:
                got = sdk_detail(client, key, raw)
                want = expected[(index, key)]
                if not same(got['value'], want['value']) or got['variationIndex'] != want['variationIndex'] \
                        or ordered_reason(got['reason']) != want['reason']:
                    raise Failure('Python SDK (stream=%s) %s for %s: %s != ModelsCore %s' % (stream, key, raw, got, want))
        if not stream:
            client.close()
    report['sdkFlagsChecked'] = len(flag_keys) * len(SCENARIO_CONTEXTS) * 2

    # 2. Client-side evalx (browser, mobile) and the OFREP provider agree with ModelsCore.
    for index, raw in enumerate(SCENARIO_CONTEXTS):
        browser = requests.get('%s/sdk/evalx/%s/contexts/%s?withReasons=true' % (args.relay, client_id, base64url(raw)), timeout=10).json()
        mobile = requests.request('REPORT', args.relay + '/msdk/evalx/context', data=json.dumps(raw),
                                  headers={'Authorization': mobile_key, 'Content-Type': 'application/json'}, timeout=10).json()
        if set(browser) != {'kill-switch'} or set(mobile) != {'kill-switch', 'banner', 'doomed'}:
            raise Failure('client-side flag availability: browser %s, mobile %s' % (sorted(browser), sorted(mobile)))
        for key, result in list(browser.items()) + list(mobile.items()):
            want = expected[(index, key)]
            if not same(result['value'], want['value']) or result['variation'] != want['variationIndex']:
                raise Failure('evalx %s for %s: %s != %s' % (key, raw, result, want))
    from openfeature import api
    from openfeature.contrib.provider.ofrep import OFREPProvider
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.exception import ErrorCode

    api.set_provider(OFREPProvider(args.relay, headers_factory=lambda: {'Authorization': 'Bearer ' + sdk_key}))
    of_client = api.get_client()
    alice = EvaluationContext('alice', {'email': 'alice@example.com', 'plan': 'gold'})
    banner = of_client.get_string_details('banner', 'default', alice)
    gated = of_client.get_float_details('gated', 0.0, EvaluationContext('bob'))
    kill = of_client.get_boolean_details('kill-switch', False, EvaluationContext('bob'))
    if (banner.value, banner.reason, banner.variant) != ('red', 'TARGETING_MATCH', '2') or gated.value != 2.5 or kill.value is not True:
        raise Failure('OFREP provider: banner %s, gated %s, kill-switch %s' % (banner, gated, kill))
    missing = of_client.get_boolean_details('no-such-flag', True, EvaluationContext('bob'))
    if missing.value is not True or missing.error_code != ErrorCode.FLAG_NOT_FOUND:
        raise Failure('OFREP provider, unknown flag: %s' % missing)
    report['ofrep'] = 'ok'

    # 3. The kill switch reaches the streaming SDK.
    changed = threading.Event()
    arrival: Dict[str, float] = {}

    def on_change(change: Any) -> None:
        if change.key == 'kill-switch':
            arrival['t'] = time.monotonic()
            changed.set()

    streaming.flag_tracker.add_listener(on_change)
    bob = Context.create('bob')
    # Timed from the PATCH sent (commit, outbox, Kafka, relay, SDK: the whole 200 ms budget of docs/performance.md), not
    # from its response: the SDK usually has the change before the response arrives, which timed it as 0 ms.
    sent = time.monotonic()
    mgmt.call('PATCH', base + '/flags/kill-switch/environments/production', {'on': False})
    if not changed.wait(10) or streaming.variation('kill-switch', bob, None) is not False:
        raise Failure('the kill switch did not reach the streaming SDK')
    report['killSwitchMillis'] = round((arrival['t'] - sent) * 1000, 1)
    if streaming.variation_detail('gated', bob, None).reason != {'kind': 'PREREQUISITE_FAILED', 'prerequisiteKey': 'kill-switch'}:
        raise Failure('the prerequisite did not follow the kill switch')

    # 4. A deleted flag disappears.
    mgmt.call('DELETE', base + '/flags/doomed')
    deadline = time.time() + 10
    while streaming.variation_detail('doomed', bob, 'gone').reason.get('errorKind') != 'FLAG_NOT_FOUND':
        if time.time() > deadline:
            raise Failure('the deleted flag is still served to the streaming SDK')
        time.sleep(0.05)
    streaming.close()

    # 5. A rotated SDK key works until its grace period ends, then gets 401.
    rotated = mgmt.call('POST', base + '/environments/production/keys/sdk/rotate', {'expireOldAfterSeconds': 3}).json()
    new_key = rotated['sdkKey']
    deadline = time.time() + 10
    while requests.get(args.relay + '/sdk/latest-all', headers={'Authorization': new_key}, timeout=10).status_code != 200:
        if time.time() > deadline:
            raise Failure('the new SDK key was not accepted')
        time.sleep(0.05)
    if requests.get(args.relay + '/sdk/latest-all', headers={'Authorization': sdk_key}, timeout=10).status_code != 200:
        raise Failure('the old SDK key stopped working before its grace period ended')
    old_client = sdk_client(sdk_key, args.relay, True)
    old_client.close()
    time.sleep(3.2)
    status = requests.get(args.relay + '/sdk/latest-all', headers={'Authorization': sdk_key}, timeout=10).status_code
    if status != 401:
        raise Failure('the old SDK key answered %d after its grace period' % status)
    report['rotation'] = 'ok'
    return report


# ---------------------------------------------------------------------------------------------
# OFREP conformance (schemathesis against the official OpenAPI document)
# ---------------------------------------------------------------------------------------------

OFREP_DOCUMENT = os.path.join(HERE, 'ofrep', 'openapi.yaml')


def conformance_schema(document: dict) -> dict:
    """The official OFREP document with ``evaluationSuccess``'s value types made exclusive.

    Facts kept: a success has ``key`` and ``reason`` (one of the listed reasons), optional
    ``variant`` and ``metadata``, and either a ``value`` that is a boolean, a string, a number or
    an object, or no ``value`` at all (the code default). Written as ``anyOf`` of the typed values
    plus "``value`` absent", which is what the ``oneOf`` means. One deliberate extension, documented
    in docs/relay-streamer.md: LaunchDarkly flags may serve JSON arrays, which OFREP has no type for;
    they are served as they are (OpenFeature's object evaluation accepts them). And a
    ``targetingKey`` must not be empty: OFREP answers a context without a usable key with
    ``TARGETING_KEY_MISSING`` (400), and an empty key is not usable.
    """
    schemas = document['components']['schemas']
    # TARGETING_KEY_MISSING is how OFREP answers a context without a usable key; an empty string is
    # not one (LaunchDarkly context keys are never empty), so the request is invalid, not valid data.
    schemas['context']['properties']['targetingKey']['minLength'] = 1
    schemas['codeDefaultFlag'] = {
        'description': schemas['codeDefaultFlag'].get('description', ''),
        'type': 'object', 'not': {'required': ['value']},
    }
    schemas['arrayFlag'] = {'description': 'Vane extension: a JSON array value.', 'type': 'object',
                            'properties': {'value': {'type': 'array'}}, 'required': ['value']}
    success = schemas['evaluationSuccess']
    for part in success['allOf']:
        if 'oneOf' in part:
            part['anyOf'] = part.pop('oneOf') + [{'$ref': '#/components/schemas/arrayFlag'}]
    return document


def ofrep_conformance(args: argparse.Namespace) -> dict:
    import yaml  # schemathesis depends on PyYAML

    mgmt = Management(args.management, args.token)
    project = 'ofrep-%d' % (int(time.time() * 1000) % 1000000)
    environment = mgmt.project(project)
    sdk_key = environment['sdkKey']
    base = '/projects/%s' % project
    flags = {
        'boolean': [True, False], 'string': ['red', 'blue'], 'integer': [1, 2], 'float': [0.5, 2.5],
        'object': [{'a': 1, 'b': [True]}, {}], 'array': [[1, 'two'], []],
        'code-default': [True, False], 'split': ['a', 'b'], 'gated': [True, False],
    }
    for key, values in flags.items():
        mgmt.call('POST', base + '/flags', {'key': key, 'name': key, 'variations': [{'value': v} for v in values]})
    for key in flags:
        targeting: Dict[str, Any] = {'on': True, 'fallthrough': {'variation': 0}, 'offVariation': 1}
        if key == 'code-default':
            targeting = {'on': False, 'fallthrough': {'variation': 0}, 'offVariation': None}
        elif key == 'split':
            targeting['fallthrough'] = {'rollout': {'variations': [{'variation': 0, 'weight': 50000}, {'variation': 1, 'weight': 50000}]}}
            targeting['targets'] = [{'values': ['alice'], 'variation': 1}]
        elif key == 'gated':
            targeting['prerequisites'] = [{'key': 'code-default', 'variation': 0}]
        mgmt.call('PUT', base + '/flags/%s/environments/production' % key, targeting)
    wait_for_relay_data(args.relay, sdk_key, mgmt.payload(project))

    with tempfile.TemporaryDirectory() as folder:
        with open(OFREP_DOCUMENT) as handle:
            document = conformance_schema(yaml.safe_load(handle))
        schema_path = os.path.join(folder, 'ofrep-conformance.json')
        with open(schema_path, 'w') as handle:
            json.dump(document, handle)
        report = os.path.join(folder, 'report.json')
        command = [
            os.path.join(os.path.dirname(sys.executable), 'schemathesis'), 'run', schema_path, '--url', args.relay,
            '--header', 'X-API-Key: %s' % sdk_key, '--header', 'Authorization: Bearer %s' % sdk_key, '--checks', 'all',
            '--seed', str(args.seed),
            '--max-examples', str(args.examples), '--phases', 'examples,coverage,fuzzing', '--workers', '1',
            '--no-color', '--report', 'ndjson', '--report-ndjson-path', report, '--suppress-health-check', 'all',
        ]
        started = time.time()
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=folder)  # its cache stays out of the repository
        if result.returncode != 0:
            raise Failure('schemathesis found non-conforming OFREP responses:\n%s\n%s' % (result.stdout[-12000:], result.stderr[-3000:]))
        cases = 0
        with open(report) as handle:
            for line in handle:
                if '"ScenarioFinished"' in line or '"scenario_finished"' in line.lower():
                    cases += 1
    return {'flags': len(flags), 'seed': args.seed, 'examplesPerOperation': args.examples,
            'seconds': round(time.time() - started, 1), 'scenarios': cases,
            'summary': [line for line in result.stdout.splitlines() if 'passed' in line or 'cases' in line.lower()][-3:]}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('command', choices=['scenario', 'differential', 'ofrep-conformance'])
    parser.add_argument('--management', required=True)
    parser.add_argument('--token', required=True)
    parser.add_argument('--relay', required=True)
    parser.add_argument('--vanectl', required=True)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--flags', type=int, default=40)
    parser.add_argument('--contexts', type=int, default=40)
    parser.add_argument('--examples', type=int, default=40, help='ofrep-conformance: examples per operation')
    args = parser.parse_args(argv)
    commands = {'scenario': scenario, 'differential': differential, 'ofrep-conformance': ofrep_conformance}
    try:
        result = commands[args.command](args)
    except Failure as failure:
        print(str(failure))
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
