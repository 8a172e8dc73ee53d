#!/usr/bin/env bash
# The whole local stack in the foreground: `make run` calls this after building.
#
#   scripts/run-stack.sh            # Ctrl-C (or SIGTERM) stops everything
#
# Starts a private PostgreSQL (data kept in $VANE_DATA_DIR/pg, so flags survive a restart; as root,
# when the `postgres` user cannot enter the clone's folder, in /var/tmp/vane-pg-<hash>, linked
# from there: see scripts/postgres.sh), the
# in-memory development broker (`vanectl dev-kafka`), management-api, relay-streamer,
# events-ingest and events-processor; waits until each one is ready; creates the demo project once;
# prints how to connect; then waits. Because the broker keeps nothing, management-api republishes
# the whole state to it at every start.
#
# Environment (all optional):
#   VANE_BIN_DIR          built executables (default: the release build, `swift build -c release`)
#   VANE_DATA_DIR         PostgreSQL data, logs, the admin token (default .data)
#   VANE_PG_PORT          PostgreSQL port on 127.0.0.1 (default 5433)
#   VANE_API_PORT         management-api (default 8080)
#   VANE_RELAY_PORT       relay-streamer (default 8030)
#   VANE_EVENTS_PORT      events-ingest (default 8040)
#   VANE_PROCESSOR_PORT   events-processor health and metrics (default 8050)
#   VANE_HOST             the address services listen on (default 127.0.0.1)
#   VANE_ADMIN_TOKEN      the admin API token (default: generated once, kept in $VANE_DATA_DIR/admin-token)
#   VANE_CORRELATION_DELAY_SECONDS   how long events-processor waits for late goal events (default 30)
#   VANE_STACK_READY_FILE if set, the summary is also written there as JSON (for the end-to-end test)
#   VANE_STACK_PARENT_PID if set, the stack stops when that process is gone (a test runner that crashed)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
source scripts/postgres.sh

BIN=${VANE_BIN_DIR:-$(swift build -c release --show-bin-path)}
DATA=$(realpath -m "${VANE_DATA_DIR:-.data}")
PG_PORT=${VANE_PG_PORT:-5433}
API_PORT=${VANE_API_PORT:-8080}
RELAY_PORT=${VANE_RELAY_PORT:-8030}
EVENTS_PORT=${VANE_EVENTS_PORT:-8040}
PROCESSOR_PORT=${VANE_PROCESSOR_PORT:-8050}
HOST=${VANE_HOST:-127.0.0.1}
DELAY=${VANE_CORRELATION_DELAY_SECONDS:-30}
LOGS="$DATA/logs"

for program in management-api relay-streamer events-ingest events-processor vanectl; do
    [[ -x "$BIN/$program" ]] || { echo "run-stack: $BIN/$program is missing; build first (make run does)" >&2; exit 1; }
done
for port in "$API_PORT" "$RELAY_PORT" "$EVENTS_PORT" "$PROCESSOR_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "run-stack: port $port is in use (another make run?); set VANE_*_PORT to choose others" >&2
        exit 1
    fi
done
mkdir -p "$DATA" "$LOGS"
chmod 755 "$DATA"

if [[ -z "${VANE_ADMIN_TOKEN:-}" ]]; then
    if [[ ! -s "$DATA/admin-token" ]]; then
        (umask 077; echo "vane-admin-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$DATA/admin-token")
    fi
    VANE_ADMIN_TOKEN=$(cat "$DATA/admin-token")
fi

PIDS=()
NAMES=()
stopping=0
stop_all() {
    ((stopping)) && return
    stopping=1
    echo
    echo "stopping..."
    # Reverse start order: the services first (they finish requests and flush), then the broker.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null || true
        wait "${PIDS[$i]}" 2>/dev/null || true
    done
    pg_stop "$DATA/pg"
    echo "stopped (data kept in $DATA; make run starts again)"
}
trap 'stop_all; exit 0' INT TERM
trap 'stop_all' EXIT

start() {  # start NAME PORT [VAR=VALUE...] -- command...
    local name=$1 port=$2; shift 2
    local variables=()
    while [[ $1 != -- ]]; do variables+=("$1"); shift; done
    shift
    env VANE_HTTP_HOST="$HOST" VANE_HTTP_PORT="$port" VANE_LOG_LEVEL="${VANE_LOG_LEVEL:-info}" "${variables[@]}" \
        "$@" >>"$LOGS/$name.log" 2>&1 &
    PIDS+=($!)
    NAMES+=("$name")
}

wait_ready() {  # wait_ready NAME URL  (NAME as given to start)
    local name=$1 url=$2 pid="" i
    for i in "${!NAMES[@]}"; do [[ ${NAMES[$i]} == "$name" ]] && pid=${PIDS[$i]}; done
    for _ in $(seq 600); do
        if curl -sf -o /dev/null "$url"; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run-stack: $name exited; the end of $LOGS/$name.log:" >&2
            tail -20 "$LOGS/$name.log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "run-stack: $name did not become ready within 120 s; see $LOGS/$name.log" >&2
    exit 1
}

PG_HOME=$(pg_home "$DATA/pg")
echo "dashboard         http://$HOST:$API_PORT/ui/ (sign in with the admin token printed below)"
echo "PostgreSQL        $PG_HOME, port $PG_PORT"
pg_start "$DATA/pg" "$PG_PORT"
DATABASE_URL=$(pg_url "$PG_PORT" vane)

echo "dev-kafka         in memory"
"$BIN/vanectl" dev-kafka --brokers 1 --topic vane.config:6 --topic vane.events.raw:6 \
    >"$DATA/dev-kafka.bootstrap" 2>>"$LOGS/dev-kafka.log" &
PIDS+=($!)
NAMES+=(dev-kafka)
# Its first stdout line is the bootstrap list; a loaded machine may take several seconds to start it.
for _ in $(seq 600); do
    [[ -s "$DATA/dev-kafka.bootstrap" ]] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
done
BROKERS=$(head -1 "$DATA/dev-kafka.bootstrap")
[[ -n "$BROKERS" ]] || { echo "run-stack: dev-kafka did not start within 60 s; see $LOGS/dev-kafka.log" >&2; exit 1; }

echo "management-api    http://$HOST:$API_PORT"
start management-api "$API_PORT" VANE_DATABASE_URL="$DATABASE_URL" VANE_KAFKA_BROKERS="$BROKERS" \
    VANE_ADMIN_TOKEN="$VANE_ADMIN_TOKEN" -- "$BIN/management-api"
wait_ready management-api "http://127.0.0.1:$API_PORT/readyz"

echo "relay-streamer    http://$HOST:$RELAY_PORT"
start relay-streamer "$RELAY_PORT" VANE_KAFKA_BROKERS="$BROKERS" -- "$BIN/relay-streamer"
echo "events-ingest     http://$HOST:$EVENTS_PORT"
start events-ingest "$EVENTS_PORT" VANE_KAFKA_BROKERS="$BROKERS" -- "$BIN/events-ingest"
echo "events-processor  http://$HOST:$PROCESSOR_PORT (health and metrics)"
start events-processor "$PROCESSOR_PORT" VANE_KAFKA_BROKERS="$BROKERS" VANE_DATABASE_URL="$DATABASE_URL" \
    VANE_CORRELATION_DELAY_SECONDS="$DELAY" -- "$BIN/events-processor"
wait_ready relay-streamer "http://127.0.0.1:$RELAY_PORT/readyz"
wait_ready events-ingest "http://127.0.0.1:$EVENTS_PORT/readyz"
wait_ready events-processor "http://127.0.0.1:$PROCESSOR_PORT/readyz"

python3 scripts/demo.py --api "http://127.0.0.1:$API_PORT" --token "$VANE_ADMIN_TOKEN" \
    --relay "http://$HOST:$RELAY_PORT" --events "http://$HOST:$EVENTS_PORT" --processor "http://$HOST:$PROCESSOR_PORT" \
    --host "$HOST" --api-port "$API_PORT" --database "$DATABASE_URL" --logs "$LOGS" \
    ${VANE_STACK_READY_FILE:+--ready-file "$VANE_STACK_READY_FILE"}

# Wait for Ctrl-C; if a service dies, say so and stop the rest.
while true; do
    if [[ -n "${VANE_STACK_PARENT_PID:-}" ]] && ! kill -0 "$VANE_STACK_PARENT_PID" 2>/dev/null; then
        echo "run-stack: process $VANE_STACK_PARENT_PID is gone" >&2
        exit 1
    fi
    for i in "${!PIDS[@]}"; do
        if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then
            echo "run-stack: ${NAMES[$i]} exited; see $LOGS/${NAMES[$i]}.log" >&2
            exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
