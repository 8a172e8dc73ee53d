#!/usr/bin/env bash
# Producer throughput: KafkaKit vs Debian's kcat, same messages, same dev broker, same run.
#
#   Benchmarks/kafka-throughput.sh            # from the package root; `make bench` can call it
#
# Builds release, starts `vanectl dev-kafka`, writes one file of N messages per size (one message a
# line), then for each size alternates `kcat -P` and KafkaKit (batch API) ROUNDS times, each into a
# fresh topic, with acks=all and idempotence on both sides. Reports the median of whole-process
# wall times (start-up, connect and final flush included for both) and the ratio KafkaKit/kcat.
#
# Afterwards it prints two polling-strategy probes (skip with SKIP_PROBES=1).
#
# Environment: ROUNDS (default 5), COUNT_200 (default 1000000), COUNT_2K (default 200000),
# BROKERS (default 3), SKIP_BUILD=1 to reuse an existing release build.
set -euo pipefail

cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
COUNT_200=${COUNT_200:-1000000}
COUNT_2K=${COUNT_2K:-200000}
BROKERS=${BROKERS:-3}
command -v kcat >/dev/null || { echo "kcat not found (apt-get install kcat)" >&2; exit 1; }

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    VANE_BENCHMARKS=1 swift build -c release --product vanectl >&2
    VANE_BENCHMARKS=1 swift build -c release --product KafkaThroughput >&2
fi
BIN=$(VANE_BENCHMARKS=1 swift build -c release --show-bin-path)

WORK=$(mktemp -d)
DEV_PID=""
cleanup() {
    stop_broker
    rm -rf "$WORK"
}
trap cleanup EXIT

start_broker() {  # a fresh broker per message size, so earlier runs' data does not pile up
    stop_broker
    # Remove the old output first: the background child truncates it only when it starts, and the
    # wait loop below must not read the previous broker's line.
    rm -f "$WORK/dev-kafka.out"
    "$BIN/vanectl" dev-kafka --brokers "$BROKERS" >"$WORK/dev-kafka.out" 2>"$WORK/dev-kafka.err" &
    DEV_PID=$!
    for _ in $(seq 100); do [[ -s "$WORK/dev-kafka.out" ]] && break; sleep 0.1; done
    BOOTSTRAP=$(head -n1 "$WORK/dev-kafka.out")
    [[ -n "$BOOTSTRAP" ]] || { echo "dev-kafka did not start" >&2; cat "$WORK/dev-kafka.err" >&2; exit 1; }
}
stop_broker() {
    if [[ -n "$DEV_PID" ]]; then kill -TERM "$DEV_PID" 2>/dev/null || true; wait "$DEV_PID" 2>/dev/null || true; fi
    DEV_PID=""
}

make_file() {  # size count path: `count` lines of `size` printable bytes, each line distinct
    python3 - "$1" "$2" "$3" <<'PY'
import sys, random, string
size, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = random.Random(42)
alphabet = (string.ascii_letters + string.digits).encode()
block = bytes(rng.choice(alphabet) for _ in range(size + 4096))
with open(path, "wb") as f:
    for i in range(count):
        prefix = b"%08d-" % i
        start = (i * 7919) % 4096
        f.write(prefix + block[start:start + size - len(prefix)] + b"\n")
PY
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_size() {  # label size count
    local label=$1 size=$2 count=$3 file="$WORK/msgs-$2.txt"
    make_file "$size" "$count" "$file"
    start_broker
    local kcat_times=() kit_times=() kit_internal=()
    for round in $(seq "$ROUNDS"); do
        local t0 t1 topic
        topic="bench-kcat-$size-$round"
        t0=$(now)
        kcat -P -b "$BOOTSTRAP" -t "$topic" -X acks=all -X enable.idempotence=true -l "$file"
        t1=$(now)
        kcat_times+=("$(echo "$t1 - $t0" | bc -l)")

        topic="bench-kit-$size-$round"
        t0=$(now)
        local out
        out=$("$BIN/KafkaThroughput" produce "$BOOTSTRAP" "$topic" "$file")
        t1=$(now)
        kit_times+=("$(echo "$t1 - $t0" | bc -l)")
        kit_internal+=("$(sed -n 's/.*seconds=\([0-9.e-]*\).*/\1/p' <<<"$out" | head -n1)")
        grep -q "failures=0" <<<"$out" || { echo "KafkaKit reported failures: $out" >&2; exit 1; }
    done
    local kcat_s kit_s kit_in bytes
    kcat_s=$(printf '%s\n' "${kcat_times[@]}" | median)
    kit_s=$(printf '%s\n' "${kit_times[@]}" | median)
    kit_in=$(printf '%s\n' "${kit_internal[@]}" | median)
    bytes=$((size * count))
    awk -v l="$label" -v n="$count" -v b="$bytes" -v k="$kcat_s" -v s="$kit_s" -v i="$kit_in" 'BEGIN {
        printf "| %-10s | %8d | %-6s | %10.0f | %8.1f | %7.2f |\n", l, n, "kcat", n/k, b/k/1e6, k
        printf "| %-10s | %8d | %-6s | %10.0f | %8.1f | %7.2f |\n", l, n, "Kit", n/s, b/s/1e6, s
        printf "| %-10s | %8s | %-6s | %10.0f | %8.1f | %7.2f |\n", l, "", "Kit*", n/i, b/i/1e6, i
        printf "| %-10s | %8s | ratio Kit/kcat (whole process): %.0f%%%s|\n", l, "", 100*k/s, "                "
    }'
    python3 Benchmarks/figures.py add --area kafka --figure "KafkaKit produce, $label messages (whole process)" \
        --value "$(echo "$count / $kit_s" | bc -l)" --unit "msg/s" \
        --baseline-name "kcat, same messages" --baseline "$(echo "$count / $kcat_s" | bc -l)"
    rm -f "$file"
}

echo "brokers: $BROKERS (vanectl dev-kafka, one fresh broker process per size); rounds: $ROUNDS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| size       | messages | tool   |    msgs/s |     MB/s | seconds |"
echo "|------------|----------|--------|-----------|----------|---------|"
run_size "200 B" 200 "$COUNT_200"
run_size "2 KiB" 2048 "$COUNT_2K"
echo
echo "kcat and Kit: whole-process wall time (start, connect, produce, final flush), median of $ROUNDS."
echo "Kit*: KafkaKit's own timer inside the process, from creating the producer to the last acknowledgement."

if [[ "${SKIP_PROBES:-}" != 1 ]]; then
    # Polling-strategy probes: delivery-report latency of sequential single sends (linger.ms=0),
    # and consumer throughput by messages fetched per trip to the polling thread.
    start_broker
    echo
    echo "single-send round trip (linger.ms=0, 2000 sequential sends): $("$BIN/KafkaThroughput" latency "$BOOTSTRAP" latency 2000)"
    make_file 200 200000 "$WORK/consume.txt"
    "$BIN/KafkaThroughput" produce "$BOOTSTRAP" consume "$WORK/consume.txt" >/dev/null
    for batch in 1 10 100 500; do
        echo "consumer, pollBatchSize=$batch: $("$BIN/KafkaThroughput" consume "$BOOTSTRAP" consume "$batch")"
    done
fi
