#!/usr/bin/env python3
"""Randomized differential test: ``vanectl eval`` against the LaunchDarkly reference evaluator.

Usage::

    differential_eval.py --vanectl PATH [--seed S] [--rounds R] [--flags N] [--contexts M]

Each round generates a corpus with ``gen_eval_corpus.py`` (seed S, S+1, ...), runs
``PATH eval --data DATA --contexts CONTEXTS`` and ``ld_reference_eval.py`` on it, and compares the two
outputs line by line; then it does the same with ``--flag KEY`` (a live flag, a deleted flag or an
unknown key, in turn). Values are compared as JSON, strictly: a boolean never equals a number, ``1``
equals ``1.0``, object property order is irrelevant -- except in ``reason``, whose property order
must match too (Vane must write reasons exactly as LaunchDarkly's Go SDK does).

On the first round with a difference it prints the first mismatches, each with the flag's JSON, the
prerequisite flags and segments it reaches, and the context; it keeps that round's corpus, prints
the commands that reproduce it, and exits with status 1. Otherwise it prints the totals and a
histogram of reason kinds and exits with status 0. Status 2 means a tool failed to run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

from gen_eval_corpus import CorpusGenerator, reason_label, write_corpus  # noqa: E402

REFERENCE = os.path.join(HERE, 'ld_reference_eval.py')


class JSONObject(list):
    """A parsed JSON object that remembers its property order (a list of (name, value) pairs)."""

    def names(self) -> List[str]:
        return [name for name, _ in self]

    def get(self, name: str, default: Any = None) -> Any:
        return next((value for n, value in self if n == name), default)


def parse_line(line: str) -> Any:
    return json.loads(line, object_pairs_hook=JSONObject)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pairs(obj: Any) -> List[Tuple[str, Any]]:
    return list(obj) if isinstance(obj, JSONObject) else list(obj.items())


def json_equal(a: Any, b: Any) -> bool:
    """Strict JSON equality: types must agree (numbers compare by value, 1 == 1.0). Objects may be
    JSONObject (from parse_line) or dict."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) or _is_number(b):
        return _is_number(a) and _is_number(b) and a == b
    if isinstance(a, (JSONObject, dict)) or isinstance(b, (JSONObject, dict)):
        if not (isinstance(a, (JSONObject, dict)) and isinstance(b, (JSONObject, dict))):
            return False
        pairs_a, pairs_b = _pairs(a), _pairs(b)
        names_a, names_b = [n for n, _ in pairs_a], [n for n, _ in pairs_b]
        if len(set(names_a)) != len(names_a) or len(set(names_b)) != len(names_b) or set(names_a) != set(names_b):
            return False
        values_b = dict(pairs_b)
        return all(json_equal(value, values_b[name]) for name, value in pairs_a)
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) \
            and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def record_difference(expected: Any, actual: Any) -> Optional[str]:
    """None if the two output records agree, else a short description of the difference."""
    if not isinstance(actual, JSONObject):
        return 'not a JSON object'
    if not json_equal(expected, actual):
        differing = [name for name in ('context', 'flag', 'value', 'variationIndex', 'reason')
                     if not json_equal(expected.get(name), actual.get(name))]
        extra = sorted(set(actual.names()) - set(expected.names()))
        return 'differs in ' + ', '.join(differing + ['unexpected property ' + n for n in extra])
    expected_order, actual_order = expected.get('reason').names(), actual.get('reason').names()
    if expected_order != actual_order:
        return 'reason property order %s, expected %s' % (actual_order, expected_order)
    return None


def run_tool(command: List[str]) -> List[str]:
    result = subprocess.run(command, capture_output=True, timeout=1800)
    if result.returncode != 0:
        sys.stderr.write('command failed (status %d): %s\n%s' % (
            result.returncode, ' '.join(command), result.stderr.decode('utf-8', 'replace')))
        sys.exit(2)
    return result.stdout.decode('utf-8').splitlines()


def related_items(data: dict, flag_key: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The prerequisite flags and the segments a flag can reach, transitively."""
    flags, segments = data.get('flags', {}), data.get('segments', {})
    seen_flags: Dict[str, Any] = {}
    seen_segments: Dict[str, Any] = {}

    def visit_clauses(rules: List[dict]) -> None:
        for rule in rules or []:
            for clause in rule.get('clauses') or []:
                if clause.get('op') != 'segmentMatch':
                    continue
                for key in clause.get('values') or []:
                    if isinstance(key, str) and key not in seen_segments:
                        seen_segments[key] = segments.get(key, '(no such segment)')
                        visit_clauses((segments.get(key) or {}).get('rules'))

    def visit_flag(flag: dict) -> None:
        visit_clauses(flag.get('rules'))
        for prerequisite in flag.get('prerequisites') or []:
            key = prerequisite.get('key')
            if key != flag_key and key not in seen_flags:
                seen_flags[key] = flags.get(key, '(no such flag)')
                visit_flag(flags.get(key) or {})

    visit_flag(flags.get(flag_key) or {})
    return seen_flags, seen_segments


def describe_mismatch(data: dict, contexts: List[Any], expected: Any, actual_line: str, problem: str) -> str:
    flag_key, context_index = expected.get('flag'), expected.get('context')
    prerequisites, segments = related_items(data, flag_key)

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, indent=1)

    parts = ['MISMATCH context %s, flag %r: %s' % (context_index, flag_key, problem),
             '  expected: ' + json.dumps(expected_as_plain(expected), ensure_ascii=False),
             '  actual:   ' + actual_line,
             'flag:\n' + dump(data['flags'].get(flag_key))]
    if prerequisites:
        parts.append('prerequisite flags:\n' + dump(prerequisites))
    if segments:
        parts.append('segments:\n' + dump(segments))
    parts.append('context:\n' + dump(contexts[context_index]))
    return '\n'.join(parts)


def expected_as_plain(value: Any) -> Any:
    if isinstance(value, JSONObject):
        return {name: expected_as_plain(v) for name, v in value}
    if isinstance(value, list):
        return [expected_as_plain(v) for v in value]
    return value


def compare_round(data: dict, contexts: List[Any], expected_lines: List[str], actual_lines: List[str],
                  max_reports: int) -> int:
    """Prints up to max_reports mismatches; returns the number of mismatching records."""
    mismatches = 0
    for index, expected_line in enumerate(expected_lines):
        expected = parse_line(expected_line)
        if index >= len(actual_lines):
            problem, actual_line = 'missing line %d' % (index + 1), ''
        else:
            actual_line = actual_lines[index]
            try:
                problem = record_difference(expected, parse_line(actual_line))
            except json.JSONDecodeError as e:
                problem = 'invalid JSON (%s)' % e
        if problem is not None:
            mismatches += 1
            if mismatches <= max_reports:
                print(describe_mismatch(data, contexts, expected, actual_line, problem) + '\n')
    if len(actual_lines) > len(expected_lines):
        mismatches += 1
        print('vanectl printed %d lines, expected %d; first extra line: %s' % (
            len(actual_lines), len(expected_lines), actual_lines[len(expected_lines)]))
    return mismatches


def probe_flag_key(data: dict, seed: int) -> str:
    """The key for the round's `--flag` run: in turn a live flag, a deleted flag and an unknown key."""
    live = sorted(k for k, f in data['flags'].items() if not f.get('deleted'))
    deleted = sorted(k for k, f in data['flags'].items() if f.get('deleted'))
    choices = [live, deleted, ['no-such-flag']][seed % 3] or live or ['no-such-flag']
    return choices[seed % len(choices)]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--vanectl', required=True, help='path of the vanectl executable')
    parser.add_argument('--seed', type=int, default=1, help='seed of the first round (default 1)')
    parser.add_argument('--rounds', type=int, default=20, help='number of corpora (default 20)')
    parser.add_argument('--flags', type=int, default=60, help='flags per corpus (default 60)')
    parser.add_argument('--contexts', type=int, default=80, help='contexts per corpus (default 80)')
    parser.add_argument('--max-reports', type=int, default=3, help='mismatches to print in detail (default 3)')
    args = parser.parse_args(argv)

    histogram: collections.Counter = collections.Counter()
    records = 0
    for seed in range(args.seed, args.seed + args.rounds):
        data, contexts = CorpusGenerator(seed, args.flags, args.contexts).generate()
        corpus = tempfile.mkdtemp(prefix='vane-diff-%d-' % seed)
        write_corpus(corpus, data, contexts)
        files = ['--data', os.path.join(corpus, 'data.json'), '--contexts', os.path.join(corpus, 'contexts.json')]
        for options in (files, files + ['--flag', probe_flag_key(data, seed)]):
            expected_lines = run_tool([sys.executable, REFERENCE] + options)
            actual_lines = run_tool([args.vanectl, 'eval'] + options)
            mismatches = compare_round(data, contexts, expected_lines, actual_lines, args.max_reports)
            if mismatches:
                print('FAILED: round with seed %d has %d mismatching records (of %d).' % (
                    seed, mismatches, len(expected_lines)))
                print('Corpus kept in %s; reproduce with:\n  %s %s %s\n  %s eval %s' % (
                    corpus, sys.executable, REFERENCE, ' '.join(options), args.vanectl, ' '.join(options)))
                return 1
            records += len(expected_lines)
            for line in expected_lines:
                histogram[reason_label(json.loads(line)['reason'])] += 1
        shutil.rmtree(corpus)

    print('OK: %d rounds (seeds %d-%d), %d records, no differences.' % (
        args.rounds, args.seed, args.seed + args.rounds - 1, records))
    for label, count in histogram.most_common():
        print('  %-28s %8d  %5.1f%%' % (label, count, 100.0 * count / max(records, 1)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
