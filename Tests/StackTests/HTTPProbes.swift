import Foundation
import ModelsCore
import Testing
import TestSupport

/// The probes of issue 17 against the running stack (every service as `make run` starts it), over
/// raw sockets where the HTTP framing matters.
extension LocalStackTests {
    /// A base URL's port.
    private static func port(_ url: String) -> Int { URLComponents(string: url)?.port ?? 80 }

    /// HTTP/1.0 and `Connection: close` close after the answer, and a malformed chunk size gets a
    /// JSON 400, on all four services.
    static func probeConnections(_ stack: Stack) async throws {
        let bases: [(name: String, url: String, post: String, auth: String)] = [
            ("management-api", "http://127.0.0.1:\(stack.ports["VANE_API_PORT"]!)", "/api/v1/projects", "Bearer \(stack.token)"),
            ("relay-streamer", stack.relay, "/ofrep/v1/evaluate/flags", stack.sdkKey),
            ("events-ingest", stack.events, "/bulk", stack.sdkKey),
            ("events-processor", stack.summary["processor"]!, "/healthz", ""),
        ]
        for base in bases {
            let port = port(base.url)
            let old = try await RawConnection.connect(port: port)
            try await old.send("GET /healthz HTTP/1.0\r\n\r\n")
            try await old.waitForClose(timeout: .seconds(5))
            #expect(old.text.hasPrefix("HTTP/1.0 200 OK\r\n"), "\(base.name): \(old.text)")

            let closing = try await RawConnection.connect(port: port)
            try await closing.send("GET /healthz HTTP/1.1\r\nHost: vane\r\nConnection: close\r\n\r\n")
            try await closing.waitForClose(timeout: .seconds(5))
            #expect(closing.text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(base.name): \(closing.text)")

            for size in ["zz", "-1", "fffffffffffffffffffff"] {
                let chunked = try await RawConnection.connect(port: port)
                try await chunked.send(
                    "POST \(base.post) HTTP/1.1\r\nHost: vane\r\nAuthorization: \(base.auth)\r\nContent-Type: application/json\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n\(size)\r\n{}\r\n0\r\n\r\n")
                try await chunked.waitForClose(timeout: .seconds(5))
                #expect(chunked.text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(base.name), chunk size \(size): \(chunked.text)")
                #expect(chunked.text.contains(#""code":"bad_request""#), "\(base.name), chunk size \(size)")
            }
        }
    }

    /// A client that writes its whole request before reading (Python's urllib, many SDKs) gets its
    /// 413 (or 401) within 5 s when the body is too large, by `Content-Length` or chunked; a client
    /// that trickles its request gets 408 after the request timeout.
    static func probeOversizedAndSlow(_ stack: Stack, requestTimeout: Duration) async throws {
        let body = String(repeating: "x", count: 5_800_000)
        let targets: [(name: String, port: Int, request: String, status: String)] = [
            ("events-ingest", port(stack.events), "POST /bulk HTTP/1.1\r\nAuthorization: \(stack.sdkKey)", "413"),
            ("events-ingest, no key", port(stack.events), "POST /bulk HTTP/1.1", "401"),
            ("management-api", stack.ports["VANE_API_PORT"]!,
             "POST /api/v1/projects HTTP/1.1\r\nAuthorization: Bearer \(stack.token)", "413"),
            ("management-api, no token", stack.ports["VANE_API_PORT"]!, "POST /api/v1/projects HTTP/1.1", "401"),
            ("relay OFREP", port(stack.relay), "POST /ofrep/v1/evaluate/flags HTTP/1.1\r\nAuthorization: \(stack.sdkKey)", "413"),
            ("relay REPORT stream", port(stack.relay),
             "REPORT /meval HTTP/1.1\r\nAuthorization: \(stack.summary["mobileKey"] ?? "")", "413"),
        ]
        var slowest = Duration.zero
        defer { print("oversized requests: the slowest status came \(slowest) after the request was started") }
        for target in targets {
            let framings = ["Content-Length: \(body.utf8.count)", "Transfer-Encoding: chunked"]
            for (framing, connectionHeader) in framings.flatMap({ framing in ["Connection: close\r\n", ""].map { (framing, $0) } }) {
                let chunked = framing.hasPrefix("Transfer")
                let payload = chunked ? String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n" : body
                let connection = try await RawConnection.connect(port: target.port)
                let start = ContinuousClock.now
                // Everything is written before anything is read, as urllib does.
                try await connection.send(
                    "\(target.request)\r\nHost: vane\r\nContent-Type: application/json\r\n\(connectionHeader)\(framing)\r\n\r\n\(payload)")
                try await connection.waitFor("the status", timeout: .seconds(15)) { $0.contains("\r\n\r\n") }
                let what = "\(target.name), \(framing), \(connectionHeader.isEmpty ? "keep-alive" : "close")"
                #expect(connection.text.hasPrefix("HTTP/1.1 \(target.status) "), "\(what): \(connection.text.prefix(200))")
                // Timed at receipt (a few tens of ms here): the time this task saw it once took 6 s in CI's busiest pass,
                // while CPU-bound tests held the test process's task pool.
                let took = try #require(connection.firstReceivedAt) - start
                slowest = max(slowest, took)
                #expect(took < .seconds(5), "\(what): status after \(took)")
                await connection.close()
            }
        }

        let services = [
            ("management-api", stack.ports["VANE_API_PORT"]!), ("relay", port(stack.relay)), ("events-ingest", port(stack.events)),
        ]
        for (name, port) in services {
            let slow = try await RawConnection.connect(port: port)
            let start = ContinuousClock.now
            let head = "GET /healthz HTTP/1.1\r\nHost: vane\r\nX-Trickle: "
            try await slow.send(head)
            var sent = 0
            while !slow.text.contains("\r\n\r\n"), ContinuousClock.now - start < requestTimeout + .seconds(5) {
                try? await slow.send("a")
                sent += 1
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(slow.text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(name): \(slow.text)")
            #expect(slow.text.contains(#""code":"request_timeout""#), "\(name)")
            // Timed at receipt, not when this loop (which sleeps 500 ms a step) noticed it.
            let took = (slow.firstReceivedAt ?? .now) - start
            #expect(
                took >= requestTimeout && took < requestTimeout + .seconds(2), "\(name): cut off after \(took) (\(sent) bytes trickled)")
            try await slow.waitForClose(timeout: .seconds(10))
        }
    }

    /// A stream whose key expires (rotation with a 2 s grace period) closes at the expiry (within 2 s
    /// of it, not before) and gets no flag data after it; deleting the project closes the streams of its environments.
    static func probeStreamExpiry(_ stack: Stack) async throws {
        let project = "probe-\(UUID().uuidString.prefix(6).lowercased())"
        let created = try await stack.call("POST", "/projects", #"{"key":"\#(project)","name":"Probe"}"#)
        #expect(created.status == 201, "\(created.text)")
        let environments = try JSONParser.parse(created.body)["environments"]?.arrayValue ?? []
        let production = try #require(environments.first { $0["key"] == "production" })
        let test = try #require(environments.first { $0["key"] == "test" })
        let sdkKey = try #require(production["sdkKey"]?.stringValue)
        let testKey = try #require(test["sdkKey"]?.stringValue)
        let flag = #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#
        #expect(try await stack.call("POST", "/projects/\(project)/flags", flag).status == 201)
        let relayPort = port(stack.relay)

        func openStream(_ key: String) async throws -> RawConnection {
            let deadline = ContinuousClock.now + .seconds(20)
            while true {
                let stream = try await RawConnection.connect(port: relayPort)
                try await stream.get("/all", headers: ["Authorization: \(key)"])
                try await stream.waitFor("the answer") { $0.contains("event: put") || $0.hasSuffix("}") }
                if stream.text.contains("event: put"), stream.text.contains(#""f":{"#) { return stream }
                await stream.close()
                guard ContinuousClock.now < deadline else { throw RawConnection.Timeout(description: "no stream for \(project)") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        let stream = try await openStream(sdkKey)
        let other = try await openStream(testKey)
        let rotated = try await stack.call(
            "POST", "/projects/\(project)/environments/production/keys/sdk/rotate", #"{"expireOldAfterSeconds":2}"#)
        #expect(rotated.status == 200, "\(rotated.text)")
        // The expiry the server set (its commit time + 2 s, Unix milliseconds), as an instant of this clock.
        let retired = try JSONParser.parse(rotated.body)["retiredKeys"]?.arrayValue ?? []
        let expiresAtMillis = try #require(retired.first { $0["key"]?.stringValue == sdkKey }?["expiresAt"]?.numberValue,
            "the rotated key is among the retired keys: \(rotated.text)")
        let expiry = ContinuousClock.now + .milliseconds(Int64(expiresAtMillis - Date().timeIntervalSince1970 * 1_000))
        try await Task.sleep(until: expiry + .milliseconds(500))
        let changed = try await stack.call("PATCH", "/projects/\(project)/flags/f/environments/production", #"{"on":false}"#)
        #expect(changed.status == 200, "\(changed.text)")
        try await stream.waitForClose(timeout: .seconds(4))
        let closedAfter = try #require(stream.closedAt) - expiry
        // Not before the expiry (the grace period), and within 2 s of it (the relay ends it at the expiry).
        #expect(closedAfter > .milliseconds(-100), "the stream of the rotated key closed \(closedAfter) before its expiry")
        #expect(closedAfter < .seconds(2), "the stream of the expired key closed \(closedAfter) after the expiry")
        #expect(!stream.text.contains("event: patch"), "no flag data after the expiry: \(stream.text.suffix(500))")

        let deletedAt = ContinuousClock.now
        #expect(try await stack.call("DELETE", "/projects/\(project)").status == 204)
        try await other.waitForClose(timeout: .seconds(5))
        #expect(try #require(other.closedAt) - deletedAt < .seconds(3))
    }
}
