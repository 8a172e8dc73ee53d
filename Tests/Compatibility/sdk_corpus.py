#!/usr/bin/env python3
"""A randomized corpus for the Swift SDK's differential test (Tests/VaneSDKTests).

Usage::

    sdk_corpus.py --management URL --token T --relay URL --out DIR [--seed S] [--flags N] [--contexts M]

Creates a project through management-api and fills it with a corpus from ``gen_eval_corpus.py``
(every operator, attribute references, prerequisites, segments, rollouts and experiments; items
management-api refuses are simplified, as in ``relay_compat.py differential``), waits until the
relay serves exactly that data, and writes:

* ``DIR/contexts.json``: the contexts (single-kind, multi-kind, old user format, invalid ones);
* ``DIR/expected.jsonl``: for every context and flag, LaunchDarkly's answer (``ld_reference_eval.py``:
  the Python server SDK's evaluator, patched to Go's where the two differ), one JSON object per line
  ``{"context", "flag", "value", "variationIndex", "reason", "reasonJSON"}``, where ``reasonJSON`` is
  the reason as compact text in LaunchDarkly's (Go's) property order;
* on stdout, a JSON summary ``{"sdkKey", "environmentId", "flags", "contexts", "created",
  "pythonSdkDivergences"}``: the last is how many answers of the unpatched Python SDK (connected to
  the relay) differ from that reference (its documented divergences from Go; not a failure).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True

from gen_eval_corpus import CorpusGenerator  # noqa: E402
from ld_reference_eval import ordered_reason  # noqa: E402
from relay_compat import Management, create_corpus, reference_eval, same, sdk_client, sdk_detail, wait_for_relay_data  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--management', required=True)
    parser.add_argument('--token', required=True)
    parser.add_argument('--relay', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--seed', type=int, default=11)
    parser.add_argument('--flags', type=int, default=60)
    parser.add_argument('--contexts', type=int, default=40)
    args = parser.parse_args()

    mgmt = Management(args.management, args.token)
    project = 'sdk-%d-%d' % (args.seed, int(time.time() * 1000) % 100000)
    environment = mgmt.project(project)
    corpus, contexts = CorpusGenerator(args.seed, args.flags, args.contexts).generate()
    created = create_corpus(mgmt, project, corpus, random.Random(args.seed))
    payload = mgmt.payload(project)
    wait_for_relay_data(args.relay, environment['sdkKey'], payload)
    expected = reference_eval(payload, contexts)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'contexts.json'), 'w', encoding='utf-8') as f:
        json.dump(contexts, f, ensure_ascii=False)
    with open(os.path.join(args.out, 'expected.jsonl'), 'w', encoding='utf-8') as f:
        for (index, key) in sorted(expected):
            record = dict(expected[(index, key)])
            record['reasonJSON'] = json.dumps(record['reason'], ensure_ascii=False, separators=(',', ':'))
            f.write(json.dumps(record, ensure_ascii=False, separators=(',', ':')) + '\n')

    divergences = 0
    client = sdk_client(environment['sdkKey'], args.relay, True)
    try:
        for (index, key), record in expected.items():
            got = sdk_detail(client, key, contexts[index])
            divergences += not same({**got, 'reason': ordered_reason(got['reason'])},
                                    {name: record[name] for name in ('value', 'variationIndex', 'reason')})
    finally:
        client.close()
    print(json.dumps({'sdkKey': environment['sdkKey'], 'environmentId': environment['id'], 'flags': len(payload['flags']),
                      'contexts': len(contexts), 'created': created, 'pythonSdkDivergences': divergences}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
