"""Runs the scenarios of the segments, experiments, releases and evaluate pages (Tests/Browser/scenarios/features.py)
with the core's runner and harness: same options, output and checks as run_dashboard_tests.py.

  VANE_DATABASE_URL=postgres://… python Tests/Browser/run_feature_tests.py --base-url URL --admin-token TOKEN [--only NAME ...]
"""
import importlib
import os
import pkgutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import run_dashboard_tests  # noqa: E402
import scenarios  # noqa: E402

if __name__ == "__main__":
    # Import every scenario module first (the core's register themselves), then run only the feature scenarios.
    for module in sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__)):
        importlib.import_module(f"scenarios.{module}")
    from scenarios.features import FEATURE_SCENARIOS  # noqa: E402
    harness.SCENARIOS[:] = FEATURE_SCENARIOS
    sys.exit(run_dashboard_tests.main())
