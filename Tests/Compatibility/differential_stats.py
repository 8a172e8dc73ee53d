#!/usr/bin/env python3
"""Differential test of `vanectl experiment-stats` against GrowthBook's gbstats 0.8.0.

Generates random sufficient statistics (proportion and mean metrics, 2-4 variations, tiny to huge n, zero
conversions, everything converted, zero variance, control mean 0, negative means, unequal weights, other alpha
and sequential tuning values), runs `vanectl experiment-stats` on each, computes the same numbers with gbstats'
own classes and compares every number at 1e-6 relative, and which fields are null exactly.

    differential_stats.py --vanectl PATH [--seed N] [--cases N] [--tolerance 1e-6] [--show-case K]

Exit status 0 when there is no difference; otherwise each difference is printed with its case.
"""

import argparse
import json
import math
import random
import subprocess
import sys
import warnings

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm

# gbstats lets numpy warn about overflowing e-values (exp → inf) and such; the results are what count.
warnings.filterwarnings("ignore")


# ---------------------------------------------------------------- the reference


def statistic(metric_type, v):
    n = int(v["n"])
    if metric_type == "proportion":
        return ProportionStatistic(n=n, sum=float(v["sum"]))
    return SampleMeanStatistic(n=n, sum=float(v["sum"]), sum_squares=float(v["sumSquares"]))


def finite_or_none(numbers):
    return all(isinstance(x, (int, float)) and math.isfinite(x) for x in numbers)


def frequentist(result):
    """A gbstats frequentist result as the results API reports it: null where gbstats gave up."""
    if result.error_message is not None:
        return None
    numbers = [float(result.p_value), float(result.ci[0]), float(result.ci[1])]
    if not finite_or_none(numbers):
        return None
    return {"pValue": numbers[0], "ci": numbers[1:]}


def bayesian(result):
    if result.error_message is not None:
        return None
    numbers = [float(result.chance_to_win), float(result.ci[0]), float(result.ci[1])] + [float(r) for r in result.risk]
    if not finite_or_none(numbers):
        return None
    return {"chanceToWin": numbers[0], "ci": numbers[1:3], "risk": numbers[3:]}


def attempt(compute):
    """A result gbstats cannot compute at all (it raises, e.g. Welch's degrees of freedom of a single unit with a
    fractional proportion divide by zero) is null too."""
    try:
        return compute()
    except ZeroDivisionError:
        return None


def reference(case):
    """gbstats' numbers for one input document, in the shape of `vanectl experiment-stats`' output."""
    metric_type = case["metricType"]
    alpha = case.get("alpha", 0.05)
    tuning = case.get("sequentialTuning", 5000)
    variations = case["variations"]
    weights = case.get("weights") or [1 / len(variations)] * len(variations)
    stats = [statistic(metric_type, v) for v in variations]
    control = stats[0]
    out = []
    for index, (v, stat) in enumerate(zip(variations, stats)):
        entry = {
            "variation": index,
            "n": v["n"],
            "sum": v["sum"],
            "sumSquares": v["sum"] if metric_type == "proportion" else v["sumSquares"],
            "mean": stat.mean,
        }
        if index > 0:
            lift = None
            if control.mean != 0 and stat.n > 0:
                lift = (stat.mean - control.mean) / control.mean
            entry["relativeLift"] = lift
            entry["frequentist"] = attempt(
                lambda: frequentist(TwoSidedTTest(control, stat, FrequentistConfig(alpha=alpha)).compute_result())
            )
            entry["sequential"] = attempt(
                lambda: frequentist(
                    SequentialTwoSidedTTest(
                        control, stat, SequentialConfig(alpha=alpha, sequential_tuning_parameter=tuning)
                    ).compute_result()
                )
            )
            entry["bayesian"] = attempt(
                lambda: bayesian(EffectBayesianABTest(control, stat, EffectBayesianConfig(alpha=alpha)).compute_result())
            )
        out.append(entry)
    return {"srmPValue": float(check_srm([int(v["n"]) for v in variations], weights)), "variations": out}


# ---------------------------------------------------------------- random cases


def draw_n(rng):
    tier = rng.random()
    if tier < 0.08:
        return rng.randint(0, 3)
    if tier < 0.25:
        return rng.randint(4, 60)
    if tier < 0.55:
        return rng.randint(60, 5_000)
    if tier < 0.85:
        return rng.randint(5_000, 2_000_000)
    return rng.randint(2_000_000, 50_000_000_000)


def draw_rate(rng):
    kind = rng.random()
    if kind < 0.07:
        return 0.0
    if kind < 0.12:
        return 1.0
    if kind < 0.25:
        return 10 ** rng.uniform(-6, -2)
    if kind < 0.32:
        return 1 - 10 ** rng.uniform(-6, -2)
    return rng.uniform(0.01, 0.9)


def proportion_variation(rng, n, rate):
    converted = round(n * rate + rng.gauss(0, 1) * math.sqrt(max(n * rate * (1 - rate), 0)))
    converted = min(max(converted, 0), n)
    return {"n": n, "sum": converted, "sumSquares": converted}


def mean_variation(rng, n, mean, sd):
    if n == 0:
        return {"n": 0, "sum": 0, "sumSquares": 0}
    kind = rng.random()
    if kind < 0.25:
        # Whole-number values (counts), as a sum of metricValue often is: exact sums.
        values = [max(0, round(rng.gauss(mean, sd))) for _ in range(min(n, 400))]
        if n > 400:
            m = sum(values) / len(values)
            var = sum((x - m) ** 2 for x in values) / max(len(values) - 1, 1)
            total = round(m * n)
            return {"n": n, "sum": total, "sumSquares": round(var * (n - 1) + total * total / n)}
        return {"n": n, "sum": sum(values), "sumSquares": sum(x * x for x in values)}
    sample_mean = mean + rng.gauss(0, 1) * sd / math.sqrt(n)
    total = sample_mean * n
    squares = (n - 1) * sd * sd + total * total / n
    return {"n": n, "sum": total, "sumSquares": squares}


def draw_case(rng):
    metric_type = rng.choice(["proportion", "mean"])
    k = rng.choice([2, 2, 2, 3, 3, 4])
    base_n = draw_n(rng)
    variations = []
    if metric_type == "proportion":
        base_rate = draw_rate(rng)
        for i in range(k):
            n = base_n if rng.random() < 0.2 else max(0, int(base_n * rng.uniform(0.8, 1.2)))
            if rng.random() < 0.05:
                n = rng.choice([0, 1, 2])
            effect = rng.choice([0.0, 0.0, rng.uniform(-0.3, 0.3), rng.uniform(-0.02, 0.02)])
            rate = min(max(base_rate * (1 + effect), 0.0), 1.0) if i > 0 else base_rate
            if rng.random() < 0.05:
                rate = draw_rate(rng)
            variations.append(proportion_variation(rng, n, rate))
    else:
        base_mean = rng.choice([0.0, rng.uniform(0.01, 5), rng.uniform(5, 500), rng.uniform(-50, -0.1), 1e-4])
        sd = rng.choice([0.0, abs(base_mean) * rng.uniform(0.1, 3) + 0.01, rng.uniform(0.001, 100)])
        for i in range(k):
            n = base_n if rng.random() < 0.2 else max(0, int(base_n * rng.uniform(0.8, 1.2)))
            if rng.random() < 0.05:
                n = rng.choice([0, 1, 2])
            effect = rng.choice([0.0, rng.uniform(-0.3, 0.3), rng.uniform(-0.02, 0.02)])
            variations.append(mean_variation(rng, n, base_mean * (1 + effect) if i > 0 else base_mean, sd))
    case = {"metricType": metric_type, "variations": variations}
    if rng.random() < 0.4:
        case["alpha"] = rng.choice([0.01, 0.1, 0.2, 0.001, 0.5, 0.025, rng.uniform(0.001, 0.3)])
    if rng.random() < 0.4:
        case["sequentialTuning"] = rng.choice([100, 1000, 10_000, 1e5, 1e6, rng.uniform(50, 50_000)])
    if rng.random() < 0.35:
        case["weights"] = [rng.uniform(0.05, 1) for _ in range(k)]
    if metric_type == "proportion" and rng.random() < 0.3:
        for v in case["variations"]:
            del v["sumSquares"]
    return case


# Hand-picked cases on every boundary gbstats treats specially.
EDGE_CASES = [
    {"metricType": "proportion", "variations": [{"n": 0, "sum": 0}, {"n": 0, "sum": 0}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 0}, {"n": 100, "sum": 5}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 100}, {"n": 100, "sum": 95}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 10}, {"n": 100, "sum": 0}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 10}, {"n": 100, "sum": 100}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 10}, {"n": 0, "sum": 0}, {"n": 100, "sum": 12}]},
    {"metricType": "proportion", "variations": [{"n": 1, "sum": 1}, {"n": 1, "sum": 0}]},
    {"metricType": "proportion", "variations": [{"n": 2, "sum": 1}, {"n": 2, "sum": 1}]},
    {"metricType": "proportion", "variations": [{"n": 10**12, "sum": 10**11}, {"n": 10**12, "sum": 10**11 + 10**6}]},
    {"metricType": "proportion", "variations": [{"n": 10**9, "sum": 12345}, {"n": 10**9, "sum": 12000}]},
    {"metricType": "proportion", "variations": [{"n": 5000, "sum": 500}, {"n": 5000, "sum": 500}]},
    {"metricType": "proportion", "variations": [{"n": 1000, "sum": 100}, {"n": 1000, "sum": 900}]},
    {"metricType": "proportion", "weights": [1, 2, 3], "variations": [{"n": 100, "sum": 10}, {"n": 200, "sum": 20},
                                                                       {"n": 300, "sum": 33}]},
    {"metricType": "proportion", "variations": [{"n": 10**6, "sum": 10}, {"n": 1, "sum": 0}]},
    {"metricType": "proportion", "variations": [{"n": 1, "sum": 0.5}, {"n": 100, "sum": 10}]},
    {"metricType": "proportion", "variations": [{"n": 100, "sum": 10.5}, {"n": 120, "sum": 20.25}]},
    {"metricType": "proportion", "alpha": 0.5, "sequentialTuning": 1,
     "variations": [{"n": 300, "sum": 30}, {"n": 300, "sum": 36}]},
    {"metricType": "mean", "variations": [{"n": 0, "sum": 0, "sumSquares": 0}, {"n": 10, "sum": 5, "sumSquares": 9}]},
    {"metricType": "mean", "variations": [{"n": 10, "sum": 0, "sumSquares": 9}, {"n": 10, "sum": 5, "sumSquares": 9}]},
    {"metricType": "mean", "variations": [{"n": 1, "sum": 3, "sumSquares": 9}, {"n": 10, "sum": 5, "sumSquares": 9}]},
    {"metricType": "mean", "variations": [{"n": 10, "sum": 30, "sumSquares": 90}, {"n": 10, "sum": 5, "sumSquares": 9}]},
    {"metricType": "mean", "variations": [{"n": 10, "sum": -30, "sumSquares": 190}, {"n": 10, "sum": -5, "sumSquares": 90}]},
    {"metricType": "mean", "variations": [{"n": 10, "sum": 3, "sumSquares": 90}, {"n": 10, "sum": 0, "sumSquares": 90}]},
    {"metricType": "mean", "variations": [{"n": 10, "sum": 3, "sumSquares": 0.5}, {"n": 10, "sum": 4, "sumSquares": 9}]},
    {"metricType": "mean", "variations": [{"n": 2, "sum": 3, "sumSquares": 5}, {"n": 2, "sum": 4, "sumSquares": 10}]},
    {"metricType": "mean", "variations": [{"n": 10**10, "sum": 2.5e10, "sumSquares": 1.3e11},
                                          {"n": 10**10, "sum": 2.5001e10, "sumSquares": 1.3e11}]},
    {"metricType": "mean", "variations": [{"n": 10**7, "sum": 1e3, "sumSquares": 1e5},
                                          {"n": 10**7, "sum": 5e5, "sumSquares": 1e8}]},
]


# ---------------------------------------------------------------- comparison


def compare(path, ours, theirs, tolerance, differences):
    if theirs is None or ours is None:
        if (theirs is None) != (ours is None):
            differences.append(f"{path}: vanectl {json.dumps(ours)}, gbstats {json.dumps(theirs)}")
        return
    if isinstance(theirs, dict):
        if not isinstance(ours, dict) or set(ours) != set(theirs):
            differences.append(f"{path}: vanectl keys {sorted(ours) if isinstance(ours, dict) else ours}, "
                               f"gbstats keys {sorted(theirs)}")
            return
        for key in theirs:
            compare(f"{path}.{key}", ours[key], theirs[key], tolerance, differences)
        return
    if isinstance(theirs, list):
        if not isinstance(ours, list) or len(ours) != len(theirs):
            differences.append(f"{path}: vanectl {json.dumps(ours)}, gbstats {json.dumps(theirs)}")
            return
        for i, (a, b) in enumerate(zip(ours, theirs)):
            compare(f"{path}[{i}]", a, b, tolerance, differences)
        return
    a, b = float(ours), float(theirs)
    if a == b:
        return
    if abs(a - b) > tolerance * max(abs(a), abs(b)):
        differences.append(f"{path}: vanectl {a!r}, gbstats {b!r} (relative {abs(a - b) / max(abs(a), abs(b)):.3g})")


def run_vanectl(vanectl, case):
    completed = subprocess.run(
        [vanectl, "experiment-stats"], input=json.dumps(case).encode(), capture_output=True, timeout=60
    )
    if completed.returncode != 0:
        raise RuntimeError(f"vanectl exited {completed.returncode}: {completed.stderr.decode().strip()}")
    return json.loads(completed.stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vanectl", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--tolerance", type=float, default=1e-6)
    parser.add_argument("--show-case", type=int, help="print case K (0-based, edge cases first) and exit")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    cases = EDGE_CASES + [draw_case(rng) for _ in range(args.cases)]
    if args.show_case is not None:
        print(json.dumps(cases[args.show_case]))
        return 0
    failed = 0
    counts = {"numbers": 0, "nulls": 0}
    for index, case in enumerate(cases):
        expected = reference(case)
        try:
            actual = run_vanectl(args.vanectl, case)
        except Exception as error:  # noqa: BLE001 - reported per case
            failed += 1
            print(f"case {index}: {error}\n  input: {json.dumps(case)}")
            continue
        differences = []
        compare("", actual, expected, args.tolerance, differences)
        count(expected, counts)
        if differences:
            failed += 1
            print(f"case {index}: {len(differences)} difference(s)\n  input: {json.dumps(case)}")
            for difference in differences[:12]:
                print(f"  {difference}")
    total = len(cases)
    print(f"{total} cases, {counts['numbers']} numbers and {counts['nulls']} nulls compared "
          f"at {args.tolerance:g} relative (seed {args.seed})")
    if failed:
        print(f"{failed} of {total} cases differ")
        return 1
    print("no differences")
    return 0


def count(value, counts):
    if value is None:
        counts["nulls"] += 1
    elif isinstance(value, dict):
        for item in value.values():
            count(item, counts)
    elif isinstance(value, list):
        for item in value:
            count(item, counts)
    else:
        counts["numbers"] += 1


if __name__ == "__main__":
    sys.exit(main())
