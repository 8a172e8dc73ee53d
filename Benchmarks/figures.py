#!/usr/bin/env python3
"""Benchmark figures of one `make bench` run, and the summary table built from them.

Every benchmark records its headline figures here, each beside the baseline it measured in the same
run and the target it must meet (if any). `make bench` empties the file first and renders the
summary last:

    figures.py reset
    figures.py add --area evaluation --figure "(c) one rule, 3 clauses" --value 312 --unit ns \
        --baseline-name "LaunchDarkly Python SDK" --baseline 10976 --target "<=250"
    figures.py summary            # writes summary.md beside the figures and prints it

The figures live in $VANE_BENCH_FIGURES (default .build/benchmark-results/figures.jsonl), one JSON
object per line, so that shell scripts, Python and the Swift load generators can all append to it.
A target is `<=N` (lower is better) or `>=N` (higher is better); the ratio is value ÷ baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import sys
import time

DEFAULT_PATH = pathlib.Path(".build/benchmark-results/figures.jsonl")


def figures_path() -> pathlib.Path:
    return pathlib.Path(os.environ.get("VANE_BENCH_FIGURES", DEFAULT_PATH))


def parse_target(text: str | None) -> tuple[str, float] | None:
    """`<=250` → ("<=", 250.0); None or empty → None."""
    if not text:
        return None
    for op in ("<=", ">="):
        if text.startswith(op):
            return op, float(text[len(op):].replace(",", "").replace("_", ""))
    raise ValueError(f"a target is <=N or >=N, not {text!r}")


def add(area: str, figure: str, value: float, unit: str, baseline_name: str | None = None,
        baseline: float | None = None, target: str | None = None, note: str | None = None) -> None:
    """Appends one figure (importable from other benchmark scripts)."""
    parse_target(target)  # refuse a malformed target now, not when the summary is rendered
    record = {"area": area, "figure": figure, "value": value, "unit": unit, "baselineName": baseline_name,
              "baseline": baseline, "target": target or None, "note": note, "at": time.time()}
    path = figures_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{text} {unit}".strip()


def verdict(value: float | None, target: str | None) -> str:
    parsed = parse_target(target)
    if parsed is None:
        return "—"
    if value is None or math.isnan(value):
        return "**not measured**"
    op, bound = parsed
    met = value <= bound if op == "<=" else value >= bound
    return "met" if met else "**missed**"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def render(records: list[dict]) -> str:
    lines = [
        "# `make bench` summary",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}; "
        f"load at the end {' '.join(open('/proc/loadavg').read().split()[:3]) if os.path.exists('/proc/loadavg') else '?'}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Every figure beside its baseline measured in the same run; ratio = figure ÷ baseline.",
        "",
        "| area | figure | value | baseline (same run) | ratio | target | verdict |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in records:
        baseline = "—"
        ratio = "—"
        if r.get("baseline") is not None:
            baseline = f"{r.get('baselineName') or 'baseline'}: {number(r['baseline'], r['unit'])}"
            if r["baseline"]:
                ratio = f"{r['value'] / r['baseline']:.2f}"
        target = "—"
        if parsed := parse_target(r.get("target")):
            target = ("≤ " if parsed[0] == "<=" else "≥ ") + number(parsed[1], r["unit"])
        figure = r["figure"] + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {r['area']} | {figure} | {number(r['value'], r['unit'])} | {baseline} | {ratio} | {target} "
                     f"| {verdict(r['value'], r.get('target'))} |")
    missed = sum(1 for r in records if verdict(r["value"], r.get("target")).startswith("**"))
    met = sum(1 for r in records if verdict(r["value"], r.get("target")) == "met")
    lines += ["", f"{met} targets met, {missed} missed or not measured, {len(records)} figures."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("reset", help="empty the figures file")
    a = sub.add_parser("add", help="append one figure")
    a.add_argument("--area", required=True)
    a.add_argument("--figure", required=True)
    a.add_argument("--value", required=True, type=float)
    a.add_argument("--unit", required=True)
    a.add_argument("--baseline-name")
    a.add_argument("--baseline", type=float)
    a.add_argument("--target")
    a.add_argument("--note")
    s = sub.add_parser("summary", help="render summary.md from the figures")
    s.add_argument("--out", type=pathlib.Path)
    args = parser.parse_args()
    path = figures_path()
    if args.command == "reset":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    elif args.command == "add":
        add(args.area, args.figure, args.value, args.unit, args.baseline_name, args.baseline, args.target, args.note)
    else:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []
        text = render(records)
        out = args.out or path.with_name("summary.md")
        out.write_text(text)
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
