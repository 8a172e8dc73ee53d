#!/usr/bin/env bash
# events-processor end to end: events/s from the topic into the analytics tables, and freshness.
#
#   Benchmarks/events-processor-bench.sh          # from the package root; `make bench` calls it
#
# Release build; a private PostgreSQL (same settings as the tests: fsync off) and `vanectl dev-kafka`
# (1 broker, 16 partitions). RECORDS records of EVENTS_PER_RECORD server-SDK events each (see
# events_processor_bench.py for the mix) are produced with kcat before the processor starts, so the
# run measures the processor alone:
#
#   * baseline: `kcat -C` reading the same records to /dev/null (the broker's read speed), same run;
#   * events-processor, correlation delay 0: from its first commit until every record is committed
#     and every exposure and goal is correlated (nothing pending); events/s and the ratio to kcat.
#
# Freshness: a processor with VANE_CORRELATION_DELAY_SECONDS=$DELAY is caught up; then PROBES
# single records (one exposure, one goal, received "now", as events-ingest stamps them) are
# produced, and the time until each is visible in analytics.experiment_exposures is measured. The
# events-ingest hop (HTTP → Kafka ack) is not included: ingest stamps receivedAt when it accepts.
#
# The development broker keeps at most 5 MB per partition (librdkafka's mock cluster drops older
# records, like retention), so the default load (~10 KiB records over 64 environments and 16
# partitions) stays well below that; the run fails if the tables do not add up.
#
# Environment: RECORDS (default 4000), EVENTS_PER_RECORD (50), ENVIRONMENTS (64), MIX (experiment:
# 40% feature and 40% custom events; typical: 10% and 10%, the rest index and identify), DELAY (10),
# PROBES (3; 0 skips the freshness part), SKIP_BUILD=1 to reuse the release build, BIN (a folder with
# events-processor and vanectl, e.g. an older build to compare with; implies SKIP_BUILD), PROFILE=1
# (CPU seconds of the processor and of PostgreSQL during the throughput run, and the statements that
# took the most time there, from pg_stat_statements), PG_SERVER_OPTIONS (more `-c name=value` for PostgreSQL, e.g.
# auto_explain settings with PROFILE=1; the server log is printed at the end).
set -euo pipefail

cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-4000}
EVENTS_PER_RECORD=${EVENTS_PER_RECORD:-50}
ENVIRONMENTS=${ENVIRONMENTS:-64}
DELAY=${DELAY:-10}
PROBES=${PROBES:-3}
MIX=${MIX:-experiment}
command -v kcat >/dev/null || { echo "kcat not found (apt-get install kcat)" >&2; exit 1; }

if [[ -z "${BIN:-}" ]]; then
    if [[ "${SKIP_BUILD:-}" != 1 ]]; then
        swift build -c release --product events-processor >&2
        swift build -c release --product vanectl >&2
    fi
    BIN=$(swift build -c release --show-bin-path)
fi
PROFILE=${PROFILE:-0}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)

WORK=$(mktemp -d)
chmod 755 "$WORK"  # the postgres user must reach its data folder
DEV_PID=""
PROC_PID=""
cleanup() {
    [[ -n "$PROC_PID" ]] && kill -TERM "$PROC_PID" 2>/dev/null && wait "$PROC_PID" 2>/dev/null || true
    [[ -n "$DEV_PID" ]] && kill -TERM "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null || true
    as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# PostgreSQL
mkdir -p "$WORK/pg"
[[ $(id -u) == 0 ]] && chown postgres:postgres "$WORK/pg"
PGPORT=$(free_port)
PGOPTIONS_EXTRA=${PG_SERVER_OPTIONS:-}
[[ "$PROFILE" == 1 ]] &&
    PGOPTIONS_EXTRA="-c shared_preload_libraries=pg_stat_statements,auto_explain -c pg_stat_statements.track=all $PGOPTIONS_EXTRA"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/data/server.log" -w start \
    -o "-p $PGPORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        $PGOPTIONS_EXTRA" >/dev/null
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
psql -qAtc "CREATE DATABASE bench" >/dev/null
sql() { psql -d bench -qAtc "$1"; }
[[ "$PROFILE" == 1 ]] && sql "CREATE EXTENSION pg_stat_statements" >/dev/null
# CPU seconds of a process (and, with 1 as the second argument, of its children: live ones and those already reaped).
cpu_seconds() {
    local ticks pids
    ticks=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat")
    if [[ "${2:-0}" == 1 ]]; then
        pids=$(pgrep -P "$1" || true)
        for p in $pids; do ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
    fi
    echo "$ticks / $(getconf CLK_TCK)" | bc -l
}
postmaster() { head -n1 "$WORK/pg/data/postmaster.pid"; }

# Kafka
"$BIN/vanectl" dev-kafka --brokers 1 --topic vane.events.raw:16 >"$WORK/dev-kafka.out" 2>"$WORK/dev-kafka.err" &
DEV_PID=$!
for _ in $(seq 100); do [[ -s "$WORK/dev-kafka.out" ]] && break; sleep 0.1; done
BOOTSTRAP=$(head -n1 "$WORK/dev-kafka.out")
[[ -n "$BOOTSTRAP" ]] || { echo "dev-kafka did not start" >&2; cat "$WORK/dev-kafka.err" >&2; exit 1; }

EVENTS=$((RECORDS * EVENTS_PER_RECORD))
python3 Benchmarks/events_processor_bench.py records "$WORK/records.tsv" "$RECORDS" "$EVENTS_PER_RECORD" "$ENVIRONMENTS" "$MIX"
BYTES=$(stat -c %s "$WORK/records.tsv")
EXPECTED_EXPOSED=$(python3 Benchmarks/events_processor_bench.py expect "$WORK/records.tsv")

start_processor() {  # delay log
    PROC_PORT=$(free_port)
    VANE_DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/bench" VANE_KAFKA_BROKERS="$BOOTSTRAP" \
    VANE_HTTP_HOST=127.0.0.1 VANE_HTTP_PORT="$PROC_PORT" VANE_CORRELATION_DELAY_SECONDS="$1" \
    VANE_KAFKA_SESSION_TIMEOUT_SECONDS=6 VANE_LOG_LEVEL=info \
        "$BIN/events-processor" >"$2" 2>&1 &
    PROC_PID=$!
    # Wait until it has joined the group and been assigned the partitions.
    for _ in $(seq 300); do grep -q "partitions assigned" "$2" && break; sleep 0.1; done
    sleep 0.5
}
stop_processor() { kill -TERM "$PROC_PID"; wait "$PROC_PID" || true; PROC_PID=""; }
# The runs' polls go through one long-lived session. A psql process and a new backend per poll, ten
# times a second, took about a tenth of the two cores from the processor being measured (and counted as
# PostgreSQL's CPU). `poll` prints the query's last line; an error prints nothing.
coproc POLLER { psql -d bench -qAtX 2>/dev/null; }
poll() {
    printf '%s;\n\\echo __poll_end__\n' "$1" >&"${POLLER[1]}"
    local line result=""
    while IFS= read -r line <&"${POLLER[0]}"; do
        [[ "$line" == __poll_end__ ]] && break
        result=$line
    done
    echo "$result"
}
committed() { local n; n=$(poll "SELECT coalesce(sum(next_offset), 0) FROM analytics.consumer_offsets"); echo "${n:-0}"; }
# 0 when no row is pending: in their own tables since analytics migration 4 (whether any is left, not a count, which
# scanned the tables at every poll), flagged in exposures/goals before (BIN= may be older).
pending() {
    if [[ $(poll "SELECT to_regclass('analytics.pending_exposures') IS NOT NULL") == t ]]; then
        poll "SELECT CASE WHEN EXISTS (SELECT FROM analytics.pending_exposures) OR EXISTS (SELECT FROM analytics.pending_goals)
              THEN 1 ELSE 0 END"
    else
        poll "SELECT (SELECT count(*) FROM analytics.exposures WHERE NOT is_final)
             + (SELECT count(*) FROM analytics.goals WHERE NOT is_final)"
    fi
}
metric() { curl -s "http://127.0.0.1:$PROC_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# Throughput: a caught-up processor (delay 0, so correlation runs while records arrive); the
# records are produced as fast as kcat can, and the clock stops when every record is committed
# and every exposure and goal correlated.
start_processor 0 "$WORK/processor-1.log"
PG_CPU0=$(cpu_seconds "$(postmaster)" 1)
PROC_CPU0=$(cpu_seconds "$PROC_PID")
[[ "$PROFILE" == 1 ]] && sql "SELECT pg_stat_statements_reset()" >/dev/null
t0=$(now)
kcat -P -b "$BOOTSTRAP" -t vane.events.raw -K $'\t' -X acks=all -X enable.idempotence=true -l "$WORK/records.tsv"
tp=$(now)
while [[ $(committed) -lt $RECORDS ]]; do
    kill -0 "$PROC_PID" 2>/dev/null || { cat "$WORK/processor-1.log" >&2; exit 1; }
    sleep 0.05
done
tc=$(now)
while [[ $(pending) != 0 ]]; do sleep 0.05; done
t1=$(now)
PG_CPU=$(echo "$(cpu_seconds "$(postmaster)" 1) - $PG_CPU0" | bc -l)
PROC_CPU=$(echo "$(cpu_seconds "$PROC_PID") - $PROC_CPU0" | bc -l)
if [[ "$PROFILE" == 1 ]]; then
    STATEMENTS=$(psql -d bench -qAt -F ' | ' -c "SELECT round(total_exec_time::numeric / 1000, 2), calls, rows,
        left(regexp_replace(query, '\s+', ' ', 'g'), 110) FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12")
fi
PRODUCE_S=$(echo "$tp - $t0" | bc -l)
COMMIT_S=$(echo "$tc - $t0" | bc -l)
PROC_S=$(echo "$t1 - $t0" | bc -l)
CHUNK_BUSY=$(metric vane_processor_chunk_duration_seconds_sum)
FINALIZE_BUSY=$(metric vane_processor_finalize_duration_seconds_sum)
FINALIZED=$(metric vane_processor_finalized_contexts_total)
PROBED=$(metric vane_processor_finalization_probed_contexts_total)  # empty for builds before the filter
stop_processor

# Baseline: read every record back with kcat.
t0=$(now)
kcat -C -b "$BOOTSTRAP" -t vane.events.raw -e -q -o beginning >/dev/null
t1=$(now)
KCAT_S=$(echo "$t1 - $t0" | bc -l)
ROWS=$(sql "SELECT (SELECT count(*) FROM analytics.exposures) || ' exposure rows, ' || (SELECT count(*) FROM analytics.goals) \
|| ' goal rows, ' || (SELECT sum(exposed_contexts) FROM analytics.experiment_exposures) || ' exposed contexts'")

# Freshness with the correlation delay.
FRESH=()
EVAL_FRESH=()
if (( PROBES > 0 )); then
start_processor "$DELAY" "$WORK/processor-2.log"
sleep 8  # join the group
for i in $(seq "$PROBES"); do
    flag="fresh-$i-$RANDOM"
    python3 Benchmarks/events_processor_bench.py marker "$flag" >"$WORK/marker.tsv"
    sent=$(now)
    kcat -P -b "$BOOTSTRAP" -t vane.events.raw -K $'\t' -X acks=all -l "$WORK/marker.tsv"
    evaluated=""
    for _ in $(seq 1200); do
        if [[ -z "$evaluated" && -n $(poll "SELECT 1 FROM analytics.evaluations_hourly WHERE flag_key = '$flag'") ]]; then
            evaluated=$(now)
        fi
        [[ -n $(poll "SELECT 1 FROM analytics.experiment_exposures WHERE flag_key = '$flag'") ]] && break
        sleep 0.1
    done
    visible=$(now)
    FRESH+=("$(echo "$visible - $sent" | bc -l)")
    EVAL_FRESH+=("$(echo "${evaluated:-$visible} - $sent" | bc -l)")
done
stop_processor
fi
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "events-processor benchmark — load: $(cut -d' ' -f1-3 /proc/loadavg); $RECORDS records × $EVENTS_PER_RECORD events," \
    "$MIX mix ($((BYTES / 1048576)) MiB), $ENVIRONMENTS environments, 16 partitions"
echo
echo "| what | events | seconds | events/s |"
echo "|---|---|---|---|"
awk -v n="$EVENTS" -v s="$KCAT_S" 'BEGIN { printf "| baseline: kcat reads the topic | %d | %.2f | %.0f |\n", n, s, n/s }'
awk -v n="$EVENTS" -v s="$PRODUCE_S" 'BEGIN { printf "| kcat produces the records (acks=all) | %d | %.2f | %.0f |\n", n, s, n/s }'
awk -v n="$EVENTS" -v s="$COMMIT_S" 'BEGIN {
    printf "| events-processor: produced → committed (counts, pending state) | %d | %.2f | %.0f |\n", n, s, n/s
}'
awk -v n="$EVENTS" -v s="$PROC_S" 'BEGIN { printf "| events-processor: produced → tables, correlated | %d | %.2f | %.0f |\n", n, s, n/s }'
awk -v a="$EVENTS" -v b="$PROC_S" -v d="$KCAT_S" 'BEGIN {
    printf "\nratio events-processor end to end / kcat read: %.1f%%\n", 100 * (a/b) / (a/d)
}'
echo "processor busy time: chunk commits ${CHUNK_BUSY}s, finalization ${FINALIZE_BUSY}s"
echo "finalization: ${FINALIZED:-?} contexts correlated, ${PROBED:-all} of them probed for final rows"
echo "state after the run: $ROWS"
awk -v p="$PROC_CPU" -v g="$PG_CPU" -v s="$PROC_S" -v c="$(nproc)" 'BEGIN {
    printf "CPU during the run: events-processor %.2f s, PostgreSQL %.2f s (%.2f of the %d cores\x27 %.2f s)\n", p, g, p + g, c, c * s
}'
if [[ "$PROFILE" == 1 ]]; then
    echo
    echo "statements by total time during the run (seconds | calls | rows | statement):"
    echo "$STATEMENTS"
    [[ -n "${PG_SERVER_OPTIONS:-}" ]] && cat "$WORK/pg/data/server.log"
fi
# Headline figures for `make bench`'s summary (Benchmarks/figures.py).
TARGET=$([[ "$MIX" == typical ]] && echo ">=100000" || echo ">=50000")
python3 Benchmarks/figures.py add --area events-processor --figure "events/s, $MIX mix, produced → tables" \
    --value "$(echo "$EVENTS / $PROC_S" | bc -l)" --unit "ev/s" \
    --baseline-name "kcat reads the topic" --baseline "$(echo "$EVENTS / $KCAT_S" | bc -l)" --target "$TARGET"
(( PROBES > 0 )) || exit 0
echo
echo "freshness, correlation delay ${DELAY}s, median of $PROBES (receivedAt → visible):"
echo "  evaluation counts: $(median "${EVAL_FRESH[@]}") s"
echo "  experiment tables: $(median "${FRESH[@]}") s (delay + $(echo "$(median "${FRESH[@]}") - $DELAY" | bc -l | xargs printf '%.2f') s)"
python3 Benchmarks/figures.py add --area events-processor --figure "freshness beyond the ${DELAY} s correlation delay, $MIX mix" \
    --value "$(echo "$(median "${FRESH[@]}") - $DELAY" | bc -l)" --unit s
