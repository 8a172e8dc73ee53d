#!/usr/bin/env bash
# Runs every test suite of the (already built) package, as `make test` does:
#   - the output is shown and kept in $VANE_TEST_LOG (.build/test-output.log);
#   - a run still going after $VANE_TEST_TIME_LIMIT seconds (1800) is a hang: the test runner gets
#     SIGABRT, so that Swift's backtracer prints every thread (where it hangs), then is killed;
#   - a failed run ends with scripts/test-failure-summary.sh, in the tail that CI logs keep.
# Children of the test runner (brokers, services, PostgreSQL) are killed by their watchdogs once
# the runner is gone (Tests/TestSupport/Subprocess.swift).
set -uo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
log=${VANE_TEST_LOG:-.build/test-output.log}
limit=${VANE_TEST_TIME_LIMIT:-1800}
mkdir -p "$(dirname "$log")"
: >"$log"

$swift test --skip-build --parallel --num-workers 2 >>"$log" 2>&1 &
test_pid=$!
tail -n +1 -f --pid="$test_pid" "$log" &
tail_pid=$!
(
    trap 'kill $sleeper 2>/dev/null; exit 0' TERM
    sleep "$limit" & sleeper=$!; wait $sleeper
    kill -0 "$test_pid" 2>/dev/null || exit 0
    runners=$(pgrep -P "$test_pid")
    echo "run-tests: still running after ${limit} s; SIGABRT to the test runner (${runners:-none}) for a backtrace of every thread" >>"$log"
    [[ -n $runners ]] && kill -ABRT $runners
    sleep 60 & sleeper=$!; wait $sleeper
    kill -KILL "$test_pid" $runners 2>/dev/null
) &
deadline_pid=$!

wait "$test_pid"
status=$?
kill -TERM "$deadline_pid" 2>/dev/null
wait "$tail_pid" 2>/dev/null
if ((status != 0)); then
    scripts/test-failure-summary.sh "$log"
fi
exit "$status"
