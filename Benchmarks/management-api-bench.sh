#!/usr/bin/env bash
# management-api latency and throughput at 16 concurrent clients (wrk), release build, against a
# private PostgreSQL and `vanectl dev-kafka` (the outbox publisher runs during the measurement).
#
#   Benchmarks/management-api-bench.sh     # from the package root; `make bench` calls it
#
# Runs of DURATION seconds each, in one process lifetime, each after a 3 s warm-up:
#   1. baseline: GET /healthz (HTTP + JSON, no database), the yardstick for the ratios below;
#   2. GET /api/v1/projects/bench/flags/{f} (the flag with its targeting in both environments);
#   3. the kill switch: PATCH {"on": …} of /api/v1/projects/bench/flags/{f}/environments/production
#      (transaction: row locks, version +1, audit row, outbox row; the publisher sends it to Kafka);
#   2 and 3 saturated (each client sends its next request as soon as the answer arrives: the
#   throughput figure) and paced (each client waits PACE_MS between requests: the latency a
#   dashboard or CI client sees at a steady load).
# Target (issue 4): p99 ≤ 10 ms for 2 and 3 at 16 concurrent clients.
#
# Environment: DURATION (default 20), CONNECTIONS (default 16), FLAGS (default 64), PACE_MS
# (default 20), SKIP_BUILD=1 (reuse the release build).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/postgres.sh
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-16}
FLAGS=${FLAGS:-64}
PACE_MS=${PACE_MS:-20}
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "$tool not found (make bench installs it)" >&2; exit 1; }
done

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    VANE_BENCHMARKS=1 swift build -c release --product management-api >&2
    VANE_BENCHMARKS=1 swift build -c release --product vanectl >&2
fi
BIN=$(VANE_BENCHMARKS=1 swift build -c release --show-bin-path)

WORK=$(mktemp -d /tmp/vane-bench-api.XXXXXX)
chmod 755 "$WORK"
API_PID=""
KAFKA_PID=""
cleanup() {
    [[ -n "$API_PID" ]] && { kill -TERM "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; }
    [[ -n "$KAFKA_PID" ]] && { kill -TERM "$KAFKA_PID" 2>/dev/null || true; wait "$KAFKA_PID" 2>/dev/null || true; }
    pg_stop "$WORK/pg"
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port)
pg_start "$WORK/pg" "$PG_PORT"
DATABASE_URL=$(pg_url "$PG_PORT" vane)

"$BIN/vanectl" dev-kafka --brokers 1 --topic vane.config:6 >"$WORK/kafka.out" 2>"$WORK/kafka.err" &
KAFKA_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/kafka.out" ]] && break; sleep 0.1; done
BROKERS=$(head -1 "$WORK/kafka.out")

PORT=$(free_port)
ADMIN_TOKEN="bench-admin-$(date +%s)-$RANDOM"
VANE_DATABASE_URL="$DATABASE_URL" VANE_KAFKA_BROKERS="$BROKERS" VANE_ADMIN_TOKEN="$ADMIN_TOKEN" \
    VANE_HTTP_HOST=127.0.0.1 VANE_HTTP_PORT="$PORT" VANE_LOG_LEVEL=warning \
    "$BIN/management-api" >"$WORK/api.log" 2>&1 &
API_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 300); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/readyz" >/dev/null || { echo "management-api did not start:" >&2; cat "$WORK/api.log" >&2; exit 1; }

api() { curl -sf -X "$1" -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' "$BASE/api/v1$2" ${3:+-d "$3"}; }
api POST /projects '{"key":"bench","name":"Bench"}' >/dev/null
for i in $(seq 0 $((FLAGS - 1))); do
    api POST /projects/bench/flags \
        "{\"key\":\"bench-$i\",\"name\":\"Bench $i\",\"variations\":[{\"value\":true},{\"value\":false}],\"tags\":[\"bench\"]}" >/dev/null
    api PUT "/projects/bench/flags/bench-$i/environments/production" \
        '{"on":true,"targets":[{"values":["alice","bob"],"variation":0}],'\
'"rules":[{"clauses":[{"contextKind":"user","attribute":"email","op":"endsWith","values":["@example.com"]}],"variation":0}],'\
'"fallthrough":{"rollout":{"variations":[{"variation":0,"weight":25000},{"variation":1,"weight":75000}]}},"offVariation":1}' >/dev/null
done
WRITER_TOKEN=$(api POST /tokens '{"name":"bench-writer","role":"writer"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

run() {  # run NAME MODE [DELAY_MS]
    export BENCH_MODE=$2 BENCH_TOKEN="$WRITER_TOKEN" BENCH_FLAGS="$FLAGS" BENCH_DELAY_MS=${3:-0}
    wrk -t 1 -c 2 -d 3 -s Benchmarks/ManagementAPI/requests.lua "$BASE" >/dev/null  # warm-up
    wrk -t 2 -c "$CONNECTIONS" -d "$DURATION" --latency -s Benchmarks/ManagementAPI/requests.lua "$BASE" >"$WORK/$1.txt"
}
run health health
run get get
run patch patch
run get-paced get "$PACE_MS"
run patch-paced patch "$PACE_MS"

python3 - "$WORK" "$CONNECTIONS" "$DURATION" "$PACE_MS" <<'PY'
import re, sys
work, connections, duration, pace = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

def ms(text):
    value, unit = re.match(r'([\d.]+)(us|ms|s)', text).groups()
    return float(value) * {'us': 0.001, 'ms': 1.0, 's': 1000.0}[unit]

def parse(name):
    text = open('%s/%s.txt' % (work, name)).read()
    percentiles = dict(re.findall(r'^\s+(50|75|90|99)%\s+(\S+)', text, re.M))
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', text).group(1))
    errors = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
    socket_errors = re.search(r'Socket errors: (.*)', text)
    return {'p50': ms(percentiles['50']), 'p99': ms(percentiles['99']), 'rps': rps,
            'errors': int(errors.group(1)) if errors else 0, 'socket': socket_errors.group(1) if socket_errors else ''}

names = ('health', 'get', 'patch', 'get-paced', 'patch-paced')
runs = {name: parse(name) for name in names}
base = runs['health']
print('management-api, %s connections, %s s per run (wrk; release build; dev-kafka publishing meanwhile)' % (connections, duration))
print('%-36s %9s %9s %11s %10s %8s' % ('request', 'p50 ms', 'p99 ms', 'requests/s', 'vs health', 'errors'))
labels = {'health': 'GET /healthz (baseline)', 'get': 'GET flag, saturated', 'patch': 'PATCH kill switch, saturated',
          'get-paced': 'GET flag, paced %s ms' % pace, 'patch-paced': 'PATCH kill switch, paced %s ms' % pace}
for name, r in runs.items():
    ratio = '%.2fx thr' % (r['rps'] / base['rps'])
    print('%-36s %9.2f %9.2f %11.0f %10s %8d %s' % (labels[name], r['p50'], r['p99'], r['rps'], ratio, r['errors'], r['socket']))
sys.path.insert(0, 'Benchmarks')
import figures
for name in ('get', 'patch', 'get-paced', 'patch-paced'):
    verdict = 'meets' if runs[name]['p99'] <= 10 else 'MISSES'
    print('%s p99 %.2f ms %s the 10 ms target' % (labels[name], runs[name]['p99'], verdict))
    figures.add('management-api', '%s, p99' % labels[name], runs[name]['p99'], 'ms',
                'GET /healthz p99', base['p99'], '<=10')
PY
