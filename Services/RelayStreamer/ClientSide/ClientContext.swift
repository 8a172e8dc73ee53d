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
