#!/usr/bin/env bash
# Experiment results: latency of GET …/experiments/{x}/results for one experiment with CONTEXTS (default
# 1,000,000) exposed contexts and 2 metrics, and freshness (an SDK event's arrival → its effect on the results).
#
#   Benchmarks/experiments-bench.sh     # from the package root; `make bench` calls it
#
# Release build; a private PostgreSQL (fsync off, as in the tests), `vanectl dev-kafka`, management-api and
# events-processor (default correlation delay, 120 s).
#
#   * latency: the correlation state of CONTEXTS contexts (each exposed once in the iteration, ~50/50 over 2
#     variations; ~15 % convert on `purchase`, ~20 % have `revenue` values) is written straight into
#     analytics.exposures/iteration_exposures/goals with generate_series, as events-processor keeps it (final rows); then REQUESTS
#     sequential GETs of the results, timed by the client (p50, p99, max);
#   * freshness: PROBES records, each one exposure and one `purchase` event of a new context, as events-ingest
#     writes them (receivedAt = now) to vane.events.raw with kcat; the time until the results of a second,
#     small experiment (another flag) count them. The events-ingest hop (HTTP → Kafka ack) is not included.
#
# Environment: CONTEXTS (1000000), REQUESTS (40), PROBES (5), SKIP_BUILD=1 (reuse the release build),
# BIN (a folder with the binaries, e.g. .build/debug; implies SKIP_BUILD).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/postgres.sh
CONTEXTS=${CONTEXTS:-1000000}
REQUESTS=${REQUESTS:-40}
PROBES=${PROBES:-5}
for tool in kcat curl python3; do
    command -v "$tool" >/dev/null || { echo "$tool not found (make bench installs it)" >&2; exit 1; }
done
if [[ -z "${BIN:-}" ]]; then
    if [[ "${SKIP_BUILD:-}" != 1 ]]; then
        for product in management-api events-processor vanectl; do VANE_BENCHMARKS=1 swift build -c release --product $product >&2; done
    fi
    BIN=$(VANE_BENCHMARKS=1 swift build -c release --show-bin-path)
fi

WORK=$(mktemp -d /tmp/vane-bench-experiments.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    pg_stop "$WORK/pg"
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PG_PORT=$(free_port)
pg_start "$WORK/pg" "$PG_PORT" -c fsync=off -c synchronous_commit=off -c full_page_writes=off
DATABASE_URL=$(pg_url "$PG_PORT" vane)
sql() { "$(pg_bin psql)" "$DATABASE_URL" -qAtc "$1"; }

"$BIN/vanectl" dev-kafka --brokers 1 --topic vane.config:6 --topic vane.events.raw:4 >"$WORK/kafka.out" 2>"$WORK/kafka.err" &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/kafka.out" ]] && break; sleep 0.1; done
BROKERS=$(head -1 "$WORK/kafka.out")
[[ -n "$BROKERS" ]] || { echo "dev-kafka did not start" >&2; cat "$WORK/kafka.err" >&2; exit 1; }

API_PORT=$(free_port)
ADMIN_TOKEN="bench-admin-$(date +%s)-$RANDOM"
VANE_DATABASE_URL="$DATABASE_URL" VANE_KAFKA_BROKERS="$BROKERS" VANE_ADMIN_TOKEN="$ADMIN_TOKEN" \
    VANE_HTTP_HOST=127.0.0.1 VANE_HTTP_PORT="$API_PORT" VANE_LOG_LEVEL=warning "$BIN/management-api" >"$WORK/api.log" 2>&1 &
PIDS+=($!)
PROC_PORT=$(free_port)
VANE_DATABASE_URL="$DATABASE_URL" VANE_KAFKA_BROKERS="$BROKERS" VANE_HTTP_HOST=127.0.0.1 VANE_HTTP_PORT="$PROC_PORT" \
    VANE_KAFKA_SESSION_TIMEOUT_SECONDS=6 VANE_LOG_LEVEL=info "$BIN/events-processor" >"$WORK/processor.log" 2>&1 &
PIDS+=($!)
BASE="http://127.0.0.1:$API_PORT"
for url in "$BASE/readyz" "http://127.0.0.1:$PROC_PORT/readyz"; do
    for _ in $(seq 600); do curl -sf "$url" >/dev/null && break; sleep 0.1; done
    curl -sf "$url" >/dev/null || { echo "$url not ready:" >&2; tail -20 "$WORK"/*.log >&2; exit 1; }
done
for _ in $(seq 300); do grep -q "partitions assigned" "$WORK/processor.log" && break; sleep 0.1; done

api() { curl -sf -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$BASE/api/v1$2" ${3:+-d "$3"}; }
json() { python3 -c "import json,sys; v=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
api POST /projects '{"key":"bench","name":"Bench"}' >/dev/null
ENV_ID=$(api GET /projects/bench | json '[e["id"] for e in v["environments"] if e["key"] == "production"][0]')
for flag in checkout fresh; do
    api POST /projects/bench/flags "{\"key\":\"$flag\",\"name\":\"$flag\",\"variations\":[{\"value\":\"a\"},{\"value\":\"b\"}]}" >/dev/null
    api POST /projects/bench/experiments "{\"key\":\"$flag\",\"name\":\"$flag\",\"flagKey\":\"$flag\",\"environmentKey\":\"production\",
        \"controlVariation\":0,
        \"metrics\":[{\"key\":\"purchase\",\"type\":\"proportion\"},{\"key\":\"revenue\",\"type\":\"mean\"}]}" >/dev/null
done
START=$(api POST /projects/bench/experiments/checkout/start | json 'v["start"]')
api POST /projects/bench/experiments/fresh/start >/dev/null
START_MS=$(python3 -c "import datetime,sys
print(int(datetime.datetime.fromisoformat(sys.argv[1].replace('Z','+00:00')).timestamp()*1000))" "$START")

# The correlation state of CONTEXTS exposed contexts, as events-processor keeps it.
t0=$(date +%s.%N)
sql "
INSERT INTO analytics.exposures (environment_id, context_kind, context_key, flag_key, received_hour, is_final, exposed_at, variation,
    due_at)
SELECT '$ENV_ID', 'user', 'user-' || i, 'checkout', date_trunc('hour', now()), true, $START_MS + i % 600000, hashint4(i) & 1, now()
FROM generate_series(1, $CONTEXTS) AS i;
INSERT INTO analytics.iteration_exposures (environment_id, flag_key, iteration_start, context_kind, context_key, exposed_at, variation)
SELECT '$ENV_ID', 'checkout', $START_MS, 'user', 'user-' || i, $START_MS + i % 600000, hashint4(i) & 1
FROM generate_series(1, $CONTEXTS) AS i;
INSERT INTO analytics.goals (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final, events,
    value_sum, value_sum_squares, due_at)
SELECT '$ENV_ID', 'user', 'user-' || i, 'purchase', $START_MS + i % 600000 + 1000, date_trunc('hour', now()), true, 1, 0, 0, now()
FROM generate_series(1, $CONTEXTS) AS i WHERE abs(hashint4(i * 31)) % 100 < 13 + 4 * (hashint4(i) & 1);
INSERT INTO analytics.goals (environment_id, context_kind, context_key, metric_key, occurred_at, received_hour, is_final, events,
    value_sum, value_sum_squares, due_at)
SELECT '$ENV_ID', 'user', 'user-' || i, 'revenue', $START_MS + i % 600000 + 2000, date_trunc('hour', now()), true, 1, v, v * v, now()
FROM (SELECT i, (abs(hashint4(i * 17)) % 20000) / 100.0 AS v FROM generate_series(1, $CONTEXTS) AS i) s
WHERE abs(hashint4(i * 13)) % 5 = 0;"
sql "VACUUM ANALYZE analytics.exposures"  # what autovacuum does on its own in a while
sql "VACUUM ANALYZE analytics.iteration_exposures"
sql "VACUUM ANALYZE analytics.goals"
LOAD_S=$(echo "$(date +%s.%N) - $t0" | bc -l)
ROWS=$(sql "SELECT (SELECT count(*) FROM analytics.exposures) || ' exposure rows, '
                   || (SELECT count(*) FROM analytics.goals) || ' goal rows'")

# Latency: sequential requests, timed by the client.
python3 - "$BASE/api/v1/projects/bench/experiments/checkout/results" "$ADMIN_TOKEN" "$REQUESTS" >"$WORK/latency.txt" <<'PY'
import json, sys, time, urllib.request
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
samples = []
for i in range(count + 2):
    t0 = time.perf_counter()
    body = json.load(urllib.request.urlopen(request, timeout=120))
    if i >= 2:  # two warm-up requests
        samples.append((time.perf_counter() - t0) * 1000)
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(round(q * (len(samples) - 1))))]
n = sum(v["n"] for v in body["metrics"][0]["variations"])
print("%.1f %.1f %.1f %d %s" % (pick(0.5), pick(0.99), samples[-1], n, body["metrics"][0]["srmPValue"]))
PY
read -r P50 P99 MAX EXPOSED SRM <"$WORK/latency.txt"
# Baseline: the results statement alone in psql (the same SQL, settings and transaction as management-api's).
cat >"$WORK/query.sql" <<SQL
BEGIN READ ONLY; SET LOCAL work_mem = '64MB'; SET LOCAL jit = off;
EXPLAIN (ANALYZE, TIMING OFF)
WITH exposed AS (
    SELECT context_kind, context_key, exposed_at, variation
    FROM analytics.iteration_exposures
    WHERE environment_id = '$ENV_ID' AND flag_key = 'checkout' AND iteration_start = $START_MS
      AND exposed_at < 9223372036854775807 AND variation >= 0),
valued AS (
    SELECT x.variation, g.metric_key, sum(g.value_sum) AS value
    FROM exposed x JOIN analytics.goals g
      ON g.environment_id = '$ENV_ID' AND g.context_kind = x.context_kind AND g.context_key = x.context_key
     AND g.metric_key = ANY('{purchase,revenue}') AND g.occurred_at >= x.exposed_at AND g.occurred_at < 9223372036854775807
    GROUP BY x.context_kind, x.context_key, x.variation, g.metric_key)
SELECT variation, NULL::text, count(*)::bigint, 0::float8, 0::float8 FROM exposed GROUP BY variation
UNION ALL
SELECT variation, metric_key, count(*)::bigint, sum(value)::float8, sum(value * value)::float8 FROM valued GROUP BY variation, metric_key;
COMMIT;
SQL
SQL_MS=()
for _ in 1 2 3 4 5; do
    SQL_MS+=("$("$(pg_bin psql)" "$DATABASE_URL" -qAt -f "$WORK/query.sql" | sed -n 's/^Execution Time: \([0-9.]*\) ms$/\1/p')")
done

# Freshness: new contexts exposed and converting through the topic, against the small experiment.
fresh_n() { api GET /projects/bench/experiments/fresh/results | json 'sum(x["sum"] for x in v["metrics"][0]["variations"])'; }
FRESH=()
for i in $(seq "$PROBES"); do
    before=$(fresh_n)
    python3 - "$ENV_ID" "probe-$i-$RANDOM" >"$WORK/probe.tsv" <<'PY'
import json, sys, time, uuid
environment, key = sys.argv[1], sys.argv[2]
at = int(time.time() * 1000)
context = {"kind": "user", "key": key}
events = [{"kind": "feature", "creationDate": at, "key": "fresh", "variation": 1, "value": "b", "default": "a", "context": context},
          {"kind": "custom", "creationDate": at + 1, "key": "purchase", "context": context}]
print(environment + "\t" + json.dumps({"environmentId": environment, "payloadId": str(uuid.uuid4()), "receivedAt": at,
                                        "source": "server", "userAgent": "PythonClient/9.18.2", "events": events}))
PY
    sent=$(date +%s.%N)
    kcat -P -b "$BROKERS" -t vane.events.raw -K $'\t' -X acks=all -l "$WORK/probe.tsv"
    for _ in $(seq 1200); do
        [[ $(fresh_n) != "$before" ]] && break
        sleep 0.05
    done
    FRESH+=("$(echo "$(date +%s.%N) - $sent" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
worst() { printf '%s\n' "$@" | sort -g | tail -1; }

echo "experiment results benchmark — load: $(cut -d' ' -f1-3 /proc/loadavg); binaries: $BIN"
echo
echo "state: $ROWS (written in $(printf '%.1f' "$LOAD_S") s); the experiment counts $EXPOSED exposed contexts, 2 metrics (SRM p = $SRM)"
echo
echo "| GET …/experiments/{x}/results | p50 ms | p99 ms | max ms | requests |"
echo "|---|---|---|---|---|"
echo "| $CONTEXTS contexts, 2 metrics, sequential | $P50 | $P99 | $MAX | $REQUESTS |"
echo
echo "baseline: the statement alone in PostgreSQL (EXPLAIN ANALYZE), median of 5: $(printf '%s\n' "${SQL_MS[@]}" | sort -g | sed -n 3p) ms"
echo
printf 'freshness (record received → counted in the results; correlation delay 120 s, not waited for),'
printf ' %d probes: median %.2f s, max %.2f s\n' \
    "$PROBES" "$(median "${FRESH[@]}")" "$(worst "${FRESH[@]}")"

# Headline figures for `make bench`'s summary (Benchmarks/figures.py).
python3 Benchmarks/figures.py add --area experiments --figure "GET results, $CONTEXTS contexts, p50" --value "$P50" --unit ms \
    --baseline-name "the statement alone (EXPLAIN ANALYZE)" --baseline "$(printf '%s\n' "${SQL_MS[@]}" | sort -g | sed -n 3p)"
python3 Benchmarks/figures.py add --area experiments --figure "freshness, event received → in the results (median)" \
    --value "$(median "${FRESH[@]}")" --unit s
