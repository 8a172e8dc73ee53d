#!/usr/bin/env bash
# Prints what matters of a failed `swift test` run at the end of the output, where CI logs that
# keep only the tail still show it: failed tests, tests that were running when the process died,
# and the crashed thread's frames from Swift's backtrace.
#
#   scripts/test-failure-summary.sh .build/test-output.log
set -uo pipefail
log=${1:?usage: test-failure-summary.sh LOG}
[[ -f $log ]] || exit 0

echo
echo "==================== test failure summary ($log) ===================="
echo "-- failed:"
grep -E '^✘ (Test|Suite) ' "$log" | cut -c1-300 | head -40
if grep -qE '^FAIL [A-Za-z0-9_]+: ' "$log"; then
    echo "-- browser scenarios that failed (Tests/Browser; screenshots in .build/ui-screenshots):"
    grep -E '^FAIL [A-Za-z0-9_]+: ' "$log" | cut -c1-400 | sort -u | head -10
fi
echo "-- started but never finished (running when the process died):"
grep -E '^◇ Test ".*" started\.$' "$log" | sed -E 's/^◇ Test "(.*)" started\.$/\1/' | sort >"$log.started"
grep -E '^[✔✘] Test ".*" (with [0-9]+ test cases? )?(passed|failed)' "$log" \
    | sed -E 's/^[✔✘] Test "(.*)" (with [0-9]+ test cases? )?(passed|failed).*$/\1/' | sort -u >"$log.ended"
comm -23 "$log.started" "$log.ended" | head -20
rm -f "$log.started" "$log.ended"
if grep -q "crashed:" "$log"; then
    echo "-- crash:"
    grep -E "Program crashed|Fatal error|Assertion|assert|\*\*\*" "$log" | cut -c1-300 | head -10
    # The crashed thread's frames: from "Thread N crashed:" to the first blank line.
    awk '/^Thread [0-9]+( ".*")? crashed:/ {on=1} on {print; n++} on && /^$/ && n>2 {exit} n>60 {exit}' "$log" | cut -c1-240
    # Every thread's frames in the project's own code (idle readers of brokers' output left out):
    # where each was, which for a hang is what waits.
    echo "-- project frames per thread:"
    awk '/^Thread [0-9]+/ {thread=$0; shown=0}
         / at \/.*\/(Tests|Services|Shared|Tools)\// && !/PipeEnd\.read|in static DevKafka\.start/ && shown<3 {
             if (shown==0) print thread; shown++; line=$0
             gsub(/0x[0-9a-f]+ /, "", line); gsub(/ in vanePackageTests.xctest/, "", line); print line; total++
         }
         total>=45 {exit}' "$log" | cut -c1-220
fi
echo "======================================================================"
