#!/usr/bin/env python3
"""Real SDK traffic for a guarded rollout: LaunchDarkly's Python SDK, connected to relay-streamer and sending its
events to events-ingest.

Usage (prints a JSON summary on its last stdout line; exits 0, or 1 with what went wrong)::

    release_guard.py --relay URL --events URL --sdk-key K --flag F --metric M [--contexts 1200]
                     [--control-rate 0.02] [--new-rate 0.4] [--variation 1]

Waits until the SDK serves the flag's guarded rollout (an experiment rollout: evaluations in it carry
``inExperiment``, so the SDK sends their full feature events), then evaluates the flag for ``--contexts`` user
contexts and calls ``track(metric)`` for a deterministic share of them: ``--new-rate`` of those served
``--variation``, ``--control-rate`` of the others (every 1/rate-th context of each arm). Flushes and reports how many
contexts each variation served and how many errors each arm tracked.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import ldclient
from ldclient import Context
from ldclient.config import Config

logging.getLogger('ldclient').setLevel(logging.CRITICAL)


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ('--relay', '--events', '--sdk-key', '--flag', '--metric'):
        parser.add_argument(name, required=True)
    parser.add_argument('--contexts', type=int, default=1200)
    parser.add_argument('--control-rate', type=float, default=0.02)
    parser.add_argument('--new-rate', type=float, default=0.4)
    parser.add_argument('--variation', type=int, default=1)
    parser.add_argument('--prefix', default='guard-user')
    args = parser.parse_args()

    config = Config(args.sdk_key, base_uri=args.relay, stream_uri=args.relay, events_uri=args.events, flush_interval=1,
                    events_max_pending=100000, diagnostic_opt_out=True, initial_reconnect_delay=0.2)
    client = ldclient.LDClient(config=config, start_wait=20)
    try:
        if not client.is_initialized():
            print('the SDK did not initialize from the relay within 20 s')
            return 1
        deadline = time.monotonic() + 20
        while not client.variation_detail(args.flag, Context.create('probe'), None).reason.get('inExperiment'):
            if time.monotonic() > deadline:
                print('the SDK never served the guarded rollout of %s (an experiment rollout)' % args.flag)
                return 1
            time.sleep(0.1)

        served: dict = {}
        tracked: dict = {}
        in_experiment = 0
        for index in range(args.contexts):
            context = Context.create('%s-%d' % (args.prefix, index))
            detail = client.variation_detail(args.flag, context, None)
            variation = detail.variation_index
            served[variation] = served.get(variation, 0) + 1
            if detail.reason.get('inExperiment'):
                in_experiment += 1
            rate = args.new_rate if variation == args.variation else args.control_rate
            position = served[variation]  # 1-based position in its arm: every 1/rate-th context errs
            if rate > 0 and int(position * rate) != int((position - 1) * rate):
                client.track(args.metric, context)
                tracked[variation] = tracked.get(variation, 0) + 1
        client.flush()
        time.sleep(2)
    finally:
        client.close()
    print(json.dumps({'served': {str(k): v for k, v in served.items()}, 'tracked': {str(k): v for k, v in tracked.items()},
                      'inExperiment': in_experiment}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
