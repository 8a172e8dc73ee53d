import ModelsCore
import Testing
import TestSupport

@testable import RelayStreamer

/// Polling, client-side and OFREP endpoints against an in-process relay.
@Suite("Polling, client-side and OFREP endpoints", .serialized, .timeLimit(.minutes(2)))
struct EndpointTests {
    private static let records = [
        Fixtures.environment(), Fixtures.flag("browser", version: 2),
        Fixtures.flag("server-only", version: 3, availability: .init(usingMobileKey: false, usingEnvironmentID: false)),
        Fixtures.segment("beta", version: 1, included: ["alice"]),
    ]

    private func json(_ response: TestHTTP.Response) throws -> JSONValue {
        try JSONParser.parse(response.body)
    }

    @Test("/sdk/latest-all: the payload, its ETag and 304; 401, 503 and FDv2 fallbacks")
    func polling() async throws {
        try await InProcessRelay.with(records: Self.records) { relay in
            let url = "\(relay.baseURL)/sdk/latest-all"
            let first = try await TestHTTP.request("GET", url, headers: [("Authorization", Fixtures.sdkKey)])
            #expect(first.status == 200)
            #expect(first.header("Content-Type") == "application/json")
            #expect(first.header("X-Vane-Data-Version") == "6")
            #expect(first.header("X-LD-EnvID") == Fixtures.environmentID)
            let payload = try PollingPayload(json: try json(first))
            #expect(Set(payload.flags.keys) == ["browser", "server-only"])
            #expect(Set(payload.segments.keys) == ["beta"])
            let etag = try #require(first.header("ETag"))
            let cached = try await TestHTTP.request("GET", url, headers: [("Authorization", Fixtures.sdkKey), ("If-None-Match", etag)])
            #expect(cached.status == 304)
            #expect(cached.body.isEmpty)
            relay.apply(Fixtures.flag("browser", version: 3))
            let changed = try await TestHTTP.request("GET", url, headers: [("Authorization", "api_key \(Fixtures.sdkKey)"),
                ("If-None-Match", etag)])
            #expect(changed.status == 200)
            #expect(changed.header("ETag") != etag)
            #expect(try await TestHTTP.request("GET", url, headers: [("Authorization", "sdk-nope")]).status == 401)
            #expect(try await TestHTTP.request("GET", url).status == 401)
            let fallback = try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/poll", headers: [("Authorization", Fixtures.sdkKey)])
            #expect(fallback.status == 404)
            #expect(fallback.header("X-LD-FD-Fallback") == "true")
            relay.setReady(false)
            let notReady = try await TestHTTP.request("GET", url, headers: [("Authorization", Fixtures.sdkKey)])
            #expect(notReady.status == 503)
            #expect(try json(notReady)["code"] == "unavailable")
        }
    }

    @Test("client-side evalx: flags per client kind, CORS, withReasons, errors")
    func clientSide() async throws {
        try await InProcessRelay.with(records: Self.records) { relay in
            let alice = "eyJraW5kIjoidXNlciIsImtleSI6ImFsaWNlIn0"
            let browser = try await TestHTTP.request(
                "GET", "\(relay.baseURL)/sdk/evalx/\(Fixtures.clientSideID)/contexts/\(alice)?withReasons=true",
                headers: [("Origin", "https://app.example")])
            #expect(browser.status == 200)
            #expect(browser.header("Access-Control-Allow-Origin") == "https://app.example")
            #expect(browser.header("X-Vane-Data-Version") == "6")
            #expect(try json(browser) == [
                "browser": ["value": true, "variation": 0, "version": 2, "flagVersion": 2, "reason": ["kind": "FALLTHROUGH"]],
            ])
            let report = try await TestHTTP.request(
                "REPORT", "\(relay.baseURL)/sdk/evalx/\(Fixtures.clientSideID)/context", body: Array(#"{"key":"bob"}"#.utf8))
            #expect(report.status == 200)
            #expect(try json(report)["browser"]?["value"] == true)
            let server = try await TestHTTP.request(
                "REPORT", "\(relay.baseURL)/sdk/evalx/context", headers: [("Authorization", Fixtures.sdkKey)],
                body: Array(#"{"kind":"user","key":"bob"}"#.utf8))
            #expect(Set(try json(server).objectValue?.keys.map { $0 } ?? []) == ["browser", "server-only"])
            let mobile = try await TestHTTP.request(
                "GET", "\(relay.baseURL)/msdk/evalx/contexts/\(alice)", headers: [("Authorization", Fixtures.mobileKey)])
            #expect(Set(try json(mobile).objectValue?.keys.map { $0 } ?? []) == ["browser"])
            let preflight = try await TestHTTP.request(
                "OPTIONS", "\(relay.baseURL)/sdk/evalx/\(Fixtures.clientSideID)/context", headers: [("Origin", "https://x")])
            #expect(preflight.status == 200)
            #expect(preflight.header("Access-Control-Allow-Methods")?.contains("REPORT") == true)
            let unknown = try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/evalx/nope/contexts/\(alice)")
            #expect(unknown.status == 404)
            #expect(unknown.header("Access-Control-Allow-Origin") == "*")
            let badContext = try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/evalx/\(Fixtures.clientSideID)/contexts/%21%21")
            #expect(badContext.status == 400)
            #expect(try await TestHTTP.request(
                "GET", "\(relay.baseURL)/msdk/evalx/contexts/\(alice)", headers: [("Authorization", Fixtures.sdkKey)]).status == 401)
            let goals = try await TestHTTP.request("GET", "\(relay.baseURL)/sdk/goals/\(Fixtures.clientSideID)")
            #expect(goals.text == "[]")
        }
    }

    @Test("OFREP: single flag, bulk with ETag and 304, errors")
    func ofrep() async throws {
        try await InProcessRelay.with(records: Self.records) { relay in
            let body = Array(#"{"context":{"targetingKey":"alice","kind":"user"}}"#.utf8)
            let single = try await TestHTTP.request(
                "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags/browser", headers: [("Authorization", "Bearer \(Fixtures.sdkKey)")],
                body: body)
            #expect(single.status == 200)
            #expect(try json(single)["value"] == true)
            #expect(try json(single)["reason"] == "STATIC")
            #expect(single.header("X-Vane-Data-Version") == "6")
            let missing = try await TestHTTP.request(
                "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags/nope", headers: [("X-API-Key", Fixtures.sdkKey)], body: body)
            #expect(missing.status == 404)
            #expect(try json(missing)["errorCode"] == "FLAG_NOT_FOUND")
            let noKey = try await TestHTTP.request(
                "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags/browser", headers: [("X-API-Key", Fixtures.sdkKey)],
                body: Array(#"{"context":{}}"#.utf8))
            #expect(noKey.status == 400)
            #expect(try json(noKey)["errorCode"] == "TARGETING_KEY_MISSING")
            #expect(try json(noKey)["key"] == "browser", "the single-flag failure names the flag")
            let bulkNoKey = try await TestHTTP.request(
                "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags", headers: [("X-API-Key", Fixtures.sdkKey)],
                body: Array(#"{"context":{"targetingKey":"u","kind":"bad kind"}}"#.utf8))
            #expect(bulkNoKey.status == 400)
            #expect(try json(bulkNoKey)["errorCode"] == "INVALID_CONTEXT")
            #expect(try json(bulkNoKey)["key"] == nil, "the bulk failure names no flag")
            #expect(bulkNoKey.header("X-Vane-Data-Version") != nil)
            #expect(try await TestHTTP.request("POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags/browser", body: body).status == 401)
            // Bodies that are not JSON objects: OFREP's PARSE_ERROR, in each route's own shape.
            for text in ["{", "null", "[]", "\"context\"", "42"] {
                let single = try await TestHTTP.request(
                    "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags/browser",
                    headers: [("X-API-Key", Fixtures.sdkKey)], body: Array(text.utf8))
                #expect(single.status == 400, "\(text)")
                #expect(try json(single)["errorCode"] == "PARSE_ERROR", "\(text)")
                #expect(try json(single)["key"] == "browser", "\(text)")
                #expect(try json(single)["errorDetails"]?.stringValue != nil, "\(text)")
                let bulk = try await TestHTTP.request(
                    "POST", "\(relay.baseURL)/ofrep/v1/evaluate/flags", headers: [("X-API-Key", Fixtures.sdkKey)], body: Array(text.utf8))
                #expect(bulk.status == 400, "\(text)")
                #expect(try json(bulk).objectValue?.keys.sorted() == ["errorCode", "errorDetails"], "\(text)")
                #expect(try json(bulk)["errorCode"] == "PARSE_ERROR", "\(text)")
            }

            let url = "\(relay.baseURL)/ofrep/v1/evaluate/flags"
            let bulk = try await TestHTTP.request("POST", url, headers: [("X-API-Key", Fixtures.sdkKey)], body: body)
            #expect(bulk.status == 200)
            #expect(try json(bulk)["flags"]?.arrayValue?.count == 2)
            let etag = try #require(bulk.header("ETag"))
            let cached = try await TestHTTP.request("POST", url, headers: [("X-API-Key", Fixtures.sdkKey), ("If-None-Match", etag)],
                body: body)
            #expect(cached.status == 304)
            let otherContext = try await TestHTTP.request(
                "POST", url, headers: [("X-API-Key", Fixtures.sdkKey), ("If-None-Match", etag)],
                body: Array(#"{"context":{"targetingKey":"bob"}}"#.utf8))
            #expect(otherContext.status == 200)
            relay.apply(Fixtures.flag("browser", version: 9, on: false))
            let afterChange = try await TestHTTP.request("POST", url, headers: [("X-API-Key", Fixtures.sdkKey), ("If-None-Match", etag)],
                body: body)
            #expect(afterChange.status == 200)
            let flags = try json(afterChange)["flags"]?.arrayValue ?? []
            #expect(flags.first { $0["key"] == "browser" }?["reason"] == "DISABLED")
        }
    }

    @Test("/metrics shows streams per environment, events sent and the relay's own counters")
    func metrics() async throws {
        try await InProcessRelay.with(records: Self.records) { relay in
            let connection = try await RawConnection.connect(port: relay.port)
            try await connection.get("/all", headers: ["Authorization: \(Fixtures.sdkKey)"])
            try await connection.waitFor("the put") { $0.contains("event: put") }
            let metrics = try await TestHTTP.request("GET", "\(relay.baseURL)/metrics").text
            #expect(metrics.contains(#"vane_relay_streams{environment="\#(Fixtures.environmentID)",kind="server"} 1"#))
            #expect(metrics.contains("vane_relay_stream_events_sent_total 1"))
            #expect(metrics.contains("vane_relay_environments 1"))
        }
    }
}
