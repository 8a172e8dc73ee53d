#!/usr/bin/env python3
"""A progressive rollout observed through relay-streamer by LaunchDarkly's Python SDK.

Usage (prints a JSON summary on its last stdout line; exits 0, or 1 with what went wrong)::

    release_ramp.py --management URL --token T --relay URL --project P --flag F --sdk-key K
                    --steps '[{"percent": 10, "holdSeconds": 3}, ...]' [--variation 1] [--contexts 2000]

A streaming SDK connected to the relay evaluates the flag for ``--contexts`` user contexts. Once it
serves the control to all of them, the script starts the rollout through management-api (``POST
…/rollouts``). Every time the SDK applies an update of the flag, its flag-change listener (called on the
SDK's stream thread right after the store changed, so the store cannot change again meanwhile) notes the
time and evaluates every context against that version. The script waits until the SDK serves the new
variation to all of them. It reports, for each version the SDK held, the time since the rollout's
``startedAt`` and the share of contexts served the new variation, and counts the contexts that went back
from the new variation to the control (a monotone ramp has none). The summary gives, for each step, when
the SDK first held a version serving its percent (or more). Which contexts fall in a step depends on the flag's
random salt, so a version serving a step serves a binomial share around its percent: "serving" means within 4
standard deviations (4.5 points at 50 % for 2,000 contexts, 2.7 at 10 %; missed once in 15,000 runs). A fixed 1.5
points was 1.3 standard deviations at 50 %: a version serving 48 % was not recognized, about one run in ten.

Timing an update by when the SDK received it, rather than by the end of an evaluation pass in the main
thread, keeps the figure about delivery: on a loaded machine a pass of 2,000 Python evaluations can take
over a second, and a pass that straddles an update serves a mix of two steps.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import threading
import time
from datetime import datetime

import requests

import ldclient
from ldclient import Context
from ldclient.config import Config

logging.getLogger('ldclient').setLevel(logging.CRITICAL)


def rfc3339_seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace('Z', '+00:00')).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ('--management', '--token', '--relay', '--project', '--flag', '--sdk-key', '--steps'):
        parser.add_argument(name, required=True)
    parser.add_argument('--environment', default='production')
    parser.add_argument('--variation', type=int, default=1)
    parser.add_argument('--contexts', type=int, default=2000)
    parser.add_argument('--timeout', type=float, default=60)
    args = parser.parse_args()
    steps = json.loads(args.steps)

    config = Config(args.sdk_key, stream_uri=args.relay, base_uri=args.relay, events_uri='http://127.0.0.1:9', stream=True,
                    send_events=False, diagnostic_opt_out=True, initial_reconnect_delay=0.2)
    client = ldclient.LDClient(config, start_wait=20)
    if not client.is_initialized():
        print('the Python SDK did not initialize')
        return 1
    contexts = [Context.create('ramp-user-%d' % i) for i in range(args.contexts)]

    def serve() -> list:
        return [client.variation_detail(args.flag, c, None).variation_index for c in contexts]

    deadline = time.time() + 30
    while True:
        served = serve()
        if all(v is not None and v != args.variation for v in served):
            break
        if time.time() > deadline:
            print('the flag never served the control to every context: %s' % served[:10])
            return 1
        time.sleep(0.1)

    # Every version of the flag the SDK applies, as (time received, share served the new variation).
    versions = []
    ever_new = [False] * len(contexts)
    went_back = set()
    changed = threading.Condition()

    def on_change(change) -> None:
        if change.key != args.flag:
            return
        received = time.time()
        served = serve()
        with changed:
            new = 0
            for i, variation in enumerate(served):
                if variation == args.variation:
                    new += 1
                    ever_new[i] = True
                elif ever_new[i]:
                    went_back.add(i)
            versions.append((received, new / len(contexts)))
            changed.notify_all()

    client.flag_tracker.add_listener(on_change)
    path = '%s/api/v1/projects/%s/flags/%s/environments/%s/rollouts' % (args.management, args.project, args.flag, args.environment)
    response = requests.post(path, json={'variation': args.variation, 'steps': steps},
                             headers={'Authorization': 'Bearer ' + args.token}, timeout=10)
    if response.status_code != 201:
        print('starting the rollout failed: %s %s' % (response.status_code, response.text))
        return 1
    started = rfc3339_seconds(response.json()['startedAt'])

    with changed:
        done = changed.wait_for(lambda: versions and versions[-1][1] == 1, timeout=args.timeout)
        passes = [(round(received - started, 3), share) for received, share in versions]
    client.close()
    if not done:
        print('the SDK never served the new variation to every context: %s' % passes)

    first_seen = []
    for step in steps:
        target = step['percent'] / 100
        bound = 4 * math.sqrt(target * (1 - target) / len(contexts))
        seen = next((at for at, share in passes if abs(share - target) <= bound or share >= target), None)
        first_seen.append(seen)
    summary = {
        'versions': len(passes), 'timeline': passes, 'wentBack': len(went_back), 'finalShare': passes[-1][1] if passes else 0,
        'firstSeen': first_seen, 'contexts': len(contexts),
        'shares': sorted({round(share, 3) for _, share in passes}),
    }
    print(json.dumps(summary))
    return 0 if summary['finalShare'] == 1 and not went_back else 1


if __name__ == '__main__':
    sys.exit(main())
