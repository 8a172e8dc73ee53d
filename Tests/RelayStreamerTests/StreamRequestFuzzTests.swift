import Foundation
import ModelsCore
import NIOHTTP1
import ServiceKit
import Testing

@testable import RelayStreamer

/// Fuzzes the streaming endpoints' request parsing (`StreamRequest`: method, path, `h` query parameter, headers,
/// then the base64url or body context) with a corpus-and-mutation driver: deterministic (VANE_FUZZ_SEED), for
/// VANE_FUZZ_SECONDS (default 2; `make fuzz` passes FUZZ_SECONDS). Not libFuzzer: StreamRequest takes NIO's
/// `HTTPRequestHead`, and a coverage-instrumented NIO would need a second build of the package (docs/fuzzing.md).
@Suite("fuzz: SSE stream request parsing")
struct StreamRequestFuzzTests {
    /// SplitMix64: the same seed gives the same inputs on every machine.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let contexts = [
        #"{"key":"alice"}"#, #"{"kind":"multi","user":{"key":"bob"},"org":{"key":"acme"}}"#,
        #"{"kind":"user","key":"zed","custom":{"plan":"gold"},"privateAttributeNames":["plan"]}"#, #"{"kind":"","key":""}"#,
    ]
    static let tokens = [
        "/", "all", "eval", "meval", "ping", "mping", "5f2b9f6e1c2d3e4f5a6b7c8d", "?", "&", "h=", "=", "%", "%00", "%2F", "..",
        "=", "==", "-", "_", "+", "\u{0}", "é", "\u{FFFD}", "REPORT", "eyJrZXkiOiJhIn0", "//", "?h=abc&h=", "/all/",
    ]

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The seed URIs: every stream route, well formed.
    static var seeds: [String] {
        let context = base64URL(contexts[0])
        return ["/all", "/eval/5f2b9f6e1c2d3e4f5a6b7c8d/\(context)?h=00ff", "/eval/5f2b9f6e1c2d3e4f5a6b7c8d",
                "/ping/5f2b9f6e1c2d3e4f5a6b7c8d", "/meval/\(context)", "/meval", "/mping"]
            + contexts.map { "/meval/\(base64URL($0))" }
    }

    static func mutate(_ text: String, using random: inout Generator) -> String {
        var bytes = Array(text.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty:  // flip a bit
                let i = min(position, bytes.count - 1)
                bytes[i] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &random)
            case 1:  // insert a token
                bytes.insert(contentsOf: Array(tokens.randomElement(using: &random)!.utf8), at: position)
            case 2 where !bytes.isEmpty:  // delete a range
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.removeSubrange(min(position, bytes.count - 1)..<end)
            case 3:  // insert random bytes
                bytes.insert(contentsOf: (0..<Int.random(in: 1...6, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                             at: position)
            case 4 where !bytes.isEmpty:  // duplicate a range
                let start = min(position, bytes.count - 1)
                bytes.insert(contentsOf: bytes[start..<min(bytes.count, start + 16)], at: start)
            default:  // splice another seed
                let other = Array(seeds.randomElement(using: &random)!.utf8)
                bytes = Array(bytes.prefix(position)) + other.suffix(max(0, other.count - position))
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One input: the parse must not crash, must be deterministic, and a context must decode or be refused with 400.
    static func check(method: HTTPMethod, uri: String, body: [UInt8], headers: HTTPHeaders) {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        guard let request = StreamRequest(head) else {
            #expect(StreamRequest(head) == nil, "parsing \(uri) is deterministic")
            return
        }
        let again = StreamRequest(head)
        #expect(again?.route == request.route && again?.context == request.context, "parsing \(uri) is deterministic")
        if case .path(let text) = request.context { #expect(!text.isEmpty) }
        do {
            let context = try request.decodeContext(body: body)
            if case .none = request.context { #expect(context == nil) } else { #expect(context != nil) }
        } catch {
            #expect(error.status == .badRequest, "\(uri): a bad context is a 400, not \(error.status)")
        }
    }

    @Test("mutated stream requests parse without crashing, deterministically, and bad contexts are 400")
    func fuzzStreamRequests() throws {
        let environment = ProcessInfo.processInfo.environment
        let seconds = Double(environment["VANE_FUZZ_SECONDS"] ?? "") ?? 2
        var random = Generator(state: UInt64(environment["VANE_FUZZ_SEED"] ?? "") ?? 1)
        var corpus = Self.seeds
        var bodies = Self.contexts.map { Array($0.utf8) }
        let deadline = Date().addingTimeInterval(seconds)
        var runs = 0
        while Date() < deadline || runs < 2000 {
            runs += 1
            let uri = Self.mutate(corpus.randomElement(using: &random)!, using: &random)
            let body = Array(Self.mutate(String(decoding: bodies.randomElement(using: &random)!, as: UTF8.self), using: &random).utf8)
            let method: HTTPMethod = Bool.random(using: &random) ? .GET : .RAW(value: "REPORT")
            var headers: HTTPHeaders = ["Host": "relay"]
            if Bool.random(using: &random) { headers.add(name: "Authorization", value: Self.mutate("sdk-key", using: &random)) }
            if Bool.random(using: &random) { headers.add(name: "Connection", value: "close") }
            Self.check(method: method, uri: uri, body: body, headers: headers)
            // Inputs that still parse as a stream request are kept, so later mutations go deeper.
            if corpus.count < 2000, StreamRequest(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)) != nil {
                corpus.append(uri)
            }
            if bodies.count < 500, (try? JSONParser.parse(body)) != nil { bodies.append(body) }
        }
        print("stream request fuzzing: \(runs) inputs, corpus \(corpus.count) URIs and \(bodies.count) bodies")
    }

    /// Edge cases of the stream paths (empty segments, padding only, NUL, a lone percent sign), on every run.
    @Test("edge cases", arguments: [
        "/eval//", "/meval/=", "/meval/%", "/eval/x/eyJrZXkiOiJhIn0==?h", "/all?h=&h=x", "/meval/\u{0}", "//all", "/mping/",
    ])
    func regressions(uri: String) {
        Self.check(method: .GET, uri: uri, body: [], headers: ["Host": "relay"])
        Self.check(method: .RAW(value: "REPORT"), uri: uri, body: Array("{".utf8), headers: ["Host": "relay"])
    }
}
