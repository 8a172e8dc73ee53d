"""Runs every dashboard browser scenario (Tests/Browser/scenarios/*.py) against a running management-api.

  python Tests/Browser/run_dashboard_tests.py --base-url http://127.0.0.1:8080 --admin-token TOKEN
      [--screenshots .build/ui-screenshots] [--only NAME ...]

Each scenario gets a fresh browser; after it, SEVERE console entries fail it. Exit status 0 when all pass.
Prints one line per scenario, and a JSON line `RESULTS {...}` with timings and measurements.
"""
import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import scenarios  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--admin-token", required=True)
    parser.add_argument("--screenshots", default=".build/ui-screenshots")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    for module in sorted(m.name for m in pkgutil.iter_modules(scenarios.__path__)):
        importlib.import_module(f"scenarios.{module}")
    selected = [s for s in harness.SCENARIOS if not args.only or s.__name__ in args.only]
    results = {"scenarios": {}, "measurements": {}}
    failed = 0
    for fn in selected:
        started = time.monotonic()
        session = None
        try:
            session = harness.Session(args.base_url, args.admin_token, args.screenshots)
            session.measurements = results["measurements"]
            fn(session)
            severe = session.severe()
            if severe:
                raise harness.Failure("severe console entries: " + json.dumps(severe)[:2000])
            session.assert_not_pwned()
            outcome = "passed"
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            outcome = "failed"
            print(f"FAIL {fn.__name__}: {e}", flush=True)
            traceback.print_exc()
            if session:
                try:
                    session.screenshot(f"FAILED-{fn.__name__}")
                    print(f"  url: {session.driver.current_url}", flush=True)
                    print("  page text: " + session.text()[:1500].replace("\n", " | "), flush=True)
                    print("  console: " + json.dumps(session.console[-10:])[:2000], flush=True)
                except Exception:  # noqa: BLE001
                    pass
        finally:
            if session:
                session.quit()
        seconds = round(time.monotonic() - started, 2)
        results["scenarios"][fn.__name__] = {"outcome": outcome, "seconds": seconds}
        print(f"{outcome.upper():6} {fn.__name__} ({seconds} s)", flush=True)
    print("RESULTS " + json.dumps(results), flush=True)
    print(f"{len(selected) - failed} of {len(selected)} scenarios passed", flush=True)
    return 1 if failed or not selected else 0


if __name__ == "__main__":
    sys.exit(main())
