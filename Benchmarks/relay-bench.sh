#!/usr/bin/env bash
# relay-streamer benchmarks (release build, loopback), printed as Markdown tables:
#
#   1. idle streams: the relay's RSS per open SSE stream (N streams that received their `put`),
#      against the usual Hummingbird SSE pattern (one task per connection) in the same run;
#   2. kill switch: with 1,000, K and N streams open, the time from management-api's targeting PATCH
#      returning to every stream having the `patch`, against a single stream; the relay's fan-out per
#      stream beside the kernel's floor for one loopback write measured just before (loopback_floor.py);
#   3. /sdk/latest-all and OFREP bulk requests/s with and without ETag hits (wrk), against /healthz.
#
#   Benchmarks/relay-bench.sh            # from the package root; `make bench` calls it
#
# The stream clients run on the same 2 cores: plain epoll reader threads that poll when idle (so the
# relay's loopback writes do not pay for waking them), and the relay waits at most 1 ms in a changelog
# fetch (the development broker holds an empty fetch for the whole wait; a real broker does not). See
# Benchmarks/RelayLoad/StreamClients.swift and RelayLoad.swift; RELAY_BENCH_CLIENT_POLL_US=0 and
# RELAY_BENCH_FETCH_WAIT_MS=20 give the earlier setup.
#
# Environment: RELAY_BENCH_STREAMS (default 19000 — this machine's open-file hard limit is 20000 per
# process, so one relay cannot hold more), RELAY_BENCH_KILL_STREAMS (10000), RELAY_BENCH_ROUNDS (5),
# RELAY_BENCH_FLAGS (200), RELAY_BENCH_WRK_SECONDS (8), RELAY_BENCH_SKIP (memory,killswitch,throughput),
# SKIP_BUILD=1 to reuse an existing release build. Needs wrk, PostgreSQL and librdkafka (make deps).
set -euo pipefail

cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk, or make deps)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    for product in vanectl management-api relay-streamer RelayLoad; do
        VANE_BENCHMARKS=1 swift build -c release --product "$product" >&2
    done
fi
BIN=$(VANE_BENCHMARKS=1 swift build -c release --show-bin-path)
echo "relay-streamer benchmarks — $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), open files $(ulimit -n)"
echo
# The kernel's cost of one loopback write to a connection read like the clients read theirs: the floor of any fan-out here.
RELAY_BENCH_KERNEL_FLOOR_US=$(python3 Benchmarks/loopback_floor.py --connections 5000 --poll-us "${RELAY_BENCH_CLIENT_POLL_US:-1000}")
export RELAY_BENCH_KERNEL_FLOOR_US
echo "kernel floor: one loopback write to a reader like the benchmark's clients, 5,000 connections: ${RELAY_BENCH_KERNEL_FLOOR_US} µs"
echo
exec "$BIN/RelayLoad" bench
