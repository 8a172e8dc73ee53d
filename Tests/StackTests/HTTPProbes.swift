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

    /// A stream whose key expires (rotation with a 2 s grace period) closes by t+4 s and gets no
    /// flag data after the expiry; deleting the project closes the streams of its environments.
    static func probeStreamExpiry(_ stack: Stack) async throws {
        let project = "probe-\(UUID().uuidString.prefix(6).lowercased())"
        let created = try await stack.call("POST", "/projects", #"{"key":"\#(project)","name":"Probe"}"#)
        #expect(created.status == 201, "\(created.text)")
        let environments = try JSONParser.parse(created.body)["environments"]?.arrayValue ?? []
        let production = try #require(environments.first { $0["key"] == "production" })
        let test = try #require(environments.first { $0["key"] == "test" })
        let sdkKey = try #require(production["sdkKey"]?.stringValue)
        let testKey = try #require(test["sdkKey"]?.stringValue)
        #expect(try await stack.call("POST", "/projects/\(project)/flags", #"{"key":"f","name":"F","variations":[{"value":true},{"value":false}]}"#).status == 201)
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
        let rotatedAt = ContinuousClock.now
        let rotated = try await stack.call(
            "POST", "/projects/\(project)/environments/production/keys/sdk/rotate", #"{"expireOldAfterSeconds":2}"#)
        #expect(rotated.status == 200, "\(rotated.text)")
        try await Task.sleep(until: rotatedAt + .milliseconds(2_500))
        let changed = try await stack.call("PATCH", "/projects/\(project)/flags/f/environments/production", #"{"on":false}"#)
        #expect(changed.status == 200, "\(changed.text)")
        try await stream.waitForClose(timeout: .seconds(4))
        let closedAfter = try #require(stream.closedAt) - rotatedAt
        #expect(closedAfter < .seconds(4), "the stream of the expired key closed \(closedAfter) after the rotation")
        #expect(!stream.text.contains("event: patch"), "no flag data after the expiry: \(stream.text.suffix(500))")

        let deletedAt = ContinuousClock.now
        #expect(try await stack.call("DELETE", "/projects/\(project)").status == 204)
        try await other.waitForClose(timeout: .seconds(5))
        #expect(try #require(other.closedAt) - deletedAt < .seconds(3))
    }
}
