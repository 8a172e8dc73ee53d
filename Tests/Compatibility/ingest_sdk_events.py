"""LaunchDarkly's Python server SDK sending analytics events to events-ingest.

Usage: ingest_sdk_events.py <events-base-uri> <sdk-key> <scenario>

Scenarios:
  kinds   feature, custom, identify, index and summary events (plus diagnostic-init), then a
          second client with gzip event compression.
  retry   two flushes at once against an instance rate-limited to one batch per second: the
          later of the two posts is refused with 429 and the SDK retries it after 1 s with the
          same payload id.

The SDK evaluates flags from a local file (no streaming or polling connection); its event
processor posts to <events-base-uri>/bulk and /diagnostic exactly as in production. Every post is
observed (not altered) by wrapping the SDK's own send function, and printed on stdout as JSON:
[{"path", "payloadId", "body", "statuses"}], so the caller can compare with the Kafka topic.
"""

import json
import os
import sys
import tempfile
import time

import ldclient.impl.events.event_processor as event_processor
from ldclient import Context
from ldclient.client import LDClient
from ldclient.config import Config
from ldclient.integrations import Files

POSTS = []


def observe_posts():
    original = event_processor._post_events_with_retry

    def observed(http_client, config, uri, payload_id, body, description):
        statuses = []

        class Recorder:
            def request(self, *args, **kwargs):
                try:
                    response = http_client.request(*args, **kwargs)
                except Exception as error:  # the SDK's own retry handles it; record and re-raise
                    statuses.append(str(error))
                    raise
                statuses.append(response.status)
                return response

        try:
            return original(Recorder(), config, uri, payload_id, body, description)
        finally:
            POSTS.append({"path": uri.rsplit("/", 1)[-1], "payloadId": payload_id, "body": json.loads(body), "statuses": statuses})

    event_processor._post_events_with_retry = observed


FLAGS = {
    "flags": {
        "tracked-flag": {
            "key": "tracked-flag", "version": 7, "on": True, "variations": [False, True], "fallthrough": {"variation": 1},
            "offVariation": 0, "targets": [], "contextTargets": [], "rules": [], "prerequisites": [], "salt": "s1",
            "trackEvents": True,
        },
        "plain-flag": {
            "key": "plain-flag", "version": 3, "on": True, "variations": ["a", "b"], "fallthrough": {"variation": 0},
            "offVariation": 1, "targets": [], "contextTargets": [], "rules": [], "prerequisites": [], "salt": "s2",
        },
    },
    "segments": {},
}


def make_client(base_uri, sdk_key, flag_file, **options):
    config = Config(
        sdk_key,
        events_uri=base_uri,
        update_processor_class=Files.new_data_source(paths=[flag_file]),
        send_events=True,
        flush_interval=60,  # flushes happen when the script asks
        **options,
    )
    client = LDClient(config=config, start_wait=10)
    if not client.is_initialized():
        raise SystemExit("the SDK did not initialize from the flag file")
    return client


def wait_for_posts(count, path="bulk", timeout=20):
    deadline = time.time() + timeout
    while len([p for p in POSTS if p["path"] == path]) < count:
        if time.time() > deadline:
            raise SystemExit("the SDK did not post %d batches in time: %s" % (count, json.dumps(POSTS)))
        time.sleep(0.05)


def kinds(base_uri, sdk_key, flag_file):
    ann = Context.builder("user-ann").name("Ann").set("plan", "gold").build()
    org = Context.builder("org-1").kind("org").name("Acme").build()
    client = make_client(base_uri, sdk_key, flag_file)
    client.variation("tracked-flag", ann, False)  # feature (tracked) + index + summary
    client.variation_detail("plain-flag", ann, "z")  # summary only
    client.variation("missing-flag", org, "dflt")  # summary with unknown: true, index for org
    client.track("purchase", ann, data={"sku": "x-1"}, metric_value=9.99)  # custom
    client.identify(Context.multi_builder().add(ann).add(org).build())  # identify
    client.flush()
    wait_for_posts(1)
    wait_for_posts(1, path="diagnostic")  # diagnostic-init, sent at start-up
    client.close()

    compressed = make_client(base_uri, sdk_key, flag_file, enable_event_compression=True, diagnostic_opt_out=True)
    compressed.track("gzip-goal", ann)
    compressed.flush()
    wait_for_posts(2)
    compressed.close()


def retry(base_uri, sdk_key, flag_file):
    client = make_client(base_uri, sdk_key, flag_file, diagnostic_opt_out=True)
    user = Context.create("user-retry")
    client.track("first", user)
    client.flush()
    client.track("second", user)
    client.flush()  # a second flush worker posts while the first is still in flight
    wait_for_posts(2)
    client.close()


def main():
    base_uri, sdk_key, scenario = sys.argv[1:4]
    observe_posts()
    with tempfile.TemporaryDirectory() as directory:
        flag_file = os.path.join(directory, "flags.json")
        with open(flag_file, "w") as f:
            json.dump(FLAGS, f)
        {"kinds": kinds, "retry": retry}[scenario](base_uri, sdk_key, flag_file)
    print(json.dumps(POSTS))


if __name__ == "__main__":
    main()
