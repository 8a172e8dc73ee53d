#!/usr/bin/env python3
"""Random flag/segment/context corpus for Vane's differential evaluation test.

Usage::

    gen_eval_corpus.py --seed S --flags N --contexts M --out DIR [--stats]

Writes ``DIR/data.json`` (a polling payload ``{"flags":{...},"segments":{...}}``) and
``DIR/contexts.json`` (a JSON array of contexts). The same seed always gives the same files.

The corpus is built to reach every part of the LaunchDarkly data model and evaluation algorithm
(reference doc §5-§7): flags on and off, every variation type, prerequisites (nested, diamonds,
missing, off, cycles), individual targets in both the legacy and the context-aware form, rules with
every operator, negation, clause context kinds, attribute references and their escapes, segments
(nested, cyclic, with includes/excludes per kind and weighted rules), rollouts and experiments with
every bucketing input, and out-of-range variation indexes everywhere one can appear. Contexts are
single-kind, multi-kind, old user format, or invalid. Keys, attribute names and values come from
small shared pools so that targets, clauses and segments actually match (``--stats`` prints the
resulting reason histogram, computed with ``ld_reference_eval.py``).

"Malformed" data here is always *semantically* invalid but well-typed: the Python SDK's model parser
accepts every flag and segment (integers are JSON integers, required properties are present), as Go's
parser does. Regular expressions stay within the subset on which RE2 (Go), Python ``re`` and Swift
``Regex`` agree: ASCII literals, ``.``, anchors, ASCII classes, ``|``, quantifiers, ``\\.``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ldclient.impl.model import FeatureFlag, Segment

# ---------------------------------------------------------------------------------------------
# Shared pools.
# ---------------------------------------------------------------------------------------------

KINDS = ['user', 'org', 'device', 'svc.v2']
KEYS = ['alice', 'bob', 'carol', 'dave', 'acme', 'globex', 'dev-1', 'k:1%2', 'ünï', '🙂', 'userKeyA', 'user-key']
NAMES = ['Alice', 'Bob', 'alice', '', 'Zoë']

EMAILS = ['alice@example.com', 'bob@corp.com', 'carol@example.org', 'dave@EXAMPLE.com', '', 'x@y']
COUNTRIES = ['us', 'ca', 'gb', 'US', 'de']
PLANS = ['gold', 'silver', 'bronze', 'Gold']
NUMBERS = [0, 17, 18, 18.0, 21, 65.5, -3, 100, 0.5, 1e3, 33333]
SEMVERS = ['2', '2.0', '2.0.0', '2-rc', '2.0-rc', '2.0.0-rc', '2.0.0-rc.1', '2.0.0-rc.2.green', '2.0.0-rc.10.green',
           '2.0.0-rc.2.red', '2.0.0+build', '2.0.0-alpha+b.1', '2.0.0-1', '2.0.0-a', '10.1.0', '1.9.9', '0.0.0',
           '02.0.0', 'v2.0.0', '2.0.0.0', '2.0.0-01', '2.0.0-', '2.0.0+', '', '2.🔥',
           '18446744073709551618.0.0']  # Go's int64 wraps this to 2.0.0
DATES = ['2020-01-01T00:00:00Z', '2020-01-01T00:00:00.000000001Z', '2019-12-31T17:00:00-07:00',
         '2020-01-01T01:00:00.5+01:00', '2020-01-01T00:00:00.0000001Z', '2020-02-30T12:00:00Z',
         '2020-03-01T12:00:00Z', '2020-01-01T9:00:00Z', '2019-12-31T23:59:60Z', '2020-01-01t00:00:00z',
         '2020-01-01T00:00:00Zjunk', '2020-01-01', '2020-01-01T00:00:00', 'not a date', '1577836800000',
         '0001-01-01T00:00:00Z', '2020-01-01T00:00:00.1234567891Z', '2020-01-01T00:00:00+24:00', '']
EPOCH_MILLIS = [1577836800000, 1577836800000.9, 1577836799999.5, 1577836800001, 0, -1000, 1.6e12, 1577836799999]
SUBSTRINGS = ['a', 'al', '@example.com', 'example', '.org', 'us', 'go', '', '1', 'A', 'ü', '🙂']
REGEXES = ['^a', 'example\\.com$', '^[a-c]', '[0-9]+', 'o', '^$', 'gold|silver', '^G', 'e.a', 'b*c?',
           '(', '[', 'x{2}']
VARIATION_VALUES: List[Any] = [True, False, 0, 1, -1, 2.5, 1e20, '', 'on', 'ünïcode', [], [1, 'a', None, True], {},
                               {'a': {'b': [1, 2]}, 'n': None}, None, 3.0]
MISC_VALUES: List[Any] = ['1', 1, 1.0, True, False, 0, None, [1, 2], {'a': 1}, {'a': True}, ['a', ['b']], 'gold']


def _address(rng: random.Random) -> dict:
    return {'city': rng.choice(['Paris', 'Oslo', 'paris', '']), 'zip': rng.choice([75001, '75001', 33333.0, 2.5]),
            'geo': {'lat': rng.choice([48.85, 59.9, 0]), 'tags': ['a', 'b']},
            'a/b': 'slash-prop', '~t': 'tilde-prop', '2': 'two'}


# Context attribute catalog: name -> value generator. Clauses, bucketBy and contexts share it.
ATTRIBUTES: Dict[str, Callable[[random.Random], Any]] = {
    'email': lambda r: r.choice(EMAILS),
    'country': lambda r: r.choice(COUNTRIES),
    'plan': lambda r: r.choice(PLANS),
    'age': lambda r: r.choice(NUMBERS),
    'score': lambda r: r.choice([0.5, 1.0, 2.5, 99.99, -0.0, 7]),
    'beta': lambda r: r.choice([True, False]),
    'version': lambda r: r.choice(SEMVERS),
    'joined': lambda r: r.choice(DATES + EPOCH_MILLIS + [True]),
    'tags': lambda r: r.sample(['a', 'b', 'gold', 1, True, None, 'us', {'a': 1}, [1, 2]], r.randint(0, 4)),
    'groups': lambda r: r.sample(['admins', 'beta', 'staff', 'alice@example.com'], r.randint(1, 3)),
    'address': _address,
    'nested': lambda r: {'x': {'y': {'z': r.choice(['deep', 'Deep', 5])}}},
    'a/b': lambda r: r.choice(['slash', 'us']),
    '/slash': lambda r: r.choice(['leading', 'gold']),
    '~tilde': lambda r: r.choice(['tilde', 'gold']),
    'bucketInt': lambda r: r.choice([33333, 99999, 0, -5, 12, 2 ** 40]),
    'bucketFloat': lambda r: r.choice([33333.0, 2.5, 1e2, 12.0, -0.0]),
    'misc': lambda r: r.choice(MISC_VALUES),
    'firstName': lambda r: r.choice(NAMES),
}

# Clause attributes: plain names (literal whatever the context kind), references that are paths
# only when the clause has a context kind, and references that are invalid (MALFORMED_FLAG) -- ""
# always, the others only as paths.
PLAIN_ATTRIBUTES = list(ATTRIBUTES) + ['name', 'key', 'anonymous', 'kind', 'missingAttr']
PATH_ATTRIBUTES = ['/address/city', '/address/zip', '/address/geo/lat', '/address/a~1b', '/address/~0t', '/address/2',
                   '/nested/x/y/z', '/tags/0', '/a~1b', '/~1slash', '/~0tilde', '/kind', '/key', '/email',
                   '/address/geo/tags']
INVALID_ATTRIBUTES = ['', '/', '//x', '/address/', '/a~2', '/~']
BUCKET_BY = ['key', 'name', 'bucketInt', 'bucketInt', 'bucketFloat', 'bucketFloat', 'bucketFloat', 'score', 'beta',
             'missingAttr', 'email', '/address/zip', '/address/geo/lat', 'tags', '', '/nested/x/y/z']

OPERATORS = ['in', 'startsWith', 'endsWith', 'contains', 'matches', 'lessThan', 'lessThanOrEqual', 'greaterThan',
             'greaterThanOrEqual', 'before', 'after', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan',
             'segmentMatch', 'unknownOp']
# Operator weights: `in` and segmentMatch dominate real data; every other operator still appears often.
OPERATOR_WEIGHTS = [8, 2, 2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 1, 1, 5, 1]


def _weighted(rng: random.Random, choices: Sequence[Tuple[float, Any]]) -> Any:
    return rng.choices([c for _, c in choices], weights=[w for w, _ in choices])[0]


class CorpusGenerator:
    """Builds one corpus; every random decision goes through self.rng."""

    def __init__(self, seed: int, n_flags: int, n_contexts: int):
        self.rng = random.Random(seed)
        self.n_flags = n_flags
        self.n_contexts = n_contexts
        self.n_segments = max(3, n_flags // 4)
        self.flag_keys = self._flag_keys()
        self.segment_keys = ['seg-%02d' % i for i in range(self.n_segments)]

    # -- pools and small helpers ----------------------------------------------------------------

    def _flag_keys(self) -> List[str]:
        # Mostly "flag-NNN"; a few prefixes that sort differently in byte order than in other orders.
        # (None starts with '-', which a command line would take for an option after --flag.)
        prefixes = [(20, 'flag-'), (1, 'Flag_'), (1, 'flag.'), (1, 'ä-'), (1, 'z.'), (1, '_'), (1, 'é')]
        return ['%s%03d' % (_weighted(self.rng, prefixes), i) for i in range(self.n_flags)]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def context_kind(self, absent: float = 0.4) -> Optional[str]:
        """A clause/rollout context kind: None means the property is omitted."""
        return _weighted(self.rng, [(absent, None), (0.3, 'user'), (0.12, 'org'), (0.08, 'device'),
                                    (0.04, 'svc.v2'), (0.03, '')])

    def variation_index(self, n_variations: int, bad: float = 0.03) -> int:
        if n_variations == 0 or self.chance(bad):
            return self.rng.choice([-1, n_variations, n_variations + 2])
        return self.rng.randrange(n_variations)

    def salt(self) -> Optional[str]:
        return _weighted(self.rng, [(0.2, None), (0.1, ''), (0.7, 'salt%d' % self.rng.randrange(1000))])

    # -- clauses ------------------------------------------------------------------------------------

    def clause(self, segment_keys: Sequence[str]) -> dict:
        op = self.rng.choices(OPERATORS, weights=OPERATOR_WEIGHTS)[0]
        clause: Dict[str, Any] = {}
        kind = self.context_kind()
        if kind is not None:
            clause['contextKind'] = kind
        if op == 'segmentMatch':
            clause['attribute'] = self.rng.choice(['', '', 'key', '/'])  # ignored for segmentMatch
            values: List[Any] = self.rng.sample(list(segment_keys), min(len(segment_keys), self.rng.randint(1, 2)))
            if self.chance(0.1):
                values.append(self.rng.choice(['no-such-segment', 1, None]))
        else:
            attribute, pool = self.clause_attribute(op)
            clause['attribute'] = attribute
            values = [self.clause_value(op, pool) for _ in range(self.rng.randint(1, 3))]
            if op == 'in' and self.chance(0.15):
                values += [self.clause_value(op, pool) for _ in range(8)]  # Go switches to a set lookup
        clause['op'] = op
        clause['values'] = values
        if self.chance(0.25):
            clause['negate'] = True
        elif self.chance(0.5):
            clause['negate'] = False
        return clause

    def clause_attribute(self, op: str) -> Tuple[str, Optional[str]]:
        """Returns the attribute string and the catalog attribute whose values should be used."""
        roll = self.rng.random()
        if roll < 0.02:
            return self.rng.choice(INVALID_ATTRIBUTES), None
        if roll < 0.05:
            return '/kind', 'kind'  # a kind clause in Python, an attribute lookup in Go
        if roll < 0.2:
            path = self.rng.choice(PATH_ATTRIBUTES)
            return path, {'/address/city': 'city', '/nested/x/y/z': 'deep', '/a~1b': 'a/b', '/~1slash': '/slash',
                          '/~0tilde': '~tilde', '/email': 'email', '/kind': 'kind', '/key': 'key'}.get(path)
        preferred = {'startsWith': ['email', 'country', 'plan', 'name', 'key', 'groups'],
                     'endsWith': ['email', 'country', 'plan', 'name', 'key'],
                     'contains': ['email', 'plan', 'key', 'tags', 'name'],
                     'matches': ['email', 'plan', 'key', 'name', 'country', 'kind'],
                     'lessThan': ['age', 'score', 'bucketInt', 'misc'], 'lessThanOrEqual': ['age', 'score'],
                     'greaterThan': ['age', 'score', 'bucketFloat'], 'greaterThanOrEqual': ['age', 'score'],
                     'before': ['joined'], 'after': ['joined'],
                     'semVerEqual': ['version'], 'semVerLessThan': ['version'], 'semVerGreaterThan': ['version']}
        if op in preferred and self.chance(0.8):
            name = self.rng.choice(preferred[op])
        else:
            name = self.rng.choice(PLAIN_ATTRIBUTES)
        return name, name

    def clause_value(self, op: str, pool: Optional[str]) -> Any:
        rng = self.rng
        if op in ('startsWith', 'endsWith', 'contains'):
            return rng.choice(SUBSTRINGS + [1, True]) if rng.random() < 0.5 else self.attribute_value(pool)
        if op == 'matches':
            return rng.choice(REGEXES + [5])
        if op in ('lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual'):
            return rng.choice(NUMBERS + ['18', True, 2.5])
        if op in ('before', 'after'):
            return rng.choice(DATES + EPOCH_MILLIS + [None, False])
        if op.startswith('semVer'):
            return rng.choice(SEMVERS + [2])
        if op == 'in' and rng.random() < 0.3:
            return rng.choice(MISC_VALUES + KINDS + ['multi'])
        return self.attribute_value(pool)

    def attribute_value(self, pool: Optional[str]) -> Any:
        """A value that an attribute from the catalog (or a built-in) can actually have."""
        if pool in ATTRIBUTES:
            value = ATTRIBUTES[pool](self.rng)
            # Arrays are matched element by element, so a clause should mostly name one element.
            if isinstance(value, list) and value and self.chance(0.8):
                return self.rng.choice(value)
            return value
        return {'key': lambda: self.rng.choice(KEYS), 'name': lambda: self.rng.choice(NAMES),
                'anonymous': lambda: self.rng.choice([True, False, 1]), 'kind': lambda: self.rng.choice(KINDS),
                'city': lambda: self.rng.choice(['Paris', 'Oslo']), 'deep': lambda: 'deep',
                }.get(pool or '', lambda: self.rng.choice(MISC_VALUES))()

    # -- rollouts -------------------------------------------------------------------------------------

    def rollout(self, n_variations: int) -> dict:
        rng = self.rng
        rollout: Dict[str, Any] = {}
        kind = _weighted(rng, [(0.4, None), (0.2, 'rollout'), (0.35, 'experiment'), (0.05, 'bogus')])
        if kind is not None:
            rollout['kind'] = kind
        context_kind = self.context_kind(absent=0.6)
        if context_kind is not None:
            rollout['contextKind'] = context_kind
        if self.chance(0.5):
            rollout['bucketBy'] = rng.choice(BUCKET_BY + INVALID_ATTRIBUTES[1:] if self.chance(0.1) else BUCKET_BY)
        if self.chance(0.4):
            rollout['seed'] = rng.randint(-100, 100000)
        rollout['variations'] = [] if self.chance(0.03) else self.weighted_variations(n_variations)
        return rollout

    def weighted_variations(self, n_variations: int) -> List[dict]:
        rng = self.rng
        count = rng.randint(1, 4)
        shape = _weighted(rng, [(0.65, 'exact'), (0.15, 'short'), (0.1, 'zero-first'), (0.1, 'over')])
        cuts = sorted(rng.randint(0, 100000) for _ in range(count - 1))
        weights = [b - a for a, b in zip([0] + cuts, cuts + [100000])]
        if shape == 'short':
            weights = [w * rng.randint(1, 9) // 10 for w in weights]
        elif shape == 'zero-first':
            weights = [0] + weights[1:] if count > 1 else [0]
        elif shape == 'over':
            weights[-1] += rng.randint(1, 50000)
        out = []
        for w in weights:
            wv: Dict[str, Any] = {'variation': self.variation_index(n_variations, bad=0.03), 'weight': w}
            if self.chance(0.15):
                wv['untracked'] = self.chance(0.7)
            out.append(wv)
        return out

    def variation_or_rollout(self, n_variations: int) -> dict:
        shape = _weighted(self.rng, [(0.55, 'variation'), (0.4, 'rollout'), (0.03, 'both'), (0.02, 'neither')])
        out: Dict[str, Any] = {}
        if shape in ('variation', 'both'):
            out['variation'] = self.variation_index(n_variations)
        if shape in ('rollout', 'both'):
            out['rollout'] = self.rollout(n_variations)
        return out

    # -- segments -------------------------------------------------------------------------------------

    def segment(self, index: int) -> dict:
        rng = self.rng
        key = self.segment_keys[index]
        if self.chance(0.04):
            return {'key': key, 'version': rng.randint(1, 9), 'deleted': True}
        segment: Dict[str, Any] = {'key': key, 'version': rng.randint(1, 99)}
        for name in ('included', 'excluded'):
            if self.chance(0.5):
                segment[name] = rng.sample(KEYS, rng.randint(0, 3))
        for name in ('includedContexts', 'excludedContexts'):
            if self.chance(0.4):
                segment[name] = [self.segment_target() for _ in range(rng.randint(1, 2))]
        salt = self.salt()
        if salt is not None:
            segment['salt'] = salt
        # Segment rules may reference earlier segments (nesting) and, rarely, any segment (cycles).
        referable = self.segment_keys[:index] if self.chance(0.8) else self.segment_keys
        rules = []
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            rule: Dict[str, Any] = {'clauses': [self.clause(referable or self.segment_keys)
                                                for _ in range(rng.choice([0, 1, 1, 2]))]}
            if self.chance(0.5):
                rule['id'] = 'srule-%d' % rng.randrange(100)
            if self.chance(0.5):
                rule['weight'] = rng.choice([0, 100000, rng.randint(0, 100000), 14955])
                if self.chance(0.5):
                    rule['bucketBy'] = rng.choice(BUCKET_BY + ['/', '//x'] if self.chance(0.1) else BUCKET_BY)
                kind = self.context_kind(absent=0.5)
                if kind is not None:
                    rule['rolloutContextKind'] = kind
            rules.append(rule)
        if rules or self.chance(0.5):
            segment['rules'] = rules
        return segment

    def segment_target(self) -> dict:
        target: Dict[str, Any] = {'values': self.rng.sample(KEYS, self.rng.randint(0, 3))}
        kind = self.context_kind(absent=0.2)
        if kind is not None:
            target['contextKind'] = kind
        return target

    # -- flags ------------------------------------------------------------------------------------------

    def flag(self, index: int) -> dict:
        rng = self.rng
        key = self.flag_keys[index]
        if self.chance(0.04):
            return {'key': key, 'version': rng.randint(1, 9), 'deleted': True}
        n_variations = _weighted(rng, [(0.02, 0), (0.13, 1), (0.5, 2), (0.25, 3), (0.1, 4)])
        flag: Dict[str, Any] = {'key': key, 'version': rng.randint(1, 999)}
        on = _weighted(rng, [(0.85, True), (0.1, False), (0.05, None)])
        if on is not None:
            flag['on'] = on
        flag['variations'] = [rng.choice(VARIATION_VALUES) for _ in range(n_variations)]
        off = _weighted(rng, [(0.15, 'absent'), (0.05, 'null'), (0.8, 'index')])
        if off == 'null':
            flag['offVariation'] = None
        elif off == 'index':
            flag['offVariation'] = self.variation_index(n_variations, bad=0.05)
        salt = self.salt()
        if salt is not None:
            flag['salt'] = salt
        self.add_targets(flag, n_variations)
        rules = [self.flag_rule(n_variations, i) for i in range(rng.choice([0, 1, 1, 2, 2, 3, 4]))]
        if rules or self.chance(0.5):
            flag['rules'] = rules
        fallthrough = _weighted(rng, [(0.94, 'normal'), (0.04, 'absent'), (0.02, 'empty')])
        if fallthrough == 'normal':
            flag['fallthrough'] = self.variation_or_rollout(n_variations)
        elif fallthrough == 'empty':
            flag['fallthrough'] = {}
        for name in ('trackEvents', 'trackEventsFallthrough', 'clientSide'):
            if self.chance(0.3):
                flag[name] = self.chance(0.5)
        return flag

    def flag_rule(self, n_variations: int, index: int) -> dict:
        rule: Dict[str, Any] = {}
        rule_id = _weighted(self.rng, [(0.1, None), (0.1, ''), (0.8, 'rule-%d' % index)])
        if rule_id is not None:
            rule['id'] = rule_id
        rule['clauses'] = [self.clause(self.segment_keys) for _ in range(self.rng.choice([0, 1, 1, 1, 2, 2, 3]))]
        rule.update(self.variation_or_rollout(n_variations))
        if self.chance(0.3):
            rule['trackEvents'] = self.chance(0.5)
        return rule

    def add_targets(self, flag: dict, n_variations: int) -> None:
        rng = self.rng
        form = _weighted(rng, [(0.35, None), (0.35, 'legacy'), (0.3, 'contexts')])
        if form is None:
            return
        targets = []
        for _ in range(rng.randint(1, 3)):
            target: Dict[str, Any] = {'variation': self.variation_index(n_variations),
                                      'values': rng.sample(KEYS, rng.randint(1, 4))}
            if self.chance(0.1):
                target['contextKind'] = rng.choice(['user', 'org'])  # Go honours it, Python ignores it
            targets.append(target)
        flag['targets'] = targets
        if form == 'legacy':
            return
        context_targets = []
        for _ in range(rng.randint(1, 4)):
            shape = _weighted(rng, [(0.4, 'placeholder'), (0.4, 'other-kind'), (0.2, 'user-with-values')])
            if shape == 'placeholder':
                # A user placeholder normally points at a `targets` entry with the same variation.
                variation = rng.choice(targets)['variation'] if self.chance(0.8) else self.variation_index(n_variations)
                entry: Dict[str, Any] = {'variation': variation, 'values': []}
                kind = _weighted(rng, [(0.8, 'user'), (0.1, None), (0.1, '')])
            else:
                entry = {'variation': self.variation_index(n_variations),
                         'values': rng.sample(KEYS, rng.randint(1, 4))}
                kind = 'user' if shape == 'user-with-values' else rng.choice(['org', 'device', 'svc.v2'])
            if kind is not None:
                entry['contextKind'] = kind
            context_targets.append(entry)
        flag['contextTargets'] = context_targets

    def add_prerequisites(self, flags: Dict[str, dict]) -> None:
        """Adds prerequisites once every flag exists, so that the required variation can be one the
        prerequisite actually returns. Most point at earlier flags (chains and diamonds); some at any
        flag or at themselves (cycles), at deleted flags or at keys that do not exist."""
        rng = self.rng
        for index, key in enumerate(self.flag_keys):
            flag = flags[key]
            if flag.get('deleted') or not self.chance(0.22):
                continue
            prerequisites = []
            for _ in range(rng.choice([1, 1, 2, 3])):
                target_key = _weighted(rng, [
                    (0.75, rng.choice(self.flag_keys[:index]) if index else key),
                    (0.08, rng.choice(self.flag_keys)), (0.02, key), (0.08, 'missing-flag')])
                target = flags.get(target_key, {})
                fixed = target.get('fallthrough', {}).get('variation')
                variation = fixed if fixed is not None and self.chance(0.75) else rng.randint(0, 3)
                prerequisites.append({'key': target_key, 'variation': variation})
            flag['prerequisites'] = prerequisites

    # -- contexts -----------------------------------------------------------------------------------------

    def attributes(self, count: int) -> Dict[str, Any]:
        return {name: ATTRIBUTES[name](self.rng) for name in self.rng.sample(list(ATTRIBUTES), count)}

    def single_context_body(self) -> Dict[str, Any]:
        rng = self.rng
        body: Dict[str, Any] = {'key': rng.choice(KEYS)}
        if self.chance(0.6):
            body['name'] = rng.choice(NAMES) if self.chance(0.9) else None
        if self.chance(0.3):
            body['anonymous'] = self.chance(0.5)
        body.update(self.attributes(rng.randint(5, len(ATTRIBUTES))))
        if self.chance(0.15):
            body['_meta'] = {'privateAttributes': rng.sample(['email', '/address/city', 'name', 'x~y'], 2)}
        return body

    def context(self) -> Any:
        rng = self.rng
        shape = _weighted(rng, [(0.45, 'single'), (0.25, 'multi'), (0.15, 'old-user'),
                                (0.1, 'invalid'), (0.05, 'edge')])
        if shape == 'single':
            return {'kind': _weighted(rng, [(0.5, 'user'), (0.2, 'org'), (0.15, 'device'), (0.1, 'svc.v2'),
                                            (0.05, 'team_x-1')]), **self.single_context_body()}
        if shape == 'multi':
            kinds = rng.sample(KINDS, 1 if self.chance(0.05) else rng.randint(2, 4))
            return {'kind': 'multi', **{k: self.single_context_body() for k in kinds}}
        if shape == 'old-user':
            return self.old_user()
        if shape == 'invalid':
            return rng.choice(INVALID_CONTEXTS)
        return rng.choice(EDGE_CONTEXTS)

    def old_user(self) -> dict:
        rng = self.rng
        user: Dict[str, Any] = {'key': rng.choice(KEYS) if self.chance(0.9) else ''}
        for name in ('name', 'email', 'firstName', 'lastName', 'avatar', 'ip', 'country'):
            if self.chance(0.35):
                user[name] = None if self.chance(0.1) else ATTRIBUTES.get(name, lambda r: r.choice(NAMES))(rng)
        if self.chance(0.4):
            user['anonymous'] = rng.choice([True, False, None])
        if self.chance(0.7):
            custom = self.attributes(rng.randint(3, len(ATTRIBUTES)))
            if self.chance(0.2):
                custom.update({'kind': 'org', 'key': 'zzz', 'name': 'dropped', '': 1, 'email': None})
            user['custom'] = custom
        if self.chance(0.2):
            user['privateAttributeNames'] = ['email', '/address']
        if self.chance(0.2):
            user['secondary'] = 'sec'
        if self.chance(0.1):
            user['unknownTopLevel'] = {'ignored': True}
        return user

    # -- the corpus -----------------------------------------------------------------------------------------

    def generate(self) -> Tuple[dict, List[Any]]:
        segments = {key: self.segment(i) for i, key in enumerate(self.segment_keys)}
        flags = {key: self.flag(i) for i, key in enumerate(self.flag_keys)}
        self.add_prerequisites(flags)
        contexts = [self.context() for _ in range(self.n_contexts)]
        for flag in flags.values():
            FeatureFlag(flag)  # the Python SDK's parser must accept everything
        for segment in segments.values():
            Segment(segment)
        return {'flags': flags, 'segments': segments}, contexts


# Contexts that Go's ldcontext rejects (evaluation gives USER_NOT_SPECIFIED).
INVALID_CONTEXTS: List[Any] = [
    {'kind': 'user', 'key': ''}, {'kind': 'multi'}, {'kind': 'kind', 'key': 'alice'},
    {'kind': 'bad kind!', 'key': 'alice'}, {'kind': 'ünï', 'key': 'alice'}, {'kind': '', 'key': 'alice'},
    {'kind': 'user', 'key': None}, {'kind': 'user'}, {'kind': 'org', 'key': 'acme', 'name': 5},
    {'kind': 'user', 'key': 'alice', 'anonymous': 'yes'}, {'kind': 'user', 'key': 'alice', 'anonymous': None},
    {'kind': 'multi', 'user': {'key': 'alice'}, 'org': {'kind': 'user', 'key': 'bob'}},
    {'kind': 'multi', 'user': {'key': ''}, 'org': {'key': 'acme'}}, {'kind': 'multi', 'multi': {'key': 'alice'}},
    {'kind': 'multi', 'user': 'alice'}, {'kind': 'user', 'key': 'alice', '_meta': {'privateAttributes': 'email'}},
    {'kind': 'user', 'key': 'alice', '_meta': {'privateAttributes': [1]}}, {'kind': 'user', 'key': 'alice', '_meta': 3},
    {'kind': None, 'key': 'alice'}, {'kind': 7, 'key': 'alice'}, {'key': None}, {'name': 'no key'},
    {'key': 'alice', 'email': 5}, {'key': 'alice', 'anonymous': 'no'}, {'key': 'alice', 'custom': []},
    {'key': 'alice', 'privateAttributeNames': 'email'}, None, 'alice', 42, [],
]

# Valid contexts on which the Python SDK's own parser disagrees with Go's, or that are easy to get wrong.
EDGE_CONTEXTS: List[Any] = [
    {'kind': 'user', 'key': 'bob', '': 1},  # Go ignores an attribute named ""
    {'kind': 'multi', '': {'key': 'bob'}, 'org': {'key': 'acme'}},  # member kind "" is "user"
    {'kind': 'multi', 'org': {'kind': '', 'key': 'carol'}},  # kind "" inside a member is "user"
    {'kind': 'multi', 'user': {'key': 'alice', 'email': 'alice@example.com'}},  # one member: a single context
    {'kind': 'multi', 'org': {'kind': 'device', 'key': 'dev-1'}, 'user': {'key': 'dave'}},  # member kind override
    {'kind': 'org', 'key': 'acme', 'name': None, 'plan': None, '_meta': None},
    {'kind': 'user', 'key': 'alice', '_meta': {'privateAttributes': None, 'other': [1]}},
    {'key': '', 'custom': {'email': 'alice@example.com'}}, {'key': 'bob', 'anonymous': None, 'custom': None},
    {'kind': 'device', 'key': 'dev-1', 'kind2': 'x', 'anonymous': True},
]


def reason_label(reason: dict) -> str:
    return reason['kind'] + ('/' + reason['errorKind'] if reason['kind'] == 'ERROR' else '')


def write_corpus(out_dir: str, data: dict, contexts: List[Any]) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name, content in (('data.json', data), ('contexts.json', contexts)):
        with open(os.path.join(out_dir, name), 'w', encoding='utf-8') as f:
            json.dump(content, f, ensure_ascii=False, indent=1)
            f.write('\n')


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--flags', type=int, required=True, help='number of flags')
    parser.add_argument('--contexts', type=int, required=True, help='number of contexts')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--stats', action='store_true', help='print a histogram of reference reason kinds')
    args = parser.parse_args(argv)
    data, contexts = CorpusGenerator(args.seed, args.flags, args.contexts).generate()
    write_corpus(args.out, data, contexts)
    if args.stats:
        sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
        from ld_reference_eval import ReferenceEvaluator
        histogram: collections.Counter = collections.Counter()
        in_experiment = 0
        for record in ReferenceEvaluator(data).records(contexts):
            histogram[reason_label(record['reason'])] += 1
            in_experiment += bool(record['reason'].get('inExperiment'))
        total = sum(histogram.values())
        for label, count in histogram.most_common():
            print('%-28s %7d  %5.1f%%' % (label, count, 100.0 * count / total))
        print('%-28s %7d  %5.1f%%' % ('(inExperiment)', in_experiment, 100.0 * in_experiment / max(total, 1)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
