import ModelsCore
import NIOCore
import ServiceKit
import Testing
import TestSupport

@testable import RelayStreamer

/// The streaming endpoints against an in-process relay, over raw TCP so that framing, ordering and
/// connection handling are visible.
@Suite("Streams", .serialized, .timeLimit(.minutes(2)))
struct StreamingTests {
    private static let auth = "Authorization: \(Fixtures.sdkKey)"

    @Test("/all sends the put first, then patch and delete events and heartbeats")
    func serverStream() async throws {
        try await InProcessRelay.with(settings: ["VANE_RELAY_HEARTBEAT_SECONDS": "0.2"],
            records: [Fixtures.environment(), Fixtures.flag("f", version: 1)]) { relay in
            let connection = try await RawConnection.connect(port: relay.port)
            try await connection.get("/all", headers: [Self.auth])
            try await connection.waitFor("the put") { $0.contains("event: put\n") }
            let head = connection.text
            #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(head.contains("Content-Type: text/event-stream; charset=utf-8\r\n"))
            #expect(head.contains("Transfer-Encoding: chunked\r\n"))
            #expect(head.contains("X-Vane-Data-Version: 1\r\n"))
            #expect(head.contains("X-LD-EnvID: \(Fixtures.environmentID)\r\n"))
            #expect(head.contains(#"data: {"path":"/","data":{"flags":{"f":{"#))
            #expect(relay.streamCount == 1)

            relay.apply(Fixtures.flag("f", version: 2, on: false))
            try await connection.waitFor("the patch") { $0.contains(#"event: patch"#) }
            #expect(connection.text.contains(#"data: {"path":"/flags/f","data":{"key":"f","on":false"#))
            relay.apply(Fixtures.segment("s", version: 3, included: ["a"]))
            relay.apply(Fixtures.flagTombstone("f", version: 4))
            try await connection.waitFor("the delete") { $0.contains(#"data: {"path":"/flags/f","version":4}"#) }
            #expect(connection.text.contains(#""path":"/segments/s""#))
            try await connection.waitFor("two heartbeats") { $0.occurrences(of: "2\r\n:\n\r\n") >= 2 }
            let text = connection.text
            #expect(text.firstRange(of: "event: put")!.lowerBound < text.firstRange(of: "event: patch")!.lowerBound)
            await connection.close()
            try await eventually { relay.streamCount == 0 }
        }
    }

    @Test("refusals are JSON errors with the right status, and the connection stays usable")
    func refusals() async throws {
        try await InProcessRelay.with(ready: false) { relay in
            let connection = try await RawConnection.connect(port: relay.port)
            try await connection.get("/all", headers: [Self.auth])
            try await connection.waitFor("503") { $0.contains("\r\n\r\n{") && $0.hasSuffix("}") }
            #expect(connection.text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(connection.text.contains("Retry-After: 2\r\n"))
            #expect(connection.text.contains(#""code":"unavailable""#))
            relay.setReady(true)
            connection.reset()
            try await connection.get("/all", headers: ["Authorization: sdk-unknown"])
            try await connection.waitFor("401") { $0.hasSuffix("}") }
            #expect(connection.text.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
            connection.reset()
            try await connection.get("/healthz")
            try await connection.waitFor("healthz") { $0.hasSuffix("}") }
            #expect(connection.text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            connection.reset()
            try await connection.get("/ping/unknown-id")
            try await connection.waitFor("404") { $0.hasSuffix("}") }
            #expect(connection.text.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
            #expect(connection.text.contains("Access-Control-Allow-Origin: *\r\n"))
            #expect(relay.streamCount == 0)
        }
    }

    @Test("a connection that served ordinary requests can become a stream (keep-alive clients, proxies)")
    func keepAliveThenStream() async throws {
        try await InProcessRelay.with(records: [Fixtures.environment(), Fixtures.flag("f", version: 1)]) { relay in
            let connection = try await RawConnection.connect(port: relay.port)
            try await connection.get("/sdk/latest-all", headers: [Self.auth])
            try await connection.waitFor("the polling response") { $0.contains(#"{"flags":{"f":"#) && $0.hasSuffix("}}") }
            #expect(connection.text.contains("ETag: \"r1\""))
            connection.reset()
            try await connection.get("/all", headers: [Self.auth])
            try await connection.waitFor("the put") { $0.contains("event: put") }
            relay.apply(Fixtures.flag("f", version: 2))
            try await connection.waitFor("the patch") { $0.contains("event: patch") }
            #expect(relay.streamCount == 1)
        }
    }

    @Test("streams beyond the cap are refused with 503 and Retry-After")
    func connectionCap() async throws {
        try await InProcessRelay.with(settings: ["VANE_RELAY_MAX_STREAMS": "2"]) { relay in
            var open: [RawConnection] = []
            for _ in 0..<2 {
                let connection = try await RawConnection.connect(port: relay.port)
                try await connection.get("/all", headers: [Self.auth])
                try await connection.waitFor("the put") { $0.contains("event: put") }
                open.append(connection)
            }
            let third = try await RawConnection.connect(port: relay.port)
            try await third.get("/all", headers: [Self.auth])
            try await third.waitFor("503") { $0.hasSuffix("}") }
            #expect(third.text.hasPrefix("HTTP/1.1 503"))
            #expect(third.text.contains("Retry-After:"))
            await open[0].close()
            try await eventually { relay.streamCount == 1 }
            third.reset()
            try await third.get("/all", headers: [Self.auth])
            try await third.waitFor("the put") { $0.contains("event: put") }
        }
    }

    @Test("a client that stops reading loses its backlog, not memory, and gets a fresh put once it reads again")
    func slowClient() async throws {
        let settings = ["VANE_RELAY_STREAM_BUFFER_BYTES": "16384", "VANE_RELAY_HEARTBEAT_SECONDS": "0.2"]
        try await InProcessRelay.with(settings: settings) { relay in
            let slow = try await RawConnection.connect(port: relay.port, receiveBuffer: 4096)
            try await slow.get("/all", headers: [Self.auth])
            try await slow.waitFor("the put") { $0.contains("event: put") }
            let fast = try await RawConnection.connect(port: relay.port)
            try await fast.get("/all", headers: [Self.auth])
            try await fast.waitFor("the put") { $0.contains("event: put") }
            try await slow.setReading(false)
            // Far more than the kernel's socket buffers hold, so that the relay's own bound is reached.
            let padding = String(repeating: "x", count: 32_000)
            for version in 1...300 {
                relay.apply(Fixtures.flag("big", version: version) { $0.variations = [.string(padding), .string("\(version)")] })
            }
            // The fast client is not held back by the slow one.
            try await fast.waitFor("the last patch") { $0.contains(#"{"path":"/flags/big","data":{"key":"big""#)
                && $0.contains(#""version":300"#) }
            #expect(relay.metric("vane_relay_stream_events_dropped_total") > 0, "the slow client's events were dropped")
            try await slow.setReading(true)
            try await slow.waitFor("a resync put with the latest version") { text in
                text.occurrences(of: "event: put") >= 2 && text.contains(#""version":300"#)
            }
            #expect(relay.metric("vane_relay_stream_resyncs_total") >= 1)
            relay.apply(Fixtures.flag("big", version: 301))
            try await slow.waitFor("patches again") { $0.contains(#""version":301"#) }
        }
    }

    @Test("a deleted environment ends its streams; graceful shutdown ends the others cleanly")
    func endings() async throws {
        let other = Fixtures.environment(id: "env-2", sdkKeys: [("sdk-other", nil)], mobileKey: "mob-other",
            clientSideID: "other-client-id")
        let survivor = try await InProcessRelay.with(records: [Fixtures.environment(), other]) { relay in
            let doomed = try await RawConnection.connect(port: relay.port)
            try await doomed.get("/all", headers: [Self.auth])
            try await doomed.waitFor("the put") { $0.contains("event: put") }
            let survivor = try await RawConnection.connect(port: relay.port)
            try await survivor.get("/all", headers: ["Authorization: api_key sdk-other"])
            try await survivor.waitFor("the put") { $0.contains("event: put") }
            relay.apply(Fixtures.environmentTombstone(version: 2))
            try await doomed.waitForClose()
            #expect(doomed.text.hasSuffix("0\r\n\r\n"), "the chunked body is terminated")
            #expect(survivor.isClosed == false)
            return survivor
        }
        try await survivor.waitForClose()
        #expect(survivor.text.hasSuffix("0\r\n\r\n"))
    }

    @Test("a stream opened with a rotated key ends at the key's expiry, not at the next heartbeat, and gets nothing after it")
    func keyExpiry() async throws {
        let expiresAt = WallClock.nowMilliseconds() + 1_500
        let rotated = Fixtures.environment(version: 2, sdkKeys: [("sdk-new", nil), (Fixtures.sdkKey, expiresAt)])
        // The heartbeat (30 s by default) is far beyond the expiry: only the stream's own timer can end it in time.
        try await InProcessRelay.with(records: [rotated, Fixtures.flag("f", version: 3)]) { relay in
            let connection = try await RawConnection.connect(port: relay.port)
            try await connection.get("/all", headers: [Self.auth])
            try await connection.waitFor("the put") { $0.contains("event: put") }
            let survivor = try await RawConnection.connect(port: relay.port)
            try await survivor.get("/all", headers: ["Authorization: sdk-new"])
            try await survivor.waitFor("the put") { $0.contains("event: put") }
            relay.apply(Fixtures.flag("before-expiry", version: 4))
            try await connection.waitFor("the change made before the expiry") { $0.contains(#""key":"before-expiry""#) }
            try await connection.waitForClose(timeout: .seconds(5))
            let closedAt = WallClock.nowMilliseconds()
            #expect(closedAt >= expiresAt, "not before the expiry")
            #expect(closedAt - expiresAt < 1_000, "within 1 s of the expiry (took \(closedAt - expiresAt) ms)")
            #expect(connection.text.hasSuffix("0\r\n\r\n"), "the chunked body is terminated")
            relay.apply(Fixtures.flag("after-expiry", version: 5))
            try await survivor.waitFor("the change on the new key's stream") { $0.contains(#""key":"after-expiry""#) }
            #expect(!connection.text.contains("after-expiry"))
            let again = try await RawConnection.connect(port: relay.port)
            try await again.get("/all", headers: [Self.auth])
            try await again.waitFor("401") { $0.hasSuffix("}") }
            #expect(again.text.hasPrefix("HTTP/1.1 401"))
        }
    }

    @Test("a key removed outright (rotation without a grace period) or whose expiry is moved earlier ends its streams at once")
    func keyRevoked() async throws {
        let other = Fixtures.environment(id: "env-2", sdkKeys: [("sdk-other", nil)], mobileKey: "mob-other",
            clientSideID: "other-client-id")
        try await InProcessRelay.with(records: [Fixtures.environment(), other]) { relay in
            let revoked = try await RawConnection.connect(port: relay.port)
            try await revoked.get("/all", headers: [Self.auth])
            try await revoked.waitFor("the put") { $0.contains("event: put") }
            let shortened = try await RawConnection.connect(port: relay.port)
            try await shortened.get("/all", headers: ["Authorization: sdk-other"])
            try await shortened.waitFor("the put") { $0.contains("event: put") }

            let start = ContinuousClock.now
            relay.apply(Fixtures.environment(version: 2, sdkKeys: [("sdk-new", nil)]))
            try await revoked.waitForClose(timeout: .seconds(2))
            #expect(ContinuousClock.now - start < .seconds(1))

            let expiresAt = WallClock.nowMilliseconds() + 300
            relay.apply(Fixtures.environment(
                id: "env-2", version: 2, sdkKeys: [("sdk-other-new", nil), ("sdk-other", expiresAt)], mobileKey: "mob-other",
                clientSideID: "other-client-id"))
            try await shortened.waitForClose(timeout: .seconds(3))
            #expect(WallClock.nowMilliseconds() - expiresAt < 1_000)
            #expect(WallClock.nowMilliseconds() >= expiresAt)
        }
    }

    @Test("browser and mobile streams are ping-only, with CORS and secure mode")
    func clientStreams() async throws {
        let records = [Fixtures.environment(sdkKeys: [("sdk-key-123", nil)], secureMode: true), Fixtures.flag("f", version: 1)]
        try await InProcessRelay.with(records: records) { relay in
            let alice = "eyJraW5kIjoidXNlciIsImtleSI6ImFsaWNlIn0"
            let hash = "4ce43678e0478ffe83967db5bcf1e3e569c5516d4d64b5c232e6a57b5e7fbdd8"
            let browser = try await RawConnection.connect(port: relay.port)
            try await browser.get("/eval/\(Fixtures.clientSideID)/\(alice)?h=\(hash)", headers: ["Origin: https://app.example"])
            try await browser.waitFor("the first ping") { $0.contains("event: ping\ndata:  \n\n") }
            #expect(browser.text.contains("Access-Control-Allow-Origin: https://app.example\r\n"))
            let unsigned = try await RawConnection.connect(port: relay.port)
            try await unsigned.get("/eval/\(Fixtures.clientSideID)/\(alice)")
            try await unsigned.waitFor("400") { $0.hasSuffix("}") }
            #expect(unsigned.text.hasPrefix("HTTP/1.1 400"))
            #expect(unsigned.text.contains("context hash does not match"))
            let mobile = try await RawConnection.connect(port: relay.port)
            try await mobile.send("REPORT /meval HTTP/1.1\r\nHost: relay\r\nAuthorization: \(Fixtures.mobileKey)\r\n"
                + "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"key\":\"alice\"}")
            try await mobile.waitFor("the first ping") { $0.contains("event: ping") }
            relay.apply(Fixtures.flag("f", version: 2))
            try await browser.waitFor("a ping for the change") { $0.occurrences(of: "event: ping") == 2 }
            try await mobile.waitFor("a ping for the change") { $0.occurrences(of: "event: ping") == 2 }
            #expect(!browser.text.contains("event: patch"))
        }
    }

    private func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
