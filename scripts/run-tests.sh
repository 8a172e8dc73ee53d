#!/usr/bin/env bash
# Runs every test suite of the (already built) package, as `make test` does:
#   - the output is shown and kept in $VANE_TEST_LOG (.build/test-output.log);
#   - a run still going after $VANE_TEST_TIME_LIMIT seconds (1800) is a hang: the test runner gets
#     SIGABRT, so that Swift's backtracer prints every thread (where it hangs), then is killed;
#   - a failed run ends with scripts/test-failure-summary.sh, in the tail that CI logs keep.
#   - three passes: first every suite but those that promise a latency (a kill switch within 500 ms,
#     a scheduled change within 1 s, a page updated within 2 s, Chromium itself), then those, so that
#     they do not share two cores with the CPU-bound suites (differential corpora, statistics). Pass 2
#     takes the release suites that run services (ReleaseRelay, ReleaseRollout, ReleaseGuard), not
#     ReleaseLogicTests (pure logic, CPU-bound). Pass 3 runs alone, one test at a time, the tightest
#     promise: the relay's 200 ms kill switch (EndToEndTests' `scenario`, not its corpus and
#     schemathesis tests); next to pass 2's three Chromiums it once took 350 ms. The passes use the
#     same patterns (--skip, then --filter), so each test runs exactly once;
# Children of the test runner (brokers, services, PostgreSQL) are killed by their watchdogs once
# the runner is gone (Tests/TestSupport/Subprocess.swift).
set -uo pipefail
cd "$(dirname "$0")/.."
swift=${SWIFT:-swift}
log=${VANE_TEST_LOG:-.build/test-output.log}
limit=${VANE_TEST_TIME_LIMIT:-1800}
latency='BrowserTests\.|VaneSDKTests\.|\.Release(Relay|Rollout|Guard)Tests/|\.ScheduledChange[A-Za-z]*Tests/|\.StreamingTests/'
alone='RelayStreamerTests\.EndToEndTests/scenario\('
mkdir -p "$(dirname "$log")"
: >"$log"

{
    echo "run-tests: pass 1 of 3, every suite but the latency-bound ones"
    $swift test --skip-build --parallel --skip "$latency|$alone"
    first=$?
    echo "run-tests: pass 2 of 3, the latency-bound suites ($latency)"
    $swift test --skip-build --parallel --filter "$latency"
    second=$?
    echo "run-tests: pass 3 of 3, alone and one at a time: $alone"
    $swift test --skip-build --no-parallel --filter "$alone"
    third=$?
    ((first == 0 && second == 0 && third == 0))
} >>"$log" 2>&1 &
test_pid=$!
tail -n +1 -f --pid="$test_pid" "$log" &
tail_pid=$!
(
    trap 'kill $sleeper 2>/dev/null; exit 0' TERM
    sleep "$limit" & sleeper=$!; wait $sleeper
    kill -0 "$test_pid" 2>/dev/null || exit 0
    # The pass's `swift test` is a child of the subshell; the test runner is its child.
    drivers=$(pgrep -P "$test_pid")
    runners=$(for driver in $drivers; do pgrep -P "$driver"; done)
    echo "run-tests: still running after ${limit} s; SIGABRT to the test runner (${runners:-none}) for a backtrace of every thread" >>"$log"
    [[ -n $runners ]] && kill -ABRT $runners
    sleep 60 & sleeper=$!; wait $sleeper
    kill -KILL "$test_pid" $drivers $runners 2>/dev/null
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
