import ConfigFeed
import ModelsCore
import NIOCore
import NIOHTTP1
import ServiceKit
import Testing

@testable import RelayStreamer

@Suite("SSE frames, stream requests and client contexts")
struct ProtocolTests {
    @Test("frames carry their chunk framing; the plain form is the event alone")
    func frames() {
        let frame = SSEFrame.event("patch", data: Array("{\"a\":1}".utf8))
        #expect(String(buffer: frame.plain) == "event: patch\ndata: {\"a\":1}\n\n")
        #expect(String(buffer: frame.chunked) == "1c\r\nevent: patch\ndata: {\"a\":1}\n\n\r\n")
        #expect(String(buffer: SSEFrame.heartbeat.chunked) == "2\r\n:\n\r\n")
        #expect(String(buffer: SSEFrame.ping.plain) == "event: ping\ndata:  \n\n")
    }

    @Test("patch and delete events as the Python SDK reads them")
    func events() throws {
        var flag = FeatureFlag(key: "f", version: 4, on: true, variations: [true, false], offVariation: 1, fallthrough: .init(variation: 0))
        flag.salt = "s"
        let patch = StreamEvent(ConfigChange(environmentID: "e", revision: 9, item: .flag(flag)))
        let text = String(buffer: patch.serverFrame.plain)
        #expect(text.hasPrefix("event: patch\ndata: {\"path\":\"/flags/f\",\"data\":{"))
        let json = try JSONParser.parse(String(text.dropFirst("event: patch\ndata: ".count).dropLast(2)))
        #expect(try FeatureFlag(json: json["data"]!) == flag)
        let delete = StreamEvent(ConfigChange(environmentID: "e", revision: 10, item: .deletedSegment(key: "s", version: 3)))
        #expect(String(buffer: delete.serverFrame.plain) == "event: delete\ndata: {\"path\":\"/segments/s\",\"version\":3}\n\n")
        #expect(delete.revision == 10)
    }

    private func head(_ method: HTTPMethod, _ uri: String, headers: [(String, String)] = []) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    @Test("streaming routes are recognized from the request head; everything else goes to the router")
    func streamRequests() {
        let report = HTTPMethod.RAW(value: "REPORT")
        #expect(StreamRequest(head(.GET, "/all", headers: [("Authorization", "sdk-1")]))?.route == .server)
        #expect(StreamRequest(head(.GET, "/all"))?.authorization == nil)
        #expect(StreamRequest(head(.GET, "/all?filter=x"))?.route == .server)
        let eval = StreamRequest(head(.GET, "/eval/abc/eyJrZXkiOiJhIn0?h=ff&withReasons=true"))
        #expect(eval?.route == .clientSide(environmentID: "abc"))
        #expect(eval?.context == .path("eyJrZXkiOiJhIn0"))
        #expect(eval?.secureModeHash == "ff")
        #expect(StreamRequest(head(report, "/eval/abc"))?.context == .body)
        #expect(StreamRequest(head(.GET, "/ping/abc"))?.context == StreamRequest.ContextSource.none)
        #expect(StreamRequest(head(.GET, "/meval/eyJrZXkiOiJhIn0"))?.route == .mobile)
        #expect(StreamRequest(head(report, "/meval"))?.context == .body)
        #expect(StreamRequest(head(.GET, "/mping"))?.route == .mobile)
        for (method, uri) in [
            (HTTPMethod.POST, "/all"), (.OPTIONS, "/eval/abc/x"), (.GET, "/sdk/latest-all"), (.GET, "/all/x"), (.GET, "/eval/abc"),
            (.GET, "/eval//x"), (.GET, "/healthz"), (report, "/all"), (.GET, "all"), (.GET, "/"),
        ] {
            #expect(StreamRequest(head(method, uri)) == nil, "\(method) \(uri)")
        }
    }

    @Test("base64url contexts, padded or not, current or old user format")
    func contexts() throws {
        // Appendix A of the protocol reference.
        let padded = "eyJraW5kIjoidXNlciIsImtleSI6ImFsaWNlIn0="
        #expect(try ClientContext.decode(base64URL: padded).fullyQualifiedKey == "alice")
        #expect(try ClientContext.decode(base64URL: padded.dropLast()).fullyQualifiedKey == "alice")
        let oldUser = Base64URLTests.encode(#"{"key":"bob","custom":{"tier":"gold"}}"#)
        #expect(try ClientContext.decode(base64URL: oldUser).individualContexts[0].attributes["tier"] == "gold")
        #expect(throws: APIError.self) { try ClientContext.decode(base64URL: "***") }
        #expect(throws: APIError.self) { try ClientContext.decode(base64URL: Base64URLTests.encode("[1]")) }
        #expect(throws: APIError.self) { try ClientContext.decode(json: Array(#"{"kind":"user"}"#.utf8)) }
    }

    @Test("secure mode: the HMAC of the fully-qualified key under a valid SDK key")
    func secureMode() throws {
        let directory = EnvironmentDirectory()
        directory.apply(Fixtures.environment(sdkKeys: [("sdk-key-123", nil)], secureMode: true))
        let environment = try #require(directory.environment(id: Fixtures.environmentID))
        let alice = EvaluationContext.user("alice")
        // Appendix A of the protocol reference.
        let hash = "4ce43678e0478ffe83967db5bcf1e3e569c5516d4d64b5c232e6a57b5e7fbdd8"
        try ClientContext.checkSecureMode(alice, hash: hash, environment: environment, directory: directory, now: 0)
        #expect(throws: APIError.self) {
            try ClientContext.checkSecureMode(alice, hash: nil, environment: environment, directory: directory, now: 0)
        }
        #expect(throws: APIError.self) {
            try ClientContext.checkSecureMode(.user("bob"), hash: hash, environment: environment, directory: directory, now: 0)
        }
        let org = try EvaluationContext(json: ["kind": "org", "key": "acme"])
        try ClientContext.checkSecureMode(
            org, hash: "d4dcaf2ad7181e88a9280e293c1e63248bef1b3bd8341032f6e16d916e5cc3d0", environment: environment,
            directory: directory, now: 0)
    }
}

@Suite("Base64url")
struct Base64URLTests {
    static func encode(_ text: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var output = ""
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text.utf8 {
            accumulator = accumulator << 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                output.append(alphabet[Int(accumulator >> UInt32(bits) & 63)])
            }
        }
        if bits > 0 { output.append(alphabet[Int(accumulator << UInt32(6 - bits) & 63)]) }
        return output
    }

    @Test("decodes with and without padding, and rejects malformed input")
    func decode() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar", "ü🙂?>>"] {
            #expect(Base64URL.decode(Self.encode(text)) == Array(text.utf8), "\(text)")
        }
        #expect(Base64URL.decode("Zm9vYg==") == Array("foob".utf8))
        #expect(Base64URL.decode("Pz4-") == Array("?>>".utf8))
        #expect(Base64URL.decode("Pz4+") == Array("?>>".utf8))
        #expect(Base64URL.decode("Zm9v!") == nil)
        #expect(Base64URL.decode("Zm=9") == nil)
        #expect(Base64URL.decode("Z") == nil)
    }
}
