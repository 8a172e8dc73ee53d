-- wrk script for Benchmarks/events-ingest-bench.sh: POSTs one event batch per request to /bulk,
-- each with its own X-LaunchDarkly-Payload-ID (events-ingest deduplicates repeated ids, so
-- reusing one would measure the duplicate path instead of Kafka writes).
--
-- Environment: BENCH_BODY (file with the JSON batch), BENCH_SDK_KEY, BENCH_DELAY_MS (pause before
-- each request of a connection; 0 = as fast as responses come back).

local body_file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local body = body_file:read("*a")
body_file:close()
local sdk_key = os.getenv("BENCH_SDK_KEY")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

local threads = {}
local thread_counter = 0

function setup(thread)
    thread_counter = thread_counter + 1
    thread:set("thread_id", thread_counter)
    table.insert(threads, thread)
end

local sequence = 0

function request()
    sequence = sequence + 1
    local headers = {
        ["Authorization"] = sdk_key,
        ["Content-Type"] = "application/json",
        ["X-LaunchDarkly-Event-Schema"] = "4",
        ["X-LaunchDarkly-Payload-ID"] = string.format("bench-%d-%d-%d", os.time(), thread_id, sequence),
        ["User-Agent"] = "wrk-bench/1",
    }
    return wrk.format("POST", "/bulk", headers, body)
end

if delay_ms > 0 then
    function delay()
        return delay_ms
    end
end

function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local errors = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.3f non2xx=%d socket_errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
        summary.requests, seconds, errors.status, errors.connect + errors.read + errors.write + errors.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
