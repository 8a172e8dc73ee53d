#!/usr/bin/env bash
# events-ingest throughput and latency against `vanectl dev-kafka`, with the broker's own upper bound
# measured in the same run.
#
#   Benchmarks/events-ingest-bench.sh          # from the package root; `make bench` calls it
#
# Release build. One dev-kafka, one events-ingest; an environment record (SHA-256 of a bench SDK
# key) is put on vane.config with kcat, so no PostgreSQL or management-api is needed. Bodies: one
# batch of 100 events of ~200 bytes (about 20 KB), POSTed to /bulk by wrk with a fresh
# X-LaunchDarkly-Payload-ID per request.
#
#   1. saturation: 32 connections, each sending its next batch as soon as the previous is answered;
#   2. target rate: the same 32 connections paced to about 1,000 batches/s (100,000 events/s);
#   3. broker bound: kcat producing the very records events-ingest writes (same value bytes, same
#      key, so one partition), acks=all and idempotence as in the service.
#
# Environment: DURATION (seconds per wrk run, default 20), BROKERS (default 3), PACE_MS (pause per
# connection in run 2, default 20), KCAT_RECORDS (default 15000), SKIP_BUILD=1 (reuse the build).
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
BROKERS=${BROKERS:-3}
PACE_MS=${PACE_MS:-20}
KCAT_RECORDS=${KCAT_RECORDS:-15000}
CONNECTIONS=32
for tool in wrk kcat curl sha256sum; do
    command -v "$tool" >/dev/null || { echo "$tool not found (make bench installs wrk, kcat and curl)" >&2; exit 1; }
done

# The same manifest as the other benchmarks (VANE_BENCHMARKS=1), so release artefacts are shared.
if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    VANE_BENCHMARKS=1 swift build -c release --product events-ingest >&2
    VANE_BENCHMARKS=1 swift build -c release --product vanectl >&2
fi
BIN=$(VANE_BENCHMARKS=1 swift build -c release --show-bin-path)

WORK=$(mktemp -d)
DEV_PID=""
INGEST_PID=""
cleanup() {
    [[ -n "$INGEST_PID" ]] && { kill -TERM "$INGEST_PID" 2>/dev/null || true; wait "$INGEST_PID" 2>/dev/null || true; }
    [[ -n "$DEV_PID" ]] && { kill -TERM "$DEV_PID" 2>/dev/null || true; wait "$DEV_PID" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- broker and environment -------------------------------------------------------------------
"$BIN/vanectl" dev-kafka --brokers "$BROKERS" --topic vane.config:1 --topic vane.events.raw:4 \
    >"$WORK/dev-kafka.out" 2>"$WORK/dev-kafka.err" &
DEV_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/dev-kafka.out" ]] && break; sleep 0.1; done
BOOTSTRAP=$(head -n1 "$WORK/dev-kafka.out")
[[ -n "$BOOTSTRAP" ]] || { echo "dev-kafka did not start" >&2; cat "$WORK/dev-kafka.err" >&2; exit 1; }

ENV_ID=bench-environment
SDK_KEY=sdk-bench-00000000-0000-0000-0000-000000000000
SDK_HASH=$(printf '%s' "$SDK_KEY" | sha256sum | cut -d' ' -f1)
printf '%s|%s\n' "$ENV_ID/environment/production" \
    "{\"kind\":\"environment\",\"environmentId\":\"$ENV_ID\",\"key\":\"production\",\"version\":1,\"data\":{\"id\":\"$ENV_ID\",\
\"key\":\"production\",\"projectKey\":\"bench\",\"name\":\"Bench\",\"sdkKeys\":[{\"sha256\":\"$SDK_HASH\",\"expiresAt\":null}],\
\"mobileKeys\":[],\"clientSideId\":\"bench-client-side-id\",\"secureMode\":false}}" \
    | kcat -P -b "$BOOTSTRAP" -t vane.config -K '|' -X acks=all

# --- events-ingest ------------------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
VANE_KAFKA_BROKERS="$BOOTSTRAP" VANE_HTTP_HOST=127.0.0.1 VANE_HTTP_PORT="$PORT" VANE_LOG_LEVEL=warning \
    "$BIN/events-ingest" >"$WORK/ingest.log" 2>&1 &
INGEST_PID=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "events-ingest not ready" >&2; cat "$WORK/ingest.log" >&2; exit 1; }

BODY="$WORK/batch.json"
BODY_BYTES=$(python3 Benchmarks/EventsIngest/make-batch.py 100 200 "$BODY")
status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $SDK_KEY" -H 'Content-Type: application/json' \
    --data-binary @"$BODY" "http://127.0.0.1:$PORT/bulk")
[[ "$status" == 202 ]] || { echo "warm-up batch answered $status" >&2; cat "$WORK/ingest.log" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$INGEST_PID/stat"; }
accepted_batches() {
    curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^vane_events_batches_accepted_total\{source="server"\}/ {print $2}'
}

run_wrk() {  # label delay_ms
    local label=$1 delay=$2 before_ticks after_ticks before_count after_count out
    before_ticks=$(cpu_ticks)
    before_count=$(accepted_batches)
    out=$(BENCH_BODY="$BODY" BENCH_SDK_KEY="$SDK_KEY" BENCH_DELAY_MS="$delay" \
        wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s Benchmarks/EventsIngest/post-batches.lua \
        "http://127.0.0.1:$PORT/bulk" | grep '^RESULT')
    after_ticks=$(cpu_ticks)
    after_count=$(accepted_batches)
    local requests seconds non2xx socket p50 p99
    requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$out")
    seconds=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
    non2xx=$(sed -n 's/.*non2xx=\([0-9]*\).*/\1/p' <<<"$out")
    socket=$(sed -n 's/.*socket_errors=\([0-9]*\).*/\1/p' <<<"$out")
    p50=$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$out")
    p99=$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$out")
    local written=$(( ${after_count%.*} - ${before_count%.*} ))
    awk -v l="$label" -v n="$requests" -v s="$seconds" -v b="$BODY_BYTES" -v p50="$p50" -v p99="$p99" \
        -v cpu=$(( after_ticks - before_ticks )) -v hz="$(getconf CLK_TCK)" -v bad="$non2xx" -v sock="$socket" -v w="$written" 'BEGIN {
        printf "| %-34s | %9.0f | %10.0f | %6.1f | %7.2f | %7.2f | %5.0f%% | %s |\n", l, n/s, n*100/s, n*b/s/1e6, p50/1000, p99/1000,
            100*cpu/hz/s,
            (bad + sock == 0 && w >= n) ? "all 202, all on Kafka" : sprintf("non-2xx %d, socket errors %d, written %d", bad, sock, w)
    }'
    echo "$requests $seconds" >"$WORK/last-run"
}

echo "events-ingest benchmark: $CONNECTIONS connections, batches of 100 events (~200 B each, $BODY_BYTES bytes),"
echo "dev-kafka with $BROKERS broker(s), ${DURATION}s per run; load before: $(cut -d' ' -f1-3 /proc/loadavg);" \
    "$(nproc) cores shared by wrk, service and broker."
echo
echo "| run                                | batches/s |   events/s |   MB/s | p50 ms  | p99 ms  | CPU    | check |"
echo "|------------------------------------|-----------|------------|--------|---------|---------|--------|-------|"
run_wrk "events-ingest, saturation" 0
read -r SAT_REQUESTS SAT_SECONDS <"$WORK/last-run"
run_wrk "events-ingest, paced (${PACE_MS} ms/conn)" "$PACE_MS"

# --- broker upper bound: the same record bytes and key, straight from kcat -------------------------
python3 - "$BODY" "$ENV_ID" "$KCAT_RECORDS" "$WORK/records.txt" <<'PY'
import json, sys, time
body, env, count, out = open(sys.argv[1], "rb").read(), sys.argv[2], int(sys.argv[3]), sys.argv[4]
with open(out, "wb") as f:
    for i in range(count):
        envelope = ('{"environmentId":"%s","payloadId":"bench-kcat-%08d","receivedAt":%d,"source":"server",'
                    '"userAgent":"wrk-bench/1","events":'
                    % (env, i, int(time.time() * 1000))).encode()
        f.write(env.encode() + b"|" + envelope + body + b"}\n")
PY
start=$(date +%s.%N)
kcat -P -b "$BOOTSTRAP" -t vane.events.raw -K '|' -X acks=all -X enable.idempotence=true -X message.max.bytes=10000000 \
    -l "$WORK/records.txt"
end=$(date +%s.%N)
awk -v n="$KCAT_RECORDS" -v s="$(echo "$end - $start" | bc -l)" -v b="$BODY_BYTES" 'BEGIN {
    printf "| %-34s | %9.0f | %10.0f | %6.1f | %7s | %7s | %6s | %s |\n", "kcat -> dev-kafka (same records)", n/s, n*100/s, n*b/s/1e6,
        "-", "-", "-", "upper bound"
}'
awk -v n="$SAT_REQUESTS" -v s="$SAT_SECONDS" -v k="$KCAT_RECORDS" -v ks="$(echo "$end - $start" | bc -l)" 'BEGIN {
    printf "\nevents-ingest at saturation reaches %.0f%% of the broker bound measured in this run.\n", 100 * (n/s) / (k/ks)
}'
echo "CPU: events-ingest's own user+system time over the run, as a share of one core."

# Headline figure for `make bench`'s summary (Benchmarks/figures.py).
python3 Benchmarks/figures.py add --area events-ingest --figure "events/s at saturation (batches of 100)" \
    --value "$(echo "$SAT_REQUESTS * 100 / $SAT_SECONDS" | bc -l)" --unit "ev/s" \
    --baseline-name "kcat → dev-kafka, same records" --baseline "$(echo "$KCAT_RECORDS * 100 / ($end - $start)" | bc -l)"
