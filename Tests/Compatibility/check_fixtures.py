#!/usr/bin/env python3
"""Checks ld_reference_eval.py against Vane's server-side evaluation fixtures.

Usage::

    check_fixtures.py [FIXTURE_DIR]

FIXTURE_DIR defaults to ``Tests/ModelsCoreTests/Fixtures/ServerSideEval``. Each fixture file is
``{"groups":[{"name","data":{"flags","segments"},"evaluations":[{"name","flagKey","context",
"valueType","default","expect":{"value","variationIndex","reason"}}]}]}``, taken from LaunchDarkly's
SDK test harness, whose expectations are those of the Go evaluator. Agreement here is evidence that
the Go patches in ld_reference_eval.py are right; a disagreement points at one of them (or at the
fixture). Results are turned into what a typed SDK call returns, as Go's LDClient does: a result
without a variation gives the caller's default, and a value whose JSON type differs from the
default's (unless valueType is "any" or the default is null) gives ERROR/WRONG_TYPE.

Prints every disagreement and exits with status 1 if there is one.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from typing import Any, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree

from differential_eval import json_equal  # noqa: E402
from ld_reference_eval import ReferenceEvaluator, context_from_json, ordered_reason  # noqa: E402

DEFAULT_DIR = os.path.join(HERE, '..', 'ModelsCoreTests', 'Fixtures', 'ServerSideEval')


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, (int, float)):
        return 'number'
    return {str: 'string', list: 'array', dict: 'object', type(None): 'null'}[type(value)]


def sdk_result(reference: ReferenceEvaluator, evaluation: dict) -> Tuple[Any, Optional[int], dict]:
    """GO (go-server-sdk ldclient.go variationAndFlag): default value and WRONG_TYPE handling."""
    value, variation_index, reason = reference.evaluate(evaluation['flagKey'], context_from_json(evaluation['context']))
    default = evaluation['default']
    if variation_index is None:
        value = default
    elif evaluation['valueType'] != 'any' and default is not None and json_type(value) != json_type(default):
        return default, None, {'kind': 'ERROR', 'errorKind': 'WRONG_TYPE'}
    return value, variation_index, ordered_reason(reason)


def check_file(path: str) -> Tuple[int, List[str]]:
    with open(path, encoding='utf-8') as f:
        fixture = json.load(f)
    count, problems = 0, []
    for group in fixture['groups']:
        reference = ReferenceEvaluator(group['data'])
        for evaluation in group['evaluations']:
            count += 1
            value, variation_index, reason = sdk_result(reference, evaluation)
            expect = evaluation['expect']
            if not (json_equal(value, expect['value']) and variation_index == expect['variationIndex']
                    and json_equal(reason, expect['reason'])):
                problems.append('%s / %s / %s\n  expected %s\n  got      %s' % (
                    os.path.basename(path), group['name'], evaluation['name'], json.dumps(expect, ensure_ascii=False),
                    json.dumps({'value': value, 'variationIndex': variation_index, 'reason': reason},
                               ensure_ascii=False)))
    return count, problems


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = args[0] if args else DEFAULT_DIR
    total, problems = 0, []
    for path in sorted(glob.glob(os.path.join(directory, '*.json'))):
        count, file_problems = check_file(path)
        total += count
        problems += file_problems
    for problem in problems:
        print(problem)
    print('%d evaluations checked, %d disagreements' % (total, len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
