import Foundation
import ModelsCore

/// What management-api accepts as text, decided once for every route (pure functions; applied by
/// ``RequestInputMiddleware`` before any handler runs).
///
/// The NUL character (U+0000) is refused everywhere: in the path, in query parameters, and in any
/// string or member name of a JSON body (variation values included). PostgreSQL can store it
/// neither in `text` nor in `jsonb`, so accepting it would only move the failure to the database.
enum InputText {
    /// The message for a NUL character.
    static let nulMessage = "must not contain the NUL character (U+0000)"

    /// Whether a raw (percent-encoded) request path holds a NUL character.
    static func pathHoldsNUL(_ rawPath: String) -> Bool {
        rawPath.contains("\0") || rawPath.range(of: "%00", options: .caseInsensitive) != nil
    }

    /// The first query parameter (name) whose name or decoded value holds a NUL character.
    static func queryParameterHoldingNUL(_ parameters: some Sequence<(name: String, value: String)>) -> String? {
        for (name, value) in parameters where name.contains("\0") || value.contains("\0") {
            return name.replacingOccurrences(of: "\0", with: "\\u0000")
        }
        return nil
    }

    /// The JSON path (`name`, `variations[2].value.label`) of the first string or member name
    /// holding a NUL character, or nil.
    static func pathOfNUL(in value: JSONValue, at path: String = "") -> String? {
        switch value {
        case .string(let text):
            return text.contains("\0") ? (path.isEmpty ? "$" : path) : nil
        case .array(let items):
            for (index, item) in items.enumerated() {
                if let found = pathOfNUL(in: item, at: "\(path)[\(index)]") { return found }
            }
            return nil
        case .object(let members):
            for name in members.keys.sorted(by: utf8Less) {
                let child = path.isEmpty ? name : "\(path).\(name)"
                if name.contains("\0") { return child.replacingOccurrences(of: "\0", with: "\\u0000") }
                if let found = pathOfNUL(in: members[name]!, at: child) { return found }
            }
            return nil
        case .null, .bool, .number:
            return nil
        }
    }

    /// Whether a `Content-Type` names JSON: `application/json` or any `application/…+json`
    /// (JSON merge patch included), with any parameters.
    static func isJSON(contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
