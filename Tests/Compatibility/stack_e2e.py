#!/usr/bin/env python3
"""End-to-end check of the local stack through the LaunchDarkly Python server SDK.

Used by Tests/StackTests (the stack is started by scripts/run-stack.sh, as `make run` does).
The SDK connects to relay-streamer (streaming) and sends its events to events-ingest:

1. waits until the SDK is initialized and `--flag` is served with `--expect-on` semantics
   (rollout flag: each user gets the variation the relay's full state says);
2. evaluates the flag for `--users` users, records which variation each got, and sends one
   custom event (`--metric`) per user with a value (goal events for the experiment);
3. flips the flag off through management-api and measures how long until the SDK's in-memory
   copy serves the off variation (the kill switch), timed in the SDK's change listener;
4. flushes the events and prints one JSON object with what it saw.

Exit status 1 with a message on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request

import ldclient
from ldclient import Context
from ldclient.config import Config


def api(base: str, token: str, method: str, path: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header('Authorization', 'Bearer ' + token)
    request.add_header('Content-Type', 'application/json')
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read() or b'null')


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ('--relay', '--events', '--sdk-key', '--api', '--token', '--project', '--environment', '--flag', '--metric'):
        parser.add_argument(name, required=True)
    parser.add_argument('--users', type=int, default=50)
    args = parser.parse_args()

    config = Config(args.sdk_key, base_uri=args.relay, stream_uri=args.relay, events_uri=args.events,
                    flush_interval=1, diagnostic_opt_out=True)
    client = ldclient.LDClient(config=config, start_wait=20)
    try:
        if not client.is_initialized():
            sys.exit('stack_e2e: the SDK did not initialize from the relay within 20 s')

        # The flag was created just before; the stream delivers it (or the initial state has it).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            detail = client.variation_detail(args.flag, Context.create('probe'), 'missing')
            if detail.value != 'missing':
                break
            time.sleep(0.1)
        else:
            sys.exit('stack_e2e: flag %s never reached the SDK' % args.flag)

        served = {}
        for index in range(args.users):
            context = Context.builder('user-%d' % index).set('plan', 'pro' if index % 2 else 'free').build()
            detail = client.variation_detail(args.flag, context, 'default')
            if detail.variation_index is None:
                sys.exit('stack_e2e: user-%d got no variation: %s' % (index, detail.reason))
            served[detail.variation_index] = served.get(detail.variation_index, 0) + 1
            client.track(args.metric, context, metric_value=float(index))
        reasons = client.variation_detail(args.flag, Context.create('user-0'), 'default').reason

        # The kill switch: management-api commits, the relay streams, the SDK serves the off variation.
        # Timed when the SDK applies it: its change listener runs on the stream thread right after the
        # store update (a main-thread polling loop, on a loaded machine, adds its own scheduling delay).
        switched_off = threading.Event()
        arrival = {}

        def on_change(change) -> None:
            received = time.monotonic()
            if change.key != args.flag or switched_off.is_set():
                return
            if client.variation_detail(args.flag, Context.create('user-0'), 'default').reason.get('kind') == 'OFF':
                arrival['t'] = received
                switched_off.set()

        client.flag_tracker.add_listener(on_change)
        started = time.monotonic()
        api(args.api, args.token, 'PATCH', '/projects/%s/flags/%s/environments/%s' % (args.project, args.flag, args.environment),
            {'on': False})
        if not switched_off.wait(10):
            sys.exit('stack_e2e: the SDK still served the flag as on 10 s after it was switched off')
        if client.variation_detail(args.flag, Context.create('user-0'), 'default').reason.get('kind') != 'OFF':
            sys.exit('stack_e2e: the change listener saw the flag off, the client does not serve it off')
        kill_switch_ms = (arrival['t'] - started) * 1000

        client.flush()
        time.sleep(1.5)
    finally:
        client.close()
    print(json.dumps({'served': {str(k): v for k, v in sorted(served.items())}, 'reason': reasons,
                      'killSwitchMilliseconds': round(kill_switch_ms, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
