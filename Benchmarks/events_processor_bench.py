#!/usr/bin/env python3
"""Record generator for Benchmarks/events-processor-bench.sh.

  events_processor_bench.py records OUT COUNT EVENTS_PER_RECORD ENVIRONMENTS MIX
      writes COUNT lines `environmentId<TAB>record` for `kcat -P -K '\\t'`: vane.events.raw records as
      events-ingest writes them (received now), each a server-SDK flush of EVENTS_PER_RECORD events:
      one summary and, over 200,000 users (a fifth of them in multi-kind contexts), MIX:
        experiment: feature 40%, custom 40% (half with a metricValue), index 10%, identify 10%
        typical:    feature 10%, custom 10%, index 60%, identify 20%
  events_processor_bench.py expect FILE
      prints the number of (environment, flag, individual context) exposures in a records file: what
      analytics.experiment_exposures must add up to.
  events_processor_bench.py marker FLAG
      prints one record (`environmentId<TAB>record`) with one exposure and one goal for FLAG,
      received now, for freshness probes.
"""
import json
import random
import sys
import time
import uuid


def now_ms():
    return int(time.time() * 1000)


def record(environment, events, received_at):
    return environment + "\t" + json.dumps({
        "environmentId": environment, "payloadId": str(uuid.uuid4()), "receivedAt": received_at,
        "source": "server", "userAgent": "PythonClient/9.18.2", "events": events}, separators=(",", ":"))


def context(rng):
    user = {"kind": "user", "key": "user-%d" % rng.randrange(200_000), "name": "someone", "plan": "gold"}
    if rng.randrange(5) == 0:
        return {"kind": "multi", "user": {k: v for k, v in user.items() if k != "kind"},
                "org": {"key": "org-%d" % rng.randrange(2_000)}}
    return user


MIXES = {"experiment": (4, 8, 9), "typical": (1, 2, 8)}


def batch(rng, size, received_at, mix):
    feature_below, custom_below, index_below = MIXES[mix]
    events = []
    flags = ["experiment-%d" % i for i in range(5)]
    metrics = ["purchase", "signup", "click"]
    for _ in range(size - 1):
        created = received_at - rng.randrange(60_000)
        roll = rng.randrange(10)
        if roll < feature_below:
            flag = rng.choice(flags)
            variation = rng.randrange(3)
            events.append({"kind": "feature", "creationDate": created, "key": flag, "version": 12, "variation": variation,
                           "value": variation, "default": 0, "reason": {"kind": "FALLTHROUGH", "inExperiment": True},
                           "context": context(rng)})
        elif roll < custom_below:
            event = {"kind": "custom", "creationDate": created, "key": rng.choice(metrics), "context": context(rng)}
            if rng.randrange(2) == 0:
                event["metricValue"] = round(rng.uniform(1, 500), 2)
            events.append(event)
        elif roll < index_below:
            events.append({"kind": "index", "creationDate": created, "context": context(rng)})
        else:
            events.append({"kind": "identify", "creationDate": created, "context": context(rng)})
    features = {}
    for i in range(10):
        features["flag-%d" % i] = {"default": False, "contextKinds": ["user"], "counters": [
            {"count": rng.randrange(1, 50), "value": True, "variation": 0, "version": 4},
            {"count": rng.randrange(1, 50), "value": False, "variation": 1, "version": 4}]}
    events.append({"kind": "summary", "startDate": received_at - 5000, "endDate": received_at, "features": features})
    return events


def main():
    if sys.argv[1] == "records":
        out, count, size, environments, mix = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
        rng = random.Random(7)
        received_at = now_ms()
        with open(out, "w") as f:
            for i in range(count):
                f.write(record("env-%d" % (i % environments), batch(rng, size, received_at, mix), received_at) + "\n")
    elif sys.argv[1] == "expect":
        exposed = set()
        with open(sys.argv[2]) as f:
            for line in f:
                environment, value = line.rstrip("\n").split("\t", 1)
                for event in json.loads(value)["events"]:
                    if event["kind"] != "feature":
                        continue
                    c = event["context"]
                    members = [(k, v["key"]) for k, v in c.items() if k != "kind"] if c["kind"] == "multi" else [(c["kind"], c["key"])]
                    for member in members:
                        exposed.add((environment, event["key"]) + member)
        print(len(exposed))
    elif sys.argv[1] == "marker":
        flag = sys.argv[2]
        at = now_ms()
        events = [
            {"kind": "feature", "creationDate": at, "key": flag, "variation": 1, "value": True, "default": False,
             "context": {"kind": "user", "key": "fresh"}},
            {"kind": "custom", "creationDate": at, "key": "fresh-metric", "context": {"kind": "user", "key": "fresh"}},
        ]
        print(record("env-fresh", events, at))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    main()
