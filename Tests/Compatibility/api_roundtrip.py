#!/usr/bin/env python3
"""Randomized round trip of LaunchDarkly-format flags and segments through management-api.

Usage::

    api_roundtrip.py --api http://HOST:PORT --token ADMIN_TOKEN --seed S [--flags N] [--contexts M] --out DIR

It generates a corpus with ``gen_eval_corpus.py`` (mostly valid data, with deliberate mistakes:
out-of-range variation indexes, unknown operators, bad attribute references and context kinds,
regexes that do not compile, weights out of range, missing or cyclic prerequisites and segments,
keys with characters the API does not allow, variations of mixed types), creates a project, and
sends every segment (``PUT``) and flag (``POST`` with its variations and salt, then ``PUT`` of its
production targeting) through the REST API.

An independent checker in this file decides, for each item, which JSON paths are invalid under the
API's documented rules. The script then requires:

* every item the checker finds valid is accepted, and every invalid one is refused with a 422 whose
  ``details`` name at least one of the paths the checker found (and nothing it found valid);
* ``GET .../environments/production/data`` holds exactly the accepted items, unchanged in meaning:
  the same LaunchDarkly fields (server-generated rule ids and versions aside), and the same answer
  from LaunchDarkly's own evaluator (``ld_reference_eval.py``) for every flag and context as the
  items as they were sent.

It writes ``DIR/api-data.json`` (what ``/data`` returned) and ``DIR/environment-id`` for the caller,
which compares them with the ``vane.config`` topic. Exit status 0 when everything holds, 1 with a
list of differences otherwise, 2 when the API could not be reached.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Set, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

from gen_eval_corpus import CorpusGenerator  # noqa: E402
from ld_reference_eval import ReferenceEvaluator  # noqa: E402

PROJECT = 'roundtrip'
ENVIRONMENT = 'production'
KEY_PATTERN = re.compile(r'^[A-Za-z0-9._-]{1,256}$')
KIND_PATTERN = re.compile(r'^[A-Za-z0-9._-]+$')
OPERATORS = {'in', 'startsWith', 'endsWith', 'contains', 'matches', 'lessThan', 'lessThanOrEqual', 'greaterThan',
             'greaterThanOrEqual', 'before', 'after', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan',
             'segmentMatch'}
TARGETING_FIELDS = ('on', 'targets', 'contextTargets', 'rules', 'fallthrough', 'offVariation', 'prerequisites',
                    'trackEvents', 'trackEventsFallthrough')
SEGMENT_FIELDS = ('included', 'excluded', 'includedContexts', 'excludedContexts', 'rules', 'salt')


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

class API:
    def __init__(self, base: str, token: str):
        self.base = base.rstrip('/') + '/api/v1'
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header('Authorization', 'Bearer ' + self.token)
        if data is not None:
            request.add_header('Content-Type', 'application/json')
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors='replace')


# ---------------------------------------------------------------------------------------------
# The independent checker: the API's validation rules, written from its documentation.
# ---------------------------------------------------------------------------------------------

def value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if value is None:
        return 'null'
    return 'json'


def kind_ok(kind: Optional[str]) -> bool:
    """A context kind in flag data: absent or "" means user."""
    return kind is None or kind == '' or (bool(KIND_PATTERN.match(kind)) and kind not in ('kind', 'multi'))


def reference_ok(text: str, owner_kind: Optional[str]) -> bool:
    """An attribute reference: a literal name without a context kind, else a /path with ~0 ~1 escapes."""
    if text == '':
        return False
    if not owner_kind or not text.startswith('/'):
        return True
    for component in text[1:].split('/'):
        if component == '':
            return False
        if re.search(r'~(?![01])', component):
            return False
    return True


def regex_ok(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False


class Checker:
    def __init__(self):
        self.flag_variations: Dict[str, int] = {}  # accepted flags: variation counts
        self.flag_prerequisites: Dict[str, List[str]] = {}
        self.segments: Set[str] = set()
        self.segment_references: Dict[str, List[str]] = {}

    def index(self, problems: Set[str], value: Any, count: int, path: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
            problems.add(path)

    def clause(self, problems: Set[str], clause: dict, path: str, segments: Set[str]) -> None:
        if not kind_ok(clause.get('contextKind')):
            problems.add(path + '.contextKind')
        op = clause.get('op')
        if op not in OPERATORS:
            problems.add(path + '.op')
            return
        values = clause.get('values', [])
        if op == 'segmentMatch':
            for i, value in enumerate(values):
                if not isinstance(value, str) or value not in segments:
                    problems.add('%s.values[%d]' % (path, i))
            return
        if not reference_ok(clause.get('attribute', ''), clause.get('contextKind')):
            problems.add(path + '.attribute')
        if op == 'matches':
            for i, value in enumerate(values):
                if isinstance(value, str) and not regex_ok(value):
                    problems.add('%s.values[%d]' % (path, i))

    def rollout(self, problems: Set[str], rollout: dict, path: str, count: int) -> None:
        variations = rollout.get('variations', [])
        if not variations:
            problems.add(path + '.variations')
        total = 0
        for i, weighted in enumerate(variations):
            self.index(problems, weighted.get('variation'), count, '%s.variations[%d].variation' % (path, i))
            weight = weighted.get('weight', 0)
            if not 0 <= weight <= 100000:
                problems.add('%s.variations[%d].weight' % (path, i))
            total += max(0, weight)
        if total > 100000:
            problems.add(path + '.variations')
        if rollout.get('kind') not in (None, 'rollout', 'experiment'):
            problems.add(path + '.kind')
        if not kind_ok(rollout.get('contextKind')):
            problems.add(path + '.contextKind')
        bucket_by = rollout.get('bucketBy')
        if bucket_by and not reference_ok(bucket_by, rollout.get('contextKind')):
            problems.add(path + '.bucketBy')

    def choice(self, problems: Set[str], choice: Optional[dict], path: str, count: int) -> None:
        choice = choice or {}
        has_variation, has_rollout = choice.get('variation') is not None, choice.get('rollout') is not None
        if has_variation == has_rollout:
            problems.add(path)
        elif has_variation:
            self.index(problems, choice['variation'], count, path + '.variation')
        else:
            self.rollout(problems, choice['rollout'], path + '.rollout', count)

    def flag_creation(self, key: str, variations: List[Any]) -> Set[str]:
        problems: Set[str] = set()
        if not KEY_PATTERN.match(key):
            problems.add('key')
        if not variations:
            problems.add('variations')
        for i, value in enumerate(variations):
            if value is None or value_kind(value) != value_kind(variations[0]):
                problems.add('variations[%d].value' % i)
        return problems

    def targeting(self, key: str, flag: dict) -> Set[str]:
        count = self.flag_variations[key]
        problems: Set[str] = set()
        if flag.get('offVariation') is not None:
            self.index(problems, flag['offVariation'], count, 'offVariation')
        self.choice(problems, flag.get('fallthrough'), 'fallthrough', count)
        for name in ('targets', 'contextTargets'):
            for i, target in enumerate(flag.get(name, [])):
                self.index(problems, target.get('variation'), count, '%s[%d].variation' % (name, i))
                if not kind_ok(target.get('contextKind')):
                    problems.add('%s[%d].contextKind' % (name, i))
                for j, value in enumerate(target.get('values', [])):
                    if not isinstance(value, str):
                        problems.add('%s[%d].values[%d]' % (name, i, j))
        for i, rule in enumerate(flag.get('rules', [])):
            self.choice(problems, rule, 'rules[%d]' % i, count)
            for j, clause in enumerate(rule.get('clauses', [])):
                self.clause(problems, clause, 'rules[%d].clauses[%d]' % (i, j), self.segments)
        new_prerequisites = [p['key'] for p in flag.get('prerequisites', [])]
        for i, prerequisite in enumerate(flag.get('prerequisites', [])):
            target = prerequisite['key']
            if target not in self.flag_variations:
                problems.add('prerequisites[%d].key' % i)
                continue
            self.index(problems, prerequisite.get('variation'), self.flag_variations[target],
                       'prerequisites[%d].variation' % i)
            if self.reaches(target, key, self.flag_prerequisites, key, new_prerequisites):
                problems.add('prerequisites[%d].key' % i)
        return problems

    def segment(self, key: str, segment: dict) -> Set[str]:
        problems: Set[str] = set()
        if not KEY_PATTERN.match(key):
            problems.add('key')
        for name in ('includedContexts', 'excludedContexts'):
            for i, target in enumerate(segment.get(name, [])):
                if not kind_ok(target.get('contextKind')):
                    problems.add('%s[%d].contextKind' % (name, i))
        known = self.segments | {key}
        references = [v for rule in segment.get('rules', []) for c in rule.get('clauses', [])
                      if c.get('op') == 'segmentMatch' for v in c.get('values', []) if isinstance(v, str)]
        for i, rule in enumerate(segment.get('rules', [])):
            for j, clause in enumerate(rule.get('clauses', [])):
                path = 'rules[%d].clauses[%d]' % (i, j)
                self.clause(problems, clause, path, known)
                if clause.get('op') == 'segmentMatch':
                    for k, value in enumerate(clause.get('values', [])):
                        if isinstance(value, str) and self.reaches(value, key, self.segment_references, key, references):
                            problems.add('%s.values[%d]' % (path, k))
            weight = rule.get('weight')
            if weight is not None and not 0 <= weight <= 100000:
                problems.add('rules[%d].weight' % i)
            if not kind_ok(rule.get('rolloutContextKind')):
                problems.add('rules[%d].rolloutContextKind' % i)
            if rule.get('bucketBy') and not reference_ok(rule['bucketBy'], rule.get('rolloutContextKind')):
                problems.add('rules[%d].bucketBy' % i)
        return problems

    @staticmethod
    def reaches(start: str, goal: str, graph: Dict[str, List[str]], changed: str, edges: List[str]) -> bool:
        graph = dict(graph)
        graph[changed] = edges
        seen: Set[str] = set()
        stack = [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node in seen:
                continue
            seen.add(node)
            stack.extend(graph.get(node, []))
        return False


# ---------------------------------------------------------------------------------------------
# The round trip
# ---------------------------------------------------------------------------------------------

def homogenize(rng: random.Random, data: dict) -> None:
    """Most flags get variations of one type (the generator mixes them freely); some stay mixed."""
    pools = {'boolean': [True, False], 'number': [0, 1, -1, 2.5, 1e20, 3.0, 7], 'string': ['', 'on', 'off', 'ünï'],
             'json': [[], {}, {'a': {'b': [1, 2]}}, [1, 'a', None]]}
    for flag in data['flags'].values():
        variations = flag.get('variations')
        if not variations or rng.random() < 0.1:
            continue
        kind = value_kind(variations[0])
        if kind == 'null':
            kind = 'string'
        flag['variations'] = [rng.choice(pools[kind]) for _ in variations]


def normalized_flag(flag: dict) -> dict:
    """The evaluation-relevant LaunchDarkly fields, with LaunchDarkly's defaults filled in."""
    out = {
        'key': flag['key'], 'on': flag.get('on', False), 'variations': flag.get('variations', []),
        'offVariation': flag.get('offVariation'), 'fallthrough': normalized_choice(flag.get('fallthrough')),
        'targets': [normalized_target(t) for t in flag.get('targets', [])],
        'contextTargets': [normalized_target(t) for t in flag.get('contextTargets', [])],
        'rules': [dict(normalized_choice(r), clauses=[normalized_clause(c) for c in r.get('clauses', [])],
                       trackEvents=r.get('trackEvents', False)) for r in flag.get('rules', [])],
        'prerequisites': flag.get('prerequisites', []), 'salt': flag.get('salt', ''),
        'trackEvents': flag.get('trackEvents', False), 'trackEventsFallthrough': flag.get('trackEventsFallthrough', False),
    }
    return out


def normalized_choice(choice: Optional[dict]) -> dict:
    choice = choice or {}
    if choice.get('rollout') is not None:
        rollout = choice['rollout']
        return {'rollout': {
            'kind': rollout.get('kind') or 'rollout', 'contextKind': rollout.get('contextKind') or None,
            'bucketBy': rollout.get('bucketBy') or None, 'seed': rollout.get('seed'),
            'variations': [{'variation': v['variation'], 'weight': v['weight'], 'untracked': v.get('untracked', False)}
                           for v in rollout.get('variations', [])]}}
    return {'variation': choice.get('variation')}


def normalized_target(target: dict) -> dict:
    return {'values': target.get('values', []), 'variation': target.get('variation'),
            'contextKind': target.get('contextKind') or None}


def normalized_clause(clause: dict) -> dict:
    return {'contextKind': clause.get('contextKind') or None, 'attribute': clause.get('attribute', ''),
            'op': clause.get('op'), 'values': clause.get('values', []), 'negate': clause.get('negate', False)}


def normalized_segment(segment: dict) -> dict:
    return {
        'key': segment['key'], 'included': segment.get('included', []), 'excluded': segment.get('excluded', []),
        'includedContexts': [normalized_target(t) for t in segment.get('includedContexts', [])],
        'excludedContexts': [normalized_target(t) for t in segment.get('excludedContexts', [])],
        'salt': segment.get('salt', ''),
        'rules': [{'clauses': [normalized_clause(c) for c in r.get('clauses', [])], 'weight': r.get('weight'),
                   'bucketBy': r.get('bucketBy') or None, 'rolloutContextKind': r.get('rolloutContextKind') or None}
                  for r in segment.get('rules', [])],
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--api', required=True)
    parser.add_argument('--token', required=True)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--flags', type=int, default=300)
    parser.add_argument('--contexts', type=int, default=150)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)

    generated, contexts = CorpusGenerator(args.seed, args.flags, args.contexts).generate()
    homogenize(random.Random(args.seed), generated)
    api = API(args.api, args.token)
    failures: List[str] = []

    try:
        status, body = api.call('POST', '/projects', {'key': PROJECT, 'name': 'Round trip',
                                                      'environments': [{'key': ENVIRONMENT, 'name': 'Production'}]})
    except OSError as error:
        print('cannot reach management-api: %s' % error, file=sys.stderr)
        return 2
    if status != 201:
        print('creating the project failed: %s %s' % (status, body), file=sys.stderr)
        return 2
    environment_id = body['environments'][0]['id']
    checker = Checker()
    accepted_flags: Dict[str, dict] = {}
    accepted_segments: Dict[str, dict] = {}
    counts = {'segments accepted': 0, 'segments refused': 0, 'flags accepted': 0, 'flags refused at creation': 0,
              'targeting refused': 0}

    def judge(what: str, expected: Set[str], status: int, body: Any, expected_status: int) -> bool:
        """Compares one API answer with the checker's verdict; True when the item was accepted."""
        if not expected:
            if status != expected_status:
                failures.append('%s: valid, but refused: %s %s' % (what, status, json.dumps(body)[:400]))
            return status == expected_status
        if status != 422:
            failures.append('%s: invalid at %s, but answered %s' % (what, sorted(expected), status))
            return status == expected_status
        paths = {d.get('path') for d in body.get('details', [])}
        if not paths & expected:
            failures.append('%s: invalid at %s, but the 422 names %s' % (what, sorted(expected), sorted(paths)))
        return False

    # Segments, in an order that creates referenced segments first; what is left (references to
    # missing segments, cycles) goes last and must be refused.
    pending = {key: seg for key, seg in generated['segments'].items() if not seg.get('deleted')}
    def references(segment: dict) -> Set[str]:
        return {v for r in segment.get('rules', []) for c in r.get('clauses', [])
                if c.get('op') == 'segmentMatch' for v in c.get('values', []) if isinstance(v, str)}
    order: List[str] = []
    while pending:
        ready = [k for k, s in pending.items() if references(s) <= set(order)]
        if not ready:
            ready = sorted(pending)
        for key in sorted(ready):
            order.append(key)
            del pending[key]
    for key in order:
        segment = generated['segments'][key]
        expected = checker.segment(key, segment)
        body = {name: segment[name] for name in SEGMENT_FIELDS if name in segment}
        status, answer = api.call('PUT', '/projects/%s/environments/%s/segments/%s' % (PROJECT, ENVIRONMENT, key), body)
        if judge('segment %s' % key, expected, status, answer, 201):
            accepted_segments[key] = segment
            checker.segments.add(key)
            checker.segment_references[key] = sorted(references(segment))
            counts['segments accepted'] += 1
        else:
            counts['segments refused'] += 1

    # Flags: create all (variations, salt), then each one's targeting; prerequisites first.
    initial: Dict[str, dict] = {}
    for key, flag in generated['flags'].items():
        if flag.get('deleted'):
            continue
        variations = flag.get('variations', [])
        expected = checker.flag_creation(key, variations)
        body: Dict[str, Any] = {'key': key, 'name': key, 'variations': [{'value': v} for v in variations]}
        if 'salt' in flag:
            body['salt'] = flag['salt']
        if 'clientSide' in flag:
            body['clientSideAvailability'] = {'usingEnvironmentId': flag['clientSide'], 'usingMobileKey': True}
        status, answer = api.call('POST', '/projects/%s/flags' % PROJECT, body)
        if judge('flag %s (creation)' % key, expected, status, answer, 201):
            checker.flag_variations[key] = len(variations)
            initial[key] = answer['environments'][ENVIRONMENT]
        else:
            counts['flags refused at creation'] += 1

    def prerequisite_depth(key: str, seen: Tuple[str, ...] = ()) -> int:
        if key in seen:
            return 0
        flag = generated['flags'].get(key, {})
        return 1 + max([prerequisite_depth(p['key'], seen + (key,)) for p in flag.get('prerequisites', [])] or [0])

    for key in sorted(initial, key=lambda k: (prerequisite_depth(k), k)):
        flag = generated['flags'][key]
        expected = checker.targeting(key, flag)
        body = {name: flag[name] for name in TARGETING_FIELDS if name in flag}
        status, answer = api.call('PUT', '/projects/%s/flags/%s/environments/%s' % (PROJECT, key, ENVIRONMENT), body)
        if judge('flag %s (targeting)' % key, expected, status, answer, 200):
            checker.flag_prerequisites[key] = [p['key'] for p in flag.get('prerequisites', [])]
            sent = copy.deepcopy(flag)
            # Rule ids are the server's to generate where none was given.
            for rule, stored in zip(sent.get('rules', []), answer.get('rules', [])):
                if not rule.get('id'):
                    rule['id'] = stored.get('id')
            accepted_flags[key] = sent
            counts['flags accepted'] += 1
        else:
            counts['targeting refused'] += 1
            # Refused: the flag keeps the targeting it was created with.
            created = dict(initial[key], key=key, variations=flag['variations'])
            accepted_flags[key] = created

    # What /data returns must be what was accepted.
    status, data = api.call('GET', '/projects/%s/environments/%s/data' % (PROJECT, ENVIRONMENT))
    if status != 200:
        failures.append('GET /data answered %s' % status)
        data = {'flags': {}, 'segments': {}}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'api-data.json'), 'w', encoding='utf-8') as f:
        json.dump(data, f, ensure_ascii=False)
    with open(os.path.join(args.out, 'environment-id'), 'w') as f:
        f.write(environment_id)
    if sorted(data['flags']) != sorted(accepted_flags):
        failures.append('/data flags differ: missing %s, unexpected %s' % (
            sorted(set(accepted_flags) - set(data['flags'])), sorted(set(data['flags']) - set(accepted_flags))))
    if sorted(data['segments']) != sorted(accepted_segments):
        failures.append('/data segments differ: missing %s, unexpected %s' % (
            sorted(set(accepted_segments) - set(data['segments'])), sorted(set(data['segments']) - set(accepted_segments))))
    for key, sent in accepted_flags.items():
        if key in data['flags']:
            got = data['flags'][key]
            if 'salt' not in sent:
                sent = dict(sent, salt=got.get('salt'))
            if normalized_flag(got) != normalized_flag(sent):
                failures.append('flag %s changed:\n  sent %s\n  got  %s' % (
                    key, json.dumps(normalized_flag(sent), sort_keys=True), json.dumps(normalized_flag(got), sort_keys=True)))
    for key, sent in accepted_segments.items():
        if key in data['segments']:
            got = data['segments'][key]
            if 'salt' not in sent:
                sent = dict(sent, salt=got.get('salt'))
            if normalized_segment(got) != normalized_segment(sent):
                failures.append('segment %s changed:\n  sent %s\n  got  %s' % (
                    key, json.dumps(normalized_segment(sent), sort_keys=True), json.dumps(normalized_segment(got), sort_keys=True)))

    # Same meaning: LaunchDarkly's evaluator gives the same answers for what was sent and what came out.
    expected_payload = {'flags': {}, 'segments': {}}
    for key, flag in accepted_flags.items():
        flag = dict(flag, key=key, version=1)
        if key in data['flags']:
            flag['salt'] = data['flags'][key].get('salt')
        expected_payload['flags'][key] = flag
    for key, segment in accepted_segments.items():
        segment = dict(segment, key=key, version=1)
        if key in data['segments']:
            segment['salt'] = data['segments'][key].get('salt')
            # Rule ids do not affect segment evaluation; versions are the server's.
        expected_payload['segments'][key] = segment
    evaluated = 0
    sent_records = list(ReferenceEvaluator(expected_payload).records(contexts))
    got_records = list(ReferenceEvaluator(data).records(contexts))
    for sent_record, got_record in zip(sent_records, got_records):
        evaluated += 1
        if sent_record != got_record:
            failures.append('evaluation differs for flag %s, context %s: sent %s, got %s' % (
                sent_record['flag'], sent_record['context'], json.dumps(sent_record), json.dumps(got_record)))
    if len(sent_records) != len(got_records):
        failures.append('evaluation produced %d records for what was sent, %d for /data' % (len(sent_records), len(got_records)))

    summary = dict(counts, evaluations=evaluated)
    print(json.dumps(summary))
    if failures:
        for failure in failures[:40]:
            print(failure)
        print('%d differences' % len(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
