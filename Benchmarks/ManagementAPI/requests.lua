-- wrk script for Benchmarks/management-api-bench.sh.
--
-- BENCH_MODE: "patch" (the kill switch: PATCH {"on": true|false} of a flag's production targeting,
-- one transaction with the version bump, audit row and outbox row), "get" (GET of a flag with its
-- targeting in every environment) or "health" (GET /healthz, the baseline: HTTP and JSON only).
-- Requests go round-robin over BENCH_FLAGS flags (bench-0 ... bench-N-1) so that the benchmark
-- measures the write path, not contention on one row. BENCH_TOKEN is a writer token.
-- BENCH_DELAY_MS > 0 paces each connection (closed loop with think time) instead of saturating.

local mode = os.getenv("BENCH_MODE") or "get"
local token = os.getenv("BENCH_TOKEN")
local flags = tonumber(os.getenv("BENCH_FLAGS") or "64")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local counter = 0
local thread_offset = 0

function setup(thread)
    thread_offset = thread_offset + 1
    thread:set("offset", thread_offset * 7919)
end

function request()
    counter = counter + 1
    local flag = "bench-" .. ((counter + (offset or 0)) % flags)
    if mode == "health" then
        return wrk.format("GET", "/healthz")
    end
    local headers = { ["Authorization"] = "Bearer " .. token }
    if mode == "patch" then
        headers["Content-Type"] = "application/json"
        local on = (counter % 2 == 0) and "true" or "false"
        return wrk.format("PATCH", "/api/v1/projects/bench/flags/" .. flag .. "/environments/production", headers,
            '{"on":' .. on .. '}')
    end
    return wrk.format("GET", "/api/v1/projects/bench/flags/" .. flag, headers)
end

if delay_ms > 0 then
    -- Paced clients: each connection waits this long before its next request (think time).
    function delay()
        return delay_ms
    end
end

local failures = 0
function response(status, headers, body)
    if status ~= 200 then
        failures = failures + 1
        if failures <= 3 then io.stderr:write("unexpected status " .. status .. ": " .. body .. "\n") end
    end
end
