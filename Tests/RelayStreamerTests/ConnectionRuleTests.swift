import ModelsCore
import Testing
import TestSupport

@testable import RelayStreamer

/// The relay's connections over raw TCP: requests that ask to close are answered and closed, on
/// the stream paths' refusals as on ordinary routes, and malformed requests get a JSON 400.
@Suite("Relay connection rules", .serialized, .timeLimit(.minutes(2)))
struct ConnectionRuleTests {
    private static let streamRefusals: [(name: String, request: String, status: String)] = [
        ("a bad base64 context", "GET /eval/\(Fixtures.clientSideID)/%%%% HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n", "400"),
        ("an unknown mobile key", "GET /mping HTTP/1.1\r\nHost: r\r\nAuthorization: mob-unknown\r\nConnection: close\r\n\r\n", "401"),
        ("an unknown SDK key", "GET /all HTTP/1.1\r\nHost: r\r\nAuthorization: sdk-unknown\r\nConnection: close\r\n\r\n", "401"),
        ("a malformed REPORT body",
         "REPORT /meval HTTP/1.1\r\nHost: r\r\nAuthorization: \(Fixtures.mobileKey)\r\nContent-Length: 3\r\n"
             + "Connection: close\r\n\r\n{{{", "400"),
        ("an HTTP/1.0 stream refusal", "GET /all HTTP/1.0\r\nAuthorization: sdk-unknown\r\n\r\n", "401"),
    ]

    @Test("stream-path refusals honour Connection: close and HTTP/1.0")
    func streamRefusalsClose() async throws {
        try await InProcessRelay.with { relay in
            for refusal in Self.streamRefusals {
                let connection = try await RawConnection.connect(port: relay.port)
                try await connection.send(refusal.request)
                try await connection.waitForClose(timeout: .seconds(5))
                #expect(connection.text.contains(" \(refusal.status) "), "\(refusal.name): \(connection.text)")
                #expect(connection.text.lowercased().contains("connection: close\r\n"), "\(refusal.name)")
                #expect(connection.text.hasSuffix("}"), "\(refusal.name): a JSON body")
            }
        }
    }

    @Test("ordinary routes close after HTTP/1.0 and Connection: close, and stay open otherwise")
    func ordinaryRoutes() async throws {
        try await InProcessRelay.with { relay in
            let old = try await RawConnection.connect(port: relay.port)
            try await old.send("GET /healthz HTTP/1.0\r\n\r\n")
            try await old.waitForClose(timeout: .seconds(5))
            #expect(old.text.hasPrefix("HTTP/1.0 200 OK\r\n"))

            let closing = try await RawConnection.connect(port: relay.port)
            try await closing.send(
                "GET /sdk/latest-all HTTP/1.1\r\nHost: r\r\nAuthorization: \(Fixtures.sdkKey)\r\nConnection: close\r\n\r\n")
            try await closing.waitForClose(timeout: .seconds(5))
            #expect(closing.text.hasPrefix("HTTP/1.1 200 OK\r\n"))

            let kept = try await RawConnection.connect(port: relay.port)
            try await kept.get("/healthz")
            try await kept.waitFor("the answer") { $0.contains("\r\n\r\n") }
            try await Task.sleep(for: .milliseconds(300))
            #expect(!kept.isClosed)
            await kept.close()
        }
    }

    @Test("a malformed chunk size gets a JSON 400 and the connection closes", arguments: ["zz", "-1", "fffffffffffffffffffff"])
    func malformedChunks(size: String) async throws {
        try await InProcessRelay.with { relay in
            for (path, auth) in [("/ofrep/v1/evaluate/flags", Fixtures.sdkKey), ("/meval", Fixtures.mobileKey)] {
                let method = path == "/meval" ? "REPORT" : "POST"
                let connection = try await RawConnection.connect(port: relay.port)
                try await connection.send(
                    "\(method) \(path) HTTP/1.1\r\nHost: r\r\nAuthorization: \(auth)\r\nContent-Type: application/json\r\n"
                        + "Transfer-Encoding: chunked\r\n\r\n\(size)\r\n{}\r\n0\r\n\r\n")
                try await connection.waitForClose(timeout: .seconds(5))
                #expect(connection.text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(path): \(connection.text)")
                #expect(connection.text.contains(#""code":"bad_request""#), "\(path)")
            }
        }
    }
}
