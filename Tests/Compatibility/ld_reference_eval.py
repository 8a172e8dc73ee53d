#!/usr/bin/env python3
"""Reference flag evaluator for Vane's differential tests.

Usage::

    ld_reference_eval.py --data DATA.json --contexts CONTEXTS.json [--flag KEY]

It prints exactly what ``vanectl eval`` prints (one JSON object per line, for each context in file
order and, within it, each flag in ascending key order), but computes the answers with the
LaunchDarkly Python server SDK's own evaluator (``launchdarkly-server-sdk==9.18.2``: its model
parser, ``Context``, attribute references, rule/prerequisite walk and string/number/regex operators).

Why the Python SDK, patched: Vane must give the answers of LaunchDarkly's *Go* reference evaluator
(``go-server-sdk-evaluation`` v3, which the SDK test harness checks), but no Go toolchain is
available here. The Python SDK agrees with Go almost everywhere; where it does not, this script
replaces the Python behaviour with a port of the Go code. Every such place is marked with a comment
``GO:`` naming the Go source it mirrors (repositories ``launchdarkly/go-server-sdk-evaluation`` v3,
``launchdarkly/go-sdk-common`` v3, ``launchdarkly/go-semver``). Summary of the patches:

* contexts are parsed like ``ldcontext`` unmarshals JSON (old user format, validation rules);
* individual targets: ``contextTargets`` user entries with values match directly, and ``targets``
  entries honour their ``contextKind``;
* clauses: the attribute reference is validated before the context kind is looked up, and only the
  exact attribute string ``kind`` is a kind clause;
* operators ``in`` (primitive values only), ``before``/``after`` (Go's RFC 3339 parser, nanosecond
  instants, epoch milliseconds truncated) and the ``semVer*`` family (go-semver's parser);
* segments: ``includedContexts``/``excludedContexts`` are skipped for a single-kind user context, a
  weighted rule whose ``rolloutContextKind`` is absent from the context does not match;
* rollouts: Go's bucketing failure rules (missing kind → bucket 0, integral floats are hashed as
  integers, a bad ``bucketBy`` is reported before the context kind is looked up and is not fatal for
  a prerequisite);
* big segments behave as in Go without a big-segment store (status NOT_CONFIGURED, rules still
  evaluated, status reported on errors too);
* flag/segment properties that Go reads as optional zero values but Python requires are filled in;
* an invalid context is reported before the flag is looked up, as the Go SDK's ``LDClient`` does;
* reasons are written in Go's property order, omitting an empty ``ruleId``.

Bucket arithmetic deliberately stays in float64 (Python's, and Vane's); Go uses float32, which can
only differ for a bucket within about 1e-7 of a rollout boundary. Regular expressions stay Python's
``re.search``; the corpus generator only uses the subset that RE2, Python and Swift agree on.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ldclient.context import Context, ContextBuilder
from ldclient.evaluation import BigSegmentsStatus, EvaluationDetail
from ldclient.impl import operators as py_operators
from ldclient.impl.evaluator import Evaluator
from ldclient.impl.evaluator_common import (
    EvalResult,
    EvaluationException,
    _get_context_value_by_attr_ref,
    _get_off_value,
    _get_variation,
    _maybe_negate,
    error_reason,
)
from ldclient.impl.events.types import EventFactory
from ldclient.impl.model import Clause, FeatureFlag, Segment, SegmentRule, Target, VariationOrRollout
from ldclient.impl.model.attribute_ref import AttributeRef

USER_KIND = 'user'

# The SDK warns (through logging's last-resort stderr handler) about every missing prerequisite;
# those are expected here and the records on stdout already say so.
logging.getLogger('ldclient').addHandler(logging.NullHandler())

# Go's reason properties, in the order ldreason.EvaluationReason.WriteToJSONWriter writes them.
REASON_PROPERTY_ORDER = ('kind', 'ruleIndex', 'ruleId', 'inExperiment', 'prerequisiteKey', 'errorKind',
                         'bigSegmentsStatus')

_INT64_MIN = -(2 ** 63)
_UINT64 = 2 ** 64


def _wrap_int64(n: int) -> int:
    """Go int/int64 arithmetic wraps around; Python's integers do not."""
    return (n - _INT64_MIN) % _UINT64 + _INT64_MIN


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Go's ASCII scanner, shared by its RFC 3339 and semantic version parsers.
# GO: go-server-sdk-evaluation ldmodel/parse_time.go and go-semver scan.go (simpleASCIIScanner;
# the two copies are identical).
# ---------------------------------------------------------------------------------------------

_SCAN_EOF = -1
_SCAN_NON_ASCII = -2


class _AsciiScanner:
    def __init__(self, text: str):
        self._data = text.encode('utf-8', 'surrogatepass')
        self._pos = 0

    def eof(self) -> bool:
        return self._pos >= len(self._data)

    def _next(self) -> int:
        if self._pos >= len(self._data):
            return _SCAN_EOF
        ch = self._data[self._pos]
        if ch == 0 or ch > 127:
            return _SCAN_NON_ASCII
        self._pos += 1
        return ch

    def read_until(self, terminators: bytes) -> Tuple[str, int]:
        """Reads up to (and consumes) the first terminator; returns the text and what ended it."""
        start = self._pos
        while True:
            ch = self._next()
            if ch < 0 or ch in terminators:
                break
        end = self._pos - 1 if ch > 0 else self._pos
        return self._data[start:end].decode('ascii'), ch


def _decimal_digits(text: str) -> Optional[int]:
    """GO: ldmodel/parse_time.go parsePositiveNumericString (digits only, leading zeros allowed)."""
    if text == '' or any(c < '0' or c > '9' for c in text):
        return None
    return int(text)


# ---------------------------------------------------------------------------------------------
# Timestamps for before/after.
# GO: ldmodel/parse_time.go parseRFC3339TimeUTC, ldmodel/parse_values.go parseDateTime /
# unixMillisToUtcTime, ldmodel/type_conversions.go ValueToTimestamp, ldmodel/eval_accessors.go
# ClauseGetValueAsTimestamp. Python uses pyrfc3339 (stricter, microseconds only) and keeps
# fractional milliseconds; Go keeps nanoseconds, truncates numbers to whole milliseconds, accepts
# a 1-digit hour, day 31 in any month (normalised), second 60, anything after a 'Z', and rejects
# the zero instant as a clause value. Instants are represented here as integer Unix nanoseconds.
# ---------------------------------------------------------------------------------------------

def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (like Go's time.Date)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


_GO_ZERO_TIME_NS = _days_from_civil(1, 1, 1) * 86400 * 10 ** 9  # Go's time.Time{} (IsZero)


@lru_cache(maxsize=4096)
def parse_go_rfc3339(text: str) -> Optional[int]:
    """GO: ldmodel/parse_time.go parseRFC3339TimeUTC, returning Unix nanoseconds or None."""
    scanner = _AsciiScanner(text)

    def field(terminators: bytes, eof_ok: bool, min_len: int, max_len: int,
              min_value: int, max_value: int) -> Tuple[Optional[int], int]:
        digits, term = scanner.read_until(terminators)
        if digits == '' or (not eof_ok and term < 0) or not (min_len <= len(digits) <= max_len):
            return None, term
        n = _decimal_digits(digits)
        if n is None or n < min_value or n > max_value:
            return None, term
        return n, term

    year, _ = field(b'-', False, 4, 4, 0, 9999)
    if year is None:
        return None
    month, _ = field(b'-', False, 2, 2, 1, 12)
    if month is None:
        return None
    day, _ = field(b'tT', False, 2, 2, 1, 31)
    if day is None:
        return None
    hour, _ = field(b':', False, 1, 2, 0, 23)
    if hour is None:
        return None
    minute, _ = field(b':', False, 2, 2, 0, 59)
    if minute is None:
        return None
    second, term = field(b'.Zz+-', False, 2, 2, 0, 60)
    if second is None:
        return None
    nanos = 0
    if term == ord('.'):
        fraction, term = scanner.read_until(b'Zz+-')
        if term < 0 or len(fraction) > 9:
            return None
        n = _decimal_digits(fraction)
        if n is None:
            return None
        nanos = n * 10 ** (9 - len(fraction))
    offset_seconds = 0
    if term in (ord('+'), ord('-')):
        offset_hours, _ = field(b':', False, 2, 2, 0, 99)
        if offset_hours is None:
            return None
        offset_minutes, _ = field(b'', True, 2, 2, 0, 59)
        if offset_minutes is None:
            return None
        offset_seconds = (offset_minutes + offset_hours * 60) * 60
        if term == ord('+'):
            offset_seconds = -offset_seconds
    seconds = _days_from_civil(year, month, 1) * 86400 + (day - 1) * 86400 \
        + hour * 3600 + minute * 60 + second + offset_seconds
    return seconds * 10 ** 9 + nanos


def go_timestamp_ns(value: Any) -> Optional[int]:
    """GO: ldmodel/type_conversions.go ValueToTimestamp: RFC 3339 string, or epoch milliseconds
    converted with int64(float64) (truncation) and multiplied by 1e6 in int64 arithmetic."""
    if isinstance(value, str):
        return parse_go_rfc3339(value)
    if not _is_number(value):
        return None
    try:
        millis = float(value)
    except OverflowError:
        millis = math.inf
    if not -2.0 ** 63 <= millis < 2.0 ** 63:
        truncated = _INT64_MIN  # what Go's float->int64 conversion yields on amd64 when out of range
    else:
        truncated = math.trunc(millis)
    return _wrap_int64(truncated * 1_000_000)


def go_clause_timestamp_ns(value: Any) -> Optional[int]:
    """GO: ldmodel/eval_accessors.go ClauseGetValueAsTimestamp returns (t, !t.IsZero())."""
    ns = go_timestamp_ns(value)
    return None if ns == _GO_ZERO_TIME_NS else ns


# ---------------------------------------------------------------------------------------------
# Semantic versions for semVerEqual/LessThan/GreaterThan.
# GO: go-semver parse.go ParseAs(s, ParseModeAllowMissingMinorAndPatch), syntax.go, compare.go
# ComparePrecedence; used by ldmodel/parse_values.go parseSemVer. Python uses the `semver` package
# plus a regex that pads missing components, which accepts and orders some strings differently.
# ---------------------------------------------------------------------------------------------

def _semver_number(text: str) -> Optional[int]:
    """GO: go-semver syntax.go parsePositiveNumericString (no leading zero, int wraps)."""
    if text == '' or any(c < '0' or c > '9' for c in text) or (text[0] == '0' and len(text) > 1):
        return None
    return _wrap_int64(int(text))


def _semver_identifiers_valid(text: str, numeric_leading_zero_ok: bool) -> bool:
    """GO: go-semver parse.go validatePrerelease / validateBuild."""
    for identifier in text.split('.'):
        if identifier == '' or not all(c.isascii() and (c.isalnum() or c == '-') for c in identifier):
            return False
        if not numeric_leading_zero_ok and len(identifier) > 1 and identifier.isdigit() \
                and identifier[0] == '0':
            return False
    return True


@lru_cache(maxsize=4096)
def parse_go_semver(text: str) -> Optional[Tuple[int, int, int, str]]:
    """GO: go-semver parse.go ParseAs with ParseModeAllowMissingMinorAndPatch.

    Returns (major, minor, patch, prerelease); build metadata is validated and dropped since it never
    affects precedence."""
    scanner = _AsciiScanner(text)

    def component(terminators: bytes) -> Tuple[Optional[int], int]:
        digits, term = scanner.read_until(terminators)
        if term == _SCAN_NON_ASCII:
            return None, term
        return _semver_number(digits), term

    major, term = component(b'.-+')
    if major is None:
        return None
    minor = patch = 0
    if term == ord('.'):
        minor, term = component(b'.-+')
        if minor is None:
            return None
        if term == ord('.'):
            patch, term = component(b'-+')
            if patch is None:
                return None
    prerelease = ''
    if term == ord('-'):
        prerelease, term = scanner.read_until(b'+')
        if prerelease == '' or term == _SCAN_NON_ASCII or not _semver_identifiers_valid(prerelease, False):
            return None
    if term == ord('+'):
        build, term = scanner.read_until(b'')
        if build == '' or term == _SCAN_NON_ASCII or not _semver_identifiers_valid(build, True):
            return None
    return major, minor, patch, prerelease


def compare_go_semver(a: Tuple[int, int, int, str], b: Tuple[int, int, int, str]) -> int:
    """GO: go-semver compare.go ComparePrecedence / comparePrereleaseIdentifiers."""
    for x, y in zip(a[:3], b[:3]):
        if x != y:
            return -1 if x < y else 1
    pre_a, pre_b = a[3], b[3]
    if pre_a == pre_b == '':
        return 0
    if pre_a == '':
        return 1
    if pre_b == '':
        return -1
    ids_a, ids_b = pre_a.split('.'), pre_b.split('.')
    for id_a, id_b in zip(ids_a, ids_b):
        n_a, n_b = _semver_number(id_a), _semver_number(id_b)
        if n_a is not None and n_b is not None:
            d = (n_a > n_b) - (n_a < n_b)
        elif n_a is not None:
            d = -1
        elif n_b is not None:
            d = 1
        else:
            d = (id_a > id_b) - (id_a < id_b)
        if d != 0:
            return d
    return (len(ids_a) > len(ids_b)) - (len(ids_a) < len(ids_b))


# ---------------------------------------------------------------------------------------------
# Operators.
# ---------------------------------------------------------------------------------------------

def _op_in(context_value: Any, clause_value: Any) -> bool:
    """GO: ldmodel/preprocess.go listContainsValue + ldvalue Value.Equal: only a bool, number or
    string context value can match, and only a clause value of the same JSON type (numbers compare
    as float64). Python compares with ==, so an object or array would match deeply-equal values."""
    if isinstance(context_value, bool) or isinstance(clause_value, bool):
        return isinstance(context_value, bool) and isinstance(clause_value, bool) \
            and context_value == clause_value
    if _is_number(context_value):
        return _is_number(clause_value) and float(context_value) == float(clause_value)
    if isinstance(context_value, str):
        return isinstance(clause_value, str) and context_value == clause_value
    return False


def _time_op(compare: Callable[[int, int], bool]) -> Callable[[Any, Any], bool]:
    """GO: evaluator_clause.go dateOperator (time.Time.Before / time.Time.After)."""
    def op(context_value: Any, clause_value: Any) -> bool:
        clause_ns = go_clause_timestamp_ns(clause_value)
        if clause_ns is None:
            return False
        context_ns = go_timestamp_ns(context_value)
        return context_ns is not None and compare(context_ns, clause_ns)
    return op


def _semver_op(expected: int) -> Callable[[Any, Any], bool]:
    """GO: evaluator_clause.go semVerOperator (ComparePrecedence == expected)."""
    def op(context_value: Any, clause_value: Any) -> bool:
        if not isinstance(clause_value, str) or not isinstance(context_value, str):
            return False
        clause_version = parse_go_semver(clause_value)
        context_version = parse_go_semver(context_value) if clause_version is not None else None
        return context_version is not None and compare_go_semver(context_version, clause_version) == expected
    return op


_GO_OPERATORS: Dict[str, Callable[[Any, Any], bool]] = {
    'in': _op_in,
    'before': _time_op(lambda a, b: a < b),
    'after': _time_op(lambda a, b: a > b),
    'semVerEqual': _semver_op(0),
    'semVerLessThan': _semver_op(-1),
    'semVerGreaterThan': _semver_op(1),
}

# The Python SDK's own implementations agree with Go's evaluator_clause.go doOp for these.
_PYTHON_OPERATORS = ('startsWith', 'endsWith', 'contains', 'matches',
                     'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual')


def _match_any(clause: Clause, context_value: Any) -> bool:
    """GO: evaluator_clause.go matchAny/doOp; an unknown operator never matches."""
    go_op = _GO_OPERATORS.get(clause.op)
    if go_op is not None:
        return any(go_op(context_value, v) for v in clause.values)
    if clause.op not in _PYTHON_OPERATORS:
        return False
    py_op = py_operators.ops[clause.op]
    preprocessed = clause.values_preprocessed
    return any(py_op(context_value, v, None if preprocessed is None else preprocessed[i])
               for i, v in enumerate(clause.values))


def _individual_contexts(context: Context) -> Iterable[Context]:
    for i in range(context.individual_context_count):
        individual = context.get_individual_context(i)
        if individual is not None:
            yield individual


# ---------------------------------------------------------------------------------------------
# Bucketing.
# GO: evaluator_bucketing.go computeBucketValue / bucketableStringValue (via the number's
# ldvalue.IsInt and IntValue). Python returns -1 when the context kind is absent and only hashes
# Python ints (a JSON 33333.0 gives bucket 0; Go hashes "33333").
# ---------------------------------------------------------------------------------------------

class _InvalidBucketByRef(Exception):
    pass


def _bucketable_string(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    if not _is_number(value):
        return None
    number = float(value)  # every ldvalue number is a float64
    if not -2.0 ** 63 <= number < 2.0 ** 63 or not number.is_integer():
        return None  # Go: v == float64(int(v)) fails for fractions and out-of-range values
    return str(int(number))


def go_bucket(context: Context, is_experiment: bool, seed: Optional[int], context_kind: Optional[str],
              key: str, bucket_by: Optional[AttributeRef], salt: str) -> Tuple[float, bool]:
    """Returns (bucket, context_lacks_kind); raises _InvalidBucketByRef for a bad bucketBy."""
    if not is_experiment and bucket_by is not None and bucket_by.error is not None:
        raise _InvalidBucketByRef()
    attr = None if is_experiment else bucket_by
    individual = context.get_individual_context(context_kind or USER_KIND)
    if individual is None:
        return 0.0, True
    value = individual.key if attr is None else _get_context_value_by_attr_ref(individual, attr)
    hashable = None if value is None else _bucketable_string(value)
    if hashable is None:
        return 0.0, False
    prefix = str(seed) if seed is not None else '%s.%s' % (key, salt)
    digest = hashlib.sha1(('%s.%s' % (prefix, hashable)).encode('utf-8')).hexdigest()
    return int(digest[:15], 16) / float(0xFFFFFFFFFFFFFFF), False


def go_variation_or_rollout_result(flag: FeatureFlag, vr: VariationOrRollout, context: Context
                                   ) -> Tuple[Optional[int], bool]:
    """GO: evaluator.go variationOrRolloutResult. (None, False) means MALFORMED_FLAG.

    Differences from Python's _variation_index_for_context: a missing context kind gives bucket 0
    (not -1) and clears inExperiment only inside the loop, not for the last-bucket fallback; an
    invalid bucketBy is an error result rather than an exception (so a prerequisite with one simply
    fails instead of breaking the whole evaluation)."""
    if vr.variation is not None:
        return vr.variation, False
    rollout = vr.rollout
    if rollout is None or len(rollout.variations) == 0:
        return None, False
    try:
        bucket, lacks_kind = go_bucket(context, rollout.is_experiment, rollout.seed, rollout.context_kind,
                                       flag.key, rollout.bucket_by, flag.salt)
    except _InvalidBucketByRef:
        return None, False
    total = 0.0
    for wv in rollout.variations:
        total += wv.weight / 100000.0
        if bucket < total:
            return wv.variation, rollout.is_experiment and not wv.untracked and not lacks_kind
    last = rollout.variations[-1]
    return last.variation, rollout.is_experiment and not last.untracked


# ---------------------------------------------------------------------------------------------
# The evaluator.
# ---------------------------------------------------------------------------------------------

class GoSemanticsEvaluator(Evaluator):
    """The Python SDK's Evaluator with the Go evaluator's semantics patched in."""

    def __init__(self, flags: Dict[str, FeatureFlag], segments: Dict[str, Segment]):
        super().__init__(flags.get, self._segment_by_key, self._no_big_segment_store)
        self._segments = segments

    def _segment_by_key(self, key: Any) -> Optional[Segment]:
        # GO: evaluator_clause.go clauseMatchesContext only looks up string segmentMatch values
        # (a non-string would crash Python's dict lookup if unhashable).
        return self._segments.get(key) if isinstance(key, str) else None

    @staticmethod
    def _no_big_segment_store(_context_key: str) -> Tuple[Optional[dict], str]:
        # GO: evaluator_segment.go segmentContainsContext with a nil BigSegmentProvider: status
        # NOT_CONFIGURED and the segment's rules are still evaluated. Python, given no callable,
        # would skip the rules.
        return None, BigSegmentsStatus.NOT_CONFIGURED

    def evaluate(self, flag: FeatureFlag, context: Context, event_factory: EventFactory) -> EvalResult:
        result = super().evaluate(flag, context, event_factory)
        # GO: evaluator.go Evaluate attaches bigSegmentsStatus to every result, errors included;
        # Python's except branch returns before doing so.
        if result.big_segments_status is not None:
            result.detail.reason.setdefault('bigSegmentsStatus', result.big_segments_status)
        return result

    def _evaluate(self, flag: FeatureFlag, context: Context, state: EvalResult,
                  event_factory: EventFactory) -> EvaluationDetail:
        # Same walk as Python's Evaluator._evaluate, with Go's targeting and rollout rules.
        if not flag.on:
            return _get_off_value(flag, {'kind': 'OFF'})
        prereq_failure_reason = self._check_prerequisites(flag, context, state, event_factory)
        if prereq_failure_reason is not None:
            return _get_off_value(flag, prereq_failure_reason)
        target_variation = self._target_match_variation(flag, context)
        if target_variation is not None:
            return _get_variation(flag, target_variation, {'kind': 'TARGET_MATCH'})
        for index, rule in enumerate(flag.rules):
            if self._rule_matches_context(rule, context, state):
                return self._value_for_variation_or_rollout(
                    flag, rule.variation_or_rollout, context,
                    {'kind': 'RULE_MATCH', 'ruleIndex': index, 'ruleId': rule.id})
        return self._value_for_variation_or_rollout(flag, flag.fallthrough, context, {'kind': 'FALLTHROUGH'})

    @staticmethod
    def _value_for_variation_or_rollout(flag: FeatureFlag, vr: VariationOrRollout, context: Context,
                                        reason: dict) -> EvaluationDetail:
        # GO: evaluator.go getValueForVariationOrRollout.
        index, in_experiment = go_variation_or_rollout_result(flag, vr, context)
        if index is None:
            return EvaluationDetail(None, None, error_reason('MALFORMED_FLAG'))
        if in_experiment:
            reason['inExperiment'] = True
        return _get_variation(flag, index, reason)

    @staticmethod
    def _target_match_variation(flag: FeatureFlag, context: Context) -> Optional[int]:
        """GO: evaluator.go anyTargetMatchVariation / targetMatchVariation.

        Python redirects every user-kind contextTargets entry to `targets`; Go only redirects
        entries with no values. Python also treats every `targets` entry as user-kind; Go uses the
        entry's contextKind."""
        def matches(target: Target) -> bool:
            individual = context.get_individual_context(target.context_kind or USER_KIND)
            return individual is not None and individual.key in target.values

        if len(flag.context_targets) == 0:
            for t in flag.targets:
                if matches(t):
                    return t.variation
            return None
        for t in flag.context_targets:
            if (t.context_kind or USER_KIND) == USER_KIND and len(t.values) == 0:
                for user_target in flag.targets:
                    if user_target.variation == t.variation:
                        if matches(user_target):
                            return user_target.variation
                        break
            elif matches(t):
                return t.variation
        return None

    def _clause_matches_context(self, clause: Clause, context: Context, state: EvalResult) -> bool:
        """GO: evaluator_clause.go clauseMatchesContext / clauseMatchesContextNoSegments.

        Python only notices an invalid attribute reference once it has found the clause's context
        kind (so a clause for an absent kind silently fails instead of MALFORMED_FLAG), and treats
        any one-component reference to `kind` (e.g. "/kind") as a kind clause; Go requires the
        attribute string to be exactly "kind"."""
        if clause.op == 'segmentMatch':
            for segment_key in clause.values:
                segment = self._segment_by_key(segment_key)
                if segment is not None and self._segment_matches_context(segment, context, state):
                    return not clause.negate
            return clause.negate
        attr = clause.attribute
        if attr.error is not None:
            raise EvaluationException('invalid attribute reference: ' + attr.error)
        if attr.path == 'kind':
            return _maybe_negate(clause, any(_match_any(clause, c.kind) for c in _individual_contexts(context)))
        individual = context.get_individual_context(clause.context_kind or USER_KIND)
        if individual is None:
            return False
        value = _get_context_value_by_attr_ref(individual, attr)
        if value is None:
            return False
        if isinstance(value, list):
            return _maybe_negate(clause, any(_match_any(clause, v) for v in value))
        return _maybe_negate(clause, _match_any(clause, value))

    def _simple_segment_match_context(self, segment: Segment, context: Context, state: EvalResult,
                                      use_includes_and_excludes: bool) -> bool:
        """GO: evaluator_segment.go segmentContainsContext: includedContexts/excludedContexts are
        skipped when the context is a single-kind "user" context (Python checks them)."""
        if use_includes_and_excludes:
            user = context.get_individual_context(USER_KIND)
            only_user = not context.multiple and context.kind == USER_KIND
            if user is not None and user.key in segment.included:
                return True
            if not only_user and any(self._segment_target_matches(t, context) for t in segment.included_contexts):
                return True
            if user is not None and user.key in segment.excluded:
                return False
            if not only_user and any(self._segment_target_matches(t, context) for t in segment.excluded_contexts):
                return False
        return super()._simple_segment_match_context(segment, context, state, False)

    @staticmethod
    def _segment_target_matches(target: Any, context: Context) -> bool:
        individual = context.get_individual_context(target.context_kind or USER_KIND)
        return individual is not None and individual.key in target.values

    def _segment_rule_matches_context(self, rule: SegmentRule, context: Context, state: EvalResult,
                                      segment_key: str, salt: str) -> bool:
        """GO: evaluator_segment.go segmentRuleMatchesContext: a rollout context kind absent from
        the context means no match (Python's bucket -1 matches), and an invalid bucketBy is an error
        even then."""
        for clause in rule.clauses:
            if not self._clause_matches_context(clause, context, state):
                return False
        if rule.weight is None:
            return True
        try:
            bucket, lacks_kind = go_bucket(context, False, None, rule.rollout_context_kind, segment_key,
                                           rule.bucket_by, salt)
        except _InvalidBucketByRef:
            raise EvaluationException('segment rule has an invalid bucketBy reference')
        return not lacks_kind and bucket < rule.weight / 100000.0


# ---------------------------------------------------------------------------------------------
# Contexts.
# GO: go-sdk-common ldcontext/context_unmarshaling.go (unmarshalSingleKind, unmarshalMultiKind,
# unmarshalOldUserSchema), builder_simple.go (Build, TrySetValue), builder_multi.go (Build) and
# kind.go (validateSingleKind). Python's Context.from_dict rejects the old user format, rejects an
# attribute named "" (Go ignores it) and a member kind of "" (Go uses "user").
# ---------------------------------------------------------------------------------------------

_OLD_USER_STRING_ATTRIBUTES = ('firstName', 'lastName', 'email', 'country', 'avatar', 'ip')
_OLD_USER_CUSTOM_DISALLOWED = ('kind', 'key', 'name', 'anonymous', '_meta')


class _InvalidContext(Exception):
    pass


def _require(condition: bool) -> None:
    if not condition:
        raise _InvalidContext()


def _valid_single_kind(kind: str) -> str:
    """GO: ldcontext/kind.go validateSingleKind ("" means "user")."""
    if kind == '':
        return USER_KIND
    _require(kind not in ('multi', 'kind'))
    _require(all(c.isascii() and (c.isalnum() or c in '._-') for c in kind))
    return kind


def _read_private_attributes(value: Any) -> List[str]:
    _require(value is None or isinstance(value, list))
    refs = value or []
    _require(all(isinstance(r, str) for r in refs))
    return refs


class _SingleContextBuilder:
    """Mirrors the state of a Go ldcontext.Builder and builds a Python Context from it."""

    def __init__(self, kind: str = ''):
        self.kind = kind
        self.key: Optional[str] = None
        self.name: Optional[str] = None
        self.anonymous = False
        self.attributes: Dict[str, Any] = {}
        self.private: List[str] = []

    def set_value(self, name: str, value: Any) -> None:
        # GO: builder_simple.go TrySetValue for a name with no special meaning.
        if name == '':
            return
        if value is None:
            self.attributes.pop(name, None)
        else:
            self.attributes[name] = value

    def build(self, allow_empty_key: bool) -> Context:
        _require(self.key is not None)  # GO: lderrors.ErrContextKeyMissing
        kind = _valid_single_kind(self.kind)
        _require(allow_empty_key or self.key != '')
        builder = ContextBuilder(self.key).kind(kind).name(self.name).anonymous(self.anonymous)
        builder._allow_empty_key(allow_empty_key)
        for name, value in self.attributes.items():
            builder.set(name, value)
        if self.private:
            builder.private(*self.private)
        context = builder.build()
        assert context.valid, context.error
        return context


def _parse_single_kind(props: dict, known_kind: str) -> Context:
    builder = _SingleContextBuilder(known_kind)
    for name, value in props.items():
        if name == 'kind':
            _require(isinstance(value, str))
            builder.kind = value
        elif name == 'key':
            _require(isinstance(value, str))  # null is ErrContextKeyNull
            builder.key = value
        elif name == 'name':
            _require(value is None or isinstance(value, str))
            builder.name = value
        elif name == 'anonymous':
            _require(isinstance(value, bool))
            builder.anonymous = value
        elif name == '_meta':
            _require(value is None or isinstance(value, dict))
            if value is not None and 'privateAttributes' in value:
                builder.private.extend(_read_private_attributes(value['privateAttributes']))
        else:
            builder.set_value(name, value)
    return builder.build(allow_empty_key=False)


def _parse_multi_kind(props: dict) -> Context:
    members = []
    for name, value in props.items():
        if name == 'kind':
            continue
        _require(isinstance(value, dict))
        members.append(_parse_single_kind(value, name))
    _require(len(members) > 0)
    if len(members) == 1:
        return members[0]  # GO: builder_multi.go: a multi-context of one kind is that context
    kinds = [m.kind for m in members]
    _require(len(set(kinds)) == len(kinds))
    return Context.create_multi(*members)


def _parse_old_user(props: dict) -> Context:
    builder = _SingleContextBuilder(USER_KIND)
    for name, value in props.items():
        if name == 'key':
            _require(isinstance(value, str))
            builder.key = value
        elif name == 'name':
            _require(value is None or isinstance(value, str))
            builder.name = value
        elif name == 'secondary':
            # Kept by Go as a meta-value that server-side evaluation ignores.
            _require(value is None or isinstance(value, str))
        elif name == 'anonymous':
            _require(value is None or isinstance(value, bool))
            builder.anonymous = bool(value)
        elif name == 'custom':
            _require(value is None or isinstance(value, dict))
            for custom_name, custom_value in (value or {}).items():
                if custom_name not in _OLD_USER_CUSTOM_DISALLOWED:
                    builder.set_value(custom_name, custom_value)
        elif name == 'privateAttributeNames':
            builder.private.extend(_read_private_attributes(value))
        elif name in _OLD_USER_STRING_ATTRIBUTES:
            _require(value is None or isinstance(value, str))
            if value is not None:
                builder.set_value(name, value)
    return builder.build(allow_empty_key=True)


def context_from_json(value: Any) -> Optional[Context]:
    """Parses a context the way Go's ldcontext does; None if Go would reject it."""
    try:
        _require(isinstance(value, dict))
        if 'kind' not in value:
            return _parse_old_user(value)
        kind = value['kind']
        _require(isinstance(kind, str) and kind != '')
        if kind == 'multi':
            return _parse_multi_kind(value)
        return _parse_single_kind(value, '')
    except _InvalidContext:
        return None


# ---------------------------------------------------------------------------------------------
# Driver.
# ---------------------------------------------------------------------------------------------

def ordered_reason(reason: dict) -> dict:
    """GO: ldreason.EvaluationReason.WriteToJSONWriter: property order, ruleId omitted when empty
    (Python writes "ruleId": null), inExperiment only when true."""
    out = {}
    for name in REASON_PROPERTY_ORDER:
        value = reason.get(name)
        if value is None or (name == 'ruleId' and value == '') or (name == 'inExperiment' and value is not True):
            continue
        out[name] = value
    return out


def _fill(item: Any, defaults: Dict[str, Any]) -> None:
    if isinstance(item, dict):
        for name, value in defaults.items():
            if item.get(name) is None:
                item[name] = value


def _fill_clauses(rules: Any) -> None:
    for rule in rules if isinstance(rules, list) else []:
        _fill(rule, {'clauses': []})
        for clause in rule.get('clauses') if isinstance(rule, dict) else []:
            _fill(clause, {'attribute': '', 'op': '', 'values': []})


def _fill_rollout(vr: Any) -> None:
    rollout = vr.get('rollout') if isinstance(vr, dict) else None
    _fill(rollout, {'variations': []})
    for wv in rollout['variations'] if isinstance(rollout, dict) else []:
        _fill(wv, {'variation': 0, 'weight': 0})


def with_go_defaults(item: dict, is_segment: bool) -> dict:
    """GO: ldmodel/model_unmarshal.go reads every property as optional (absent or null means the
    zero value), while the Python model classes require some (clause attribute/op/values, target
    values, rule clauses, rollout variations...). Returns a copy with those filled in as Go sees them.
    (Vane's generated corpora always contain them; LaunchDarkly's harness data sometimes does not.)"""
    item = json.loads(json.dumps(item))
    _fill(item, {'version': 0, 'key': ''})
    _fill_clauses(item.get('rules'))
    if is_segment:
        for name in ('includedContexts', 'excludedContexts'):
            for target in item.get(name) or []:
                _fill(target, {'values': []})
        return item
    for prerequisite in item.get('prerequisites') or []:
        _fill(prerequisite, {'key': '', 'variation': 0})
    for name in ('targets', 'contextTargets'):
        for target in item.get(name) or []:
            _fill(target, {'variation': 0, 'values': []})
    for vr in (item.get('rules') or []) + [item.get('fallthrough')]:
        _fill_rollout(vr)
    return item


class ReferenceEvaluator:
    """Evaluates a polling payload for JSON contexts, producing vanectl's output records."""

    def __init__(self, payload: dict):
        flags = ((k, FeatureFlag(with_go_defaults(d, False))) for k, d in payload.get('flags', {}).items())
        self.flags = {k: f for k, f in flags if not f.deleted}
        segments = ((k, Segment(with_go_defaults(d, True))) for k, d in payload.get('segments', {}).items())
        segments = {k: s for k, s in segments if not s.deleted}
        self._evaluator = GoSemanticsEvaluator(self.flags, segments)
        self._events = EventFactory(False)

    def evaluate(self, flag_key: str, context: Optional[Context]) -> Tuple[Any, Optional[int], dict]:
        # GO (go-server-sdk ldclient.go variationAndFlag): an invalid context is reported before the
        # flag is looked up.
        if context is None:
            return None, None, error_reason('USER_NOT_SPECIFIED')
        flag = self.flags.get(flag_key)
        if flag is None:
            return None, None, error_reason('FLAG_NOT_FOUND')
        detail = self._evaluator.evaluate(flag, context, self._events).detail
        return detail.value, detail.variation_index, detail.reason

    def records(self, contexts: List[Any], only_flag: Optional[str] = None) -> Iterable[dict]:
        keys = [only_flag] if only_flag is not None else sorted(self.flags)
        for index, raw_context in enumerate(contexts):
            context = context_from_json(raw_context)
            for key in keys:
                value, variation_index, reason = self.evaluate(key, context)
                yield {'context': index, 'flag': key, 'value': value,
                       'variationIndex': variation_index, 'reason': ordered_reason(reason)}


def dump_line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(',', ':'))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='polling payload {"flags":{...},"segments":{...}}')
    parser.add_argument('--contexts', required=True, help='JSON array of contexts')
    parser.add_argument('--flag', help='evaluate only this flag key')
    args = parser.parse_args(argv)
    with open(args.data, encoding='utf-8') as f:
        payload = json.load(f)
    with open(args.contexts, encoding='utf-8') as f:
        contexts = json.load(f)
    out = sys.stdout.buffer
    for record in ReferenceEvaluator(payload).records(contexts, args.flag):
        out.write((dump_line(record) + '\n').encode('utf-8'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
