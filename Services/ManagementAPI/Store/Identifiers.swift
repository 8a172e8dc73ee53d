import Foundation
import ModelsCore

/// Keys, secrets and ids the API generates.
enum Identifiers {
    /// Resource keys: `[A-Za-z0-9._-]{1,256}`.
    static func isValidKey(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard (1...256).contains(utf8.count) else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// `sdk-<uuid>`, LaunchDarkly's format (only `[A-Za-z0-9-]`, which the SDKs require).
    static func sdkKey() -> String { "sdk-\(UUID().uuidString.lowercased())" }

    /// `mob-<uuid>`.
    static func mobileKey() -> String { "mob-\(UUID().uuidString.lowercased())" }

    /// A client-side id: 24 lowercase hex digits, as LaunchDarkly's JS SDK expects.
    static func clientSideID() -> String { randomHex(bytes: 12) }

    /// A new API token secret (shown once; only its SHA-256 is stored).
    static func apiToken() -> String { "vane-\(randomHex(bytes: 24))" }

    /// A bucketing salt.
    static func salt() -> String { randomHex(bytes: 16) }

    /// A rule id.
    static func ruleID() -> String { UUID().uuidString.lowercased() }

    static func randomHex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return SHA256.hex((0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }
}

/// JSON Merge Patch (RFC 7396).
enum MergePatch {
    static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        guard case .object(let patchObject) = patch else { return patch }
        var result: [String: JSONValue]
        if case .object(let targetObject) = target { result = targetObject } else { result = [:] }
        for (key, value) in patchObject {
            if value.isNull {
                result[key] = nil
            } else {
                result[key] = apply(value, to: result[key] ?? .null)
            }
        }
        return .object(result)
    }
}
