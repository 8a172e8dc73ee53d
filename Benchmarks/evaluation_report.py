#!/usr/bin/env python3
"""Compares Vane's evaluator with the LaunchDarkly Python SDK's on the cases of evaluation-cases.json.

Usage: evaluation_report.py --swift-jmh FILE

FILE is the JMH export of the ordo-one/benchmark run (``swift package benchmark --format jmh``),
whose wall-clock percentiles are per 1000 evaluations (scaling factor ``kilo``), i.e. nanoseconds
per evaluation. The Python side is timed here, in the same `make bench` run, with the SDK's own
``Evaluator`` on the same flags, segments and context, so the ratio compares like with like on the
same machine at the same time.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import timeit

from ldclient.context import Context
from ldclient.impl.evaluator import Evaluator
from ldclient.impl.events.types import EventFactory
from ldclient.impl.model import FeatureFlag, Segment

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import figures  # noqa: E402  (Benchmarks/figures.py, beside this file)

CASES = pathlib.Path(__file__).with_name("evaluation-cases.json")


def python_ns_per_evaluation(document: dict) -> dict[str, float]:
    flags = {key: FeatureFlag(value) for key, value in document["data"]["flags"].items()}
    segments = {key: Segment(value) for key, value in document["data"]["segments"].items()}
    evaluator = Evaluator(flags.get, segments.get, lambda key: (None, "NOT_CONFIGURED"))
    context = Context.from_dict(document["context"])
    events = EventFactory(False)
    results = {}
    for case in document["cases"]:
        flag = flags[case["flag"]]
        timer = timeit.Timer(lambda: evaluator.evaluate(flag, context, events))
        loops, _ = timer.autorange()
        best = min(timer.repeat(repeat=5, number=loops)) / loops
        results[case["name"]] = best * 1e9
    return results


def swift_results(path: pathlib.Path) -> dict[str, tuple[float, float]]:
    """Benchmark name → (p50 ns per evaluation, mallocs per evaluation)."""
    results = {}
    for benchmark in json.loads(path.read_text()):
        name = benchmark["benchmark"].split(".")[-1].replace("_", " ")
        metrics = benchmark.get("secondaryMetrics", {})
        wall = metrics.get("Time (wall clock)", {})
        mallocs = metrics.get("Malloc (total)", {})
        results[name] = (
            float(wall.get("scorePercentiles", {}).get("50.0", wall.get("score", float("nan")))),
            float(mallocs.get("score", float("nan"))) / 1000.0,
        )
    return results


TARGETS_NS = {"(a)": 50, "(b)": 50, "(c)": 250, "(d)": 2000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swift-jmh", required=True, type=pathlib.Path)
    args = parser.parse_args()
    document = json.loads(CASES.read_text())
    swift = swift_results(args.swift_jmh)
    python = python_ns_per_evaluation(document)
    print()
    print("| case | Vane ns/eval (p50) | allocations/eval | target | LaunchDarkly Python ns/eval | Python ÷ Vane |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in document["cases"]:
        name = case["name"]
        swift_ns, mallocs = swift.get(f"evaluate {name}", (float("nan"), float("nan")))
        python_ns = python[name]
        target = TARGETS_NS[name.split()[0]]
        verdict = "met" if swift_ns <= target else "missed"
        speedup = python_ns / swift_ns
        print(f"| {name} | {swift_ns:,.0f} | {mallocs:g} | ≤ {target:,} ns ({verdict}) | {python_ns:,.0f} | {speedup:,.0f}× |")
        figures.add("evaluation", f"{name}, p50", swift_ns, "ns", "LaunchDarkly Python SDK", python_ns, f"<={target}")
        figures.add("evaluation", f"{name}, allocations per evaluation", mallocs, "allocs", target="<=0")
    print()
    print("Swift SDK (`VaneClient.boolVariation`, `stringVariation` for (c)) against the bare evaluation by key, same run:")
    print()
    print("| case | bare ns/eval | client ns/eval | client ÷ bare (≤ 1.2) | client with events ns/eval | ÷ bare (≤ 1.2) |")
    print("|---|---:|---:|---:|---:|---:|")
    for case in document["cases"]:
        name = case["name"]
        bare, _ = swift.get(f"evaluate by key {name}", (float("nan"), float("nan")))
        client, _ = swift.get(f"client {name}", (float("nan"), float("nan")))
        events, _ = swift.get(f"client with events {name}", (float("nan"), float("nan")))
        ratio, events_ratio = client / bare, events / bare

        def verdict(value):
            return "met" if value <= 1.2 else "missed"

        print(f"| {name} | {bare:,.0f} | {client:,.0f} | {ratio:.2f} ({verdict(ratio)}) | {events:,.0f} "
              f"| {events_ratio:.2f} ({verdict(events_ratio)}) |")
        figures.add("sdk", f"{name}, VaneClient.boolVariation ÷ bare evaluation", ratio, "×", target="<=1.2",
                    note=f"{client:,.0f} ns vs {bare:,.0f} ns")
        figures.add("sdk", f"{name}, VaneClient.boolVariation with events ÷ bare evaluation", events_ratio, "×",
                    target="<=1.2", note=f"{events:,.0f} ns vs {bare:,.0f} ns")
    print()
    print("Wall-clock figures on a shared 2-core machine are indicative only; allocation counts are exact.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
