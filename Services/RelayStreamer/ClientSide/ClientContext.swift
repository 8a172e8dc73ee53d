import ConfigFeed
import ModelsCore
import ServiceKit

/// Contexts as client-side SDKs send them: base64url JSON in the path (GET) or JSON in the body
/// (REPORT), in the current or the old user format; and the secure-mode check on them.
enum ClientContext {
    /// Decodes a context from the base64url path segment (padded or not, as Relay accepts).
    static func decode(base64URL text: some StringProtocol) throws(APIError) -> EvaluationContext {
        guard let bytes = Base64URL.decode(text) else {
            throw APIError.badRequest("the context in the URL is not valid base64url")
        }
        return try decode(json: bytes)
    }

    /// Decodes a context from JSON bytes.
    static func decode(json bytes: [UInt8]) throws(APIError) -> EvaluationContext {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw APIError.badRequest("the context is not valid JSON: \(error)")
        }
        do {
            return try EvaluationContext(json: json)
        } catch {
            throw APIError.badRequest("invalid context: \(error)")
        }
    }

    /// In secure mode, `hash` (the `h` query parameter) must be the HMAC-SHA256 of the context's
    /// fully-qualified key under one of the environment's valid SDK keys; 400 otherwise, with
    /// Relay's message.
    static func checkSecureMode(
        _ context: EvaluationContext, hash: String?, environment: EnvironmentRecord, directory: EnvironmentDirectory, now: Int
    ) throws(APIError) {
        guard environment.secureMode else { return }
        let expected = directory.secureModeKeys(environmentID: environment.id, now: now)
        let key = context.fullyQualifiedKey
        guard let hash, expected.contains(where: { constantTimeEqual($0.hexAuthenticationCode(key), hash) }) else {
            throw APIError.badRequest("Environment is in secure mode, and context hash does not match.")
        }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.lowercased().utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// Base64 with the URL-safe alphabet (`-` and `_`), padding optional; the standard alphabet's `+`
/// and `/` are accepted too, since some clients send them.
enum Base64URL {
    /// The decoded bytes, or nil for invalid input.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for byte in text.utf8 {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default:
                return nil
            }
            guard padding == 0 else { return nil }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // 6 leftover bits can never come from whole bytes; padding may not exceed what completes a quantum.
        guard bits < 6, padding <= 2 else { return nil }
        return output
    }
}
