import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("events-ingest endpoints against dev-kafka", .serialized, .timeLimit(.minutes(3)), .ingestStack())
struct EndpointTests {
    @Test("POST /bulk with an SDK key: 202 once Kafka has the batch, embedded byte for byte, keyed by environment")
    func serverBulk() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let body = Array((#" [{"kind":"feature","creationDate":1,"key":"f","value":"é\u00e9","default":null,"#
            + #""context":{"kind":"user","key":"u"}},{"kind":"brand-new-kind","x":[1,2.50,3e2]}] "#).utf8)
        let response = try await stack.post("/bulk", key: environment.sdkKey, body: body, headers: [
            ("X-LaunchDarkly-Payload-ID", "payload-server-1"), ("X-LaunchDarkly-Event-Schema", "4"), ("User-Agent", "PythonClient/9.18.2"),
        ])
        #expect(response.status == 202)
        #expect(response.body.isEmpty)
        #expect(response.header("Date") != nil, "SDKs read the server time from Date")

        let records = try await stack.records(environmentID: environment.id)
        try #require(records.count == 1)
        let stored = records[0]
        #expect(stored.key == environment.id)
        #expect(stored.record.payloadID == "payload-server-1")
        #expect(stored.record.source == .server)
        #expect(stored.record.userAgent == "PythonClient/9.18.2")
        #expect(abs(stored.record.receivedAt - Int(Date().timeIntervalSince1970 * 1000)) < 60_000)
        #expect(stored.record.events.count == 2)
        #expect(stored.record.events[1]["kind"] == "brand-new-kind", "unknown kinds are kept")
        // The array is embedded exactly as sent (surrounding whitespace aside): `…"events":<body>}`.
        let trimmed = Array(body.dropFirst().dropLast())
        #expect(Array(stored.value.suffix(trimmed.count + 1)) == trimmed + Array("}".utf8))
    }

    @Test("mobile paths take the mobile key (also with the api_key prefix), and not the SDK key")
    func mobile() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        for (index, path) in ["/mobile", "/mobile/events", "/mobile/events/bulk"].enumerated() {
            let key = index == 1 ? "api_key \(environment.mobileKey)" : environment.mobileKey
            let response = try await stack.post(path, key: key, body: sampleBatch(tag: "m\(index)"),
                headers: [("X-LaunchDarkly-Payload-ID", "m-\(index)")])
            #expect(response.status == 202, "\(path): \(response.text)")
        }
        let wrongKey = try await stack.post("/mobile/events/bulk", key: environment.sdkKey, body: sampleBatch())
        #expect(wrongKey.status == 401)
        let diagnostic = try await stack.post("/mobile/events/diagnostic", key: environment.mobileKey,
            body: Array(#"{"kind":"diagnostic","id":{"diagnosticId":"d"}}"#.utf8))
        #expect(diagnostic.status == 202)

        let records = try await stack.records(environmentID: environment.id)
        #expect(Set(records.map(\.record.source)) == [.mobile])
        #expect(Set(records.compactMap { $0.record.payloadID.hasPrefix("m-") ? $0.record.payloadID : nil }) == ["m-0", "m-1", "m-2"])
        let diagnosticRecord = try #require(records.first { $0.record.events.first?["kind"] == "diagnostic" })
        #expect(diagnosticRecord.record.events.count == 1, "a diagnostic object is stored as a one-event array")
        #expect(UUID(uuidString: diagnosticRecord.record.payloadID) != nil, "without a payload id header one is generated")
    }

    @Test("browser endpoints: client-side id in the path, CORS on answers and preflights, 404 for an unknown id")
    func browser() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let origin = ("Origin", "https://app.example")
        let accepted = try await stack.post("/events/bulk/\(environment.clientSideID)", body: sampleBatch(), headers: [
            origin, ("X-LaunchDarkly-User-Agent", "JSClient/3.1.0"), ("User-Agent", "Mozilla/5.0"),
        ])
        #expect(accepted.status == 202)
        #expect(accepted.header("Access-Control-Allow-Origin") == "https://app.example")
        #expect(accepted.header("Access-Control-Expose-Headers") == "Date")

        let preflight = try await TestHTTP.request("OPTIONS", stack.ingest.baseURL + "/events/bulk/\(environment.clientSideID)", headers: [
            origin, ("Access-Control-Request-Method", "POST"), ("Access-Control-Request-Headers", "content-type,x-launchdarkly-payload-id"),
        ])
        #expect(preflight.status == 200)
        #expect(preflight.header("Access-Control-Allow-Methods")?.contains("POST") == true)
        #expect(preflight.header("Access-Control-Allow-Headers")?.lowercased().contains("x-launchdarkly-payload-id") == true)
        #expect(preflight.header("Access-Control-Max-Age") == "300")

        let diagnostic = try await stack.post("/events/diagnostic/\(environment.clientSideID)",
            body: Array(#"{"kind":"diagnostic-init"}"#.utf8))
        #expect(diagnostic.status == 202)
        #expect(diagnostic.header("Access-Control-Allow-Origin") == "*")

        let unknown = try await stack.post("/events/bulk/000000000000000000000000", body: sampleBatch(), headers: [origin])
        #expect(unknown.status == 404)
        #expect(unknown.header("Access-Control-Allow-Origin") == "https://app.example", "errors carry CORS too")
        try expectJSONError(unknown, code: "not_found")
        // An SDK key put in the path by mistake is never echoed back.
        let misplacedKey = "sdk-3f1c9e2a-secret-key-in-the-path"
        let misplaced = try await stack.post("/events/bulk/\(misplacedKey)", body: sampleBatch(), headers: [origin])
        #expect(misplaced.status == 404)
        #expect(!misplaced.text.contains(misplacedKey) && !misplaced.text.contains("secret"), "\(misplaced.text)")

        let records = try await stack.records(environmentID: environment.id)
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0.record.source == .client })
        #expect(records.contains { $0.record.userAgent == "JSClient/3.1.0" })
    }

    @Test("POST /diagnostic keeps the diagnostic object")
    func serverDiagnostic() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let response = try await stack.post("/diagnostic", key: environment.sdkKey,
            body: Array(#"{"kind":"diagnostic-init","id":{"diagnosticId":"x","sdkKeySuffix":"abcdef"}}"#.utf8))
        #expect(response.status == 202)
        let records = try await stack.records(environmentID: environment.id)
        #expect(records.first?.record.events.first?["id"]?["sdkKeySuffix"] == "abcdef")
    }

    @Test("gzip bodies are inflated; corrupt gzip is 400, a bomb over the limit is 413, other encodings 400")
    func gzipBodies() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let body = sampleBatch(count: 50, tag: "gz")
        let compressed = gzip(body)
        let accepted = try await stack.post("/bulk", key: environment.sdkKey, body: compressed, headers: [
            ("Content-Encoding", "gzip"), ("X-LaunchDarkly-Payload-ID", "gzip-1"),
        ])
        #expect(accepted.status == 202)
        let records = try await stack.records(environmentID: environment.id)
        #expect(records.map(\.record.payloadID) == ["gzip-1"])
        #expect(Array(records[0].value.suffix(body.count + 1)) == body + Array("}".utf8), "stored decompressed, byte for byte")

        let corrupt = try await stack.post("/bulk", key: environment.sdkKey, body: Array(compressed.prefix(20)),
            headers: [("Content-Encoding", "gzip")])
        #expect(corrupt.status == 400)
        let bomb = gzip([UInt8](repeating: 0x20, count: 6 << 20))
        let tooLarge = try await stack.post("/bulk", key: environment.sdkKey, body: bomb, headers: [("Content-Encoding", "gzip")])
        #expect(tooLarge.status == 413)
        try expectJSONError(tooLarge, code: "payload_too_large")
        let brotli = try await stack.post("/bulk", key: environment.sdkKey, body: body, headers: [("Content-Encoding", "br")])
        #expect(brotli.status == 400)
        #expect(try await stack.records(environmentID: environment.id).count == 1)
    }

    @Test("bad bodies are 400 with a JSON error and leave nothing on the topic", arguments: [
        "", "   ", "not json", "{\"kind\":\"custom\"}", "[1,2]", "[{}, \"x\"]", "[{\"kind\":\"custom\"}", "[{}] trailing",
        "[{\"a\":\"\\ud800\"}]", "[{\"a\":1e999}]", "null", "[[{}]]",
    ])
    func badBodies(_ text: String) async throws {
        let stack = try currentStack()
        let environment = try await sharedEnvironment(stack)
        let response = try await stack.post("/bulk", key: environment.sdkKey, body: Array(text.utf8))
        #expect(response.status == 400)
        try expectJSONError(response)
    }

    @Test("invalid UTF-8 and control characters are 400")
    func invalidBytes() async throws {
        let stack = try currentStack()
        let environment = try await sharedEnvironment(stack)
        for body: [UInt8] in [Array(#"[{"a":""#.utf8) + [0xC0, 0xAF] + Array(#""}]"#.utf8),
            Array(#"[{"a":"x"#.utf8) + [0x01] + Array(#""}]"#.utf8)] {
            let response = try await stack.post("/bulk", key: environment.sdkKey, body: body)
            #expect(response.status == 400)
        }
    }

    @Test("credentials: 401 only for a missing or unknown key; 503 never, 404 never on server paths")
    func credentials() async throws {
        let stack = try currentStack()
        let environment = try await sharedEnvironment(stack)
        let missing = try await stack.post("/bulk", body: sampleBatch())
        #expect(missing.status == 401)
        try expectJSONError(missing, code: "unauthorized")
        let unknown = try await stack.post("/bulk", key: "sdk-00000000-0000-0000-0000-000000000000", body: sampleBatch())
        #expect(unknown.status == 401)
        let mobileKeyOnServerPath = try await stack.post("/bulk", key: environment.mobileKey, body: sampleBatch())
        #expect(mobileKeyOnServerPath.status == 401)
        let bearer = try await stack.post("/bulk", key: "Bearer \(environment.sdkKey)", body: sampleBatch())
        #expect(bearer.status == 202)
    }

    @Test("key rotation: the old SDK key works until its expiry, then answers 401; the new one works")
    func rotation() async throws {
        let stack = try currentStack()
        var environment = try await stack.createEnvironment()
        let oldKey = environment.sdkKey
        environment.sdkKey = "sdk-\(UUID().uuidString.lowercased())"
        let now = Int(Date().timeIntervalSince1970 * 1000)
        try await stack.publish(environment, version: 2, retiredSDKKey: (oldKey, now + 60_000))
        try await stack.waitUntilKnown(environment, to: stack.ingest)
        #expect(try await stack.post("/bulk", key: oldKey, body: sampleBatch()).status == 202, "within the grace period")
        #expect(try await stack.post("/bulk", key: environment.sdkKey, body: sampleBatch()).status == 202)
        try await stack.publish(environment, version: 3, retiredSDKKey: (oldKey, now - 1))
        let deadline = ContinuousClock.now + .seconds(20)
        var status = 0
        while ContinuousClock.now < deadline {
            status = try await stack.post("/bulk", key: oldKey, body: Array("x".utf8)).status
            if status == 401 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(status == 401, "an expired key is unknown")
        #expect(try await stack.post("/bulk", key: environment.sdkKey, body: sampleBatch()).status == 202)
    }

    @Test("bodies over the limit are 413, whether announced by Content-Length or streamed without it")
    func oversized() async throws {
        let stack = try currentStack()
        let environment = try await sharedEnvironment(stack)
        let big = Array(("[" + String(repeating: #"{"kind":"custom","key":"0123456789012345678901234567890123456789"},"#,
            count: 100_000) + "{}]").utf8)
        #expect(big.count > 5 << 20)
        let announced = try await stack.post("/bulk", key: environment.sdkKey, body: big)
        #expect(announced.status == 413)
        try expectJSONError(announced, code: "payload_too_large")
        let streamed = try await stack.post("/bulk", key: environment.sdkKey, body: big, chunked: true)
        #expect(streamed.status == 413)
        // Just under the limit is fine.
        let fits = Array(("[" + String(repeating: #"{"kind":"custom","key":"0123456789012345678901234567890123456789"},"#,
            count: 78_000) + "{}]").utf8)
        #expect(fits.count < 5 << 20)
        #expect(try await stack.post("/bulk", key: environment.sdkKey, body: fits, chunked: true).status == 202)
    }

    @Test("the same payload id twice: both 202, one record")
    func retriedPayload() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        let headers = [("X-LaunchDarkly-Payload-ID", "retry-me")]
        async let first = stack.post("/bulk", key: environment.sdkKey, body: sampleBatch(tag: "r"), headers: headers)
        async let second = stack.post("/bulk", key: environment.sdkKey, body: sampleBatch(tag: "r"), headers: headers)
        #expect(try await [first.status, second.status] == [202, 202])
        #expect(try await stack.post("/bulk", key: environment.sdkKey, body: sampleBatch(tag: "r"), headers: headers).status == 202)
        let records = try await stack.records(environmentID: environment.id)
        #expect(records.map(\.record.payloadID) == ["retry-me"])
    }

    @Test("a random stream of malformed bodies never crashes the service or reaches the topic")
    func fuzz() async throws {
        let stack = try currentStack()
        let environment = try await stack.createEnvironment()
        var generator = SplitMix64(seed: 42)
        let valid = sampleBatch(count: 5, tag: "fz")
        var accepted = 0
        for round in 0..<300 {
            var body = valid
            switch round % 4 {
            case 0: body = (0..<Int.random(in: 0...400, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: body = Array(body.prefix(Int.random(in: 0..<body.count, using: &generator)))
            case 2:
                for _ in 0..<3 { body[Int.random(in: 0..<body.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            default: body = Array(String(repeating: "[", count: Int.random(in: 500...3000, using: &generator)).utf8)
            }
            let gzipped = round % 7 == 0
            let response = try await stack.post("/bulk", key: environment.sdkKey, body: gzipped ? gzip(body) : body,
                                                headers: gzipped ? [("Content-Encoding", "gzip")] : [])
            if response.status == 202 {
                accepted += 1
                continue
            }
            #expect(response.status == 400, "round \(round): \(response.status) \(response.text)")
            try expectJSONError(response)
        }
        #expect(stack.ingest.isRunning)
        #expect(try await stack.records(environmentID: environment.id).count == accepted, "only accepted bodies are on the topic")
    }

    @Test("unknown paths and methods are JSON errors; health, readiness and metrics answer")
    func operational() async throws {
        let stack = try currentStack()
        let base = stack.ingest.baseURL
        let unknown = HTTPResult(try await TestHTTP.request("POST", base + "/nope", body: sampleBatch()))
        #expect(unknown.status == 404)
        try expectJSONError(unknown)
        #expect(try await TestHTTP.request("GET", base + "/healthz").status == 200)
        #expect(try await TestHTTP.request("GET", base + "/readyz").status == 200)
        let metrics = try await TestHTTP.request("GET", base + "/metrics")
        #expect(metrics.text.contains("vane_events_batches_accepted_total{source=\"server\"}"))
        #expect(metrics.text.contains("vane_events_batches_rejected_total{reason=\"bad_request\"}"))
    }

    /// One environment for tests that write nothing (or do not count records).
    private func sharedEnvironment(_ stack: IngestStack) async throws -> IngestStack.Environment {
        try await SharedEnvironment.shared.get(stack)
    }
}

/// Creates one environment per stack on first use.
actor SharedEnvironment {
    static let shared = SharedEnvironment()
    private var environments: [ObjectIdentifier: IngestStack.Environment] = [:]

    func get(_ stack: IngestStack) async throws -> IngestStack.Environment {
        if let environment = environments[ObjectIdentifier(stack)] { return environment }
        let environment = try await stack.createEnvironment()
        environments[ObjectIdentifier(stack)] = environment
        return environment
    }
}

/// Checks that a response is one of Vane's JSON errors (`{"code","message","details"}`).
func expectJSONError(_ response: HTTPResult, code: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(response.header("Content-Type") == "application/json", sourceLocation: sourceLocation)
    let json = try JSONParser.parse(response.body)
    #expect(json["message"]?.stringValue?.isEmpty == false, sourceLocation: sourceLocation)
    if let code { #expect(json["code"] == .string(code), "\(response.text)", sourceLocation: sourceLocation) }
}
