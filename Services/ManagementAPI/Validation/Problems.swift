import ModelsCore
import ServiceKit

/// One invalid field: the JSON path of the offending value (nil for the whole body) and what is wrong with it.
struct Problem: Sendable, Hashable {
    var path: String?
    var message: String

    init(path: String? = nil, message: String) {
        self.path = path
        self.message = message
    }
}

/// A request or model that failed validation, with every problem found. Pure: the HTTP layer answers it with one
/// 422 (``APIError/init(_:)-validation``).
struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    var problems: [Problem]

    init(_ problems: [Problem]) { self.problems = problems }
    init(path: String? = nil, _ message: String) { self.problems = [Problem(path: path, message: message)] }

    var description: String {
        problems.map { ($0.path.map { "\($0): " } ?? "") + $0.message }.joined(separator: "; ")
    }
}

/// Collects validation problems, each with the JSON path of the offending field, for one ``ValidationError``.
struct Problems {
    private(set) var problems: [Problem] = []

    var isEmpty: Bool { problems.isEmpty }

    mutating func add(_ path: String, _ message: String) {
        problems.append(Problem(path: path, message: message))
    }

    /// Adds every problem of `error`, with `prefix` before each path (`environments.production.rules[0]…`).
    mutating func add(_ error: ValidationError, prefix: String = "") {
        for problem in error.problems {
            let path = prefix.isEmpty ? problem.path : (problem.path.map { $0.isEmpty ? prefix : "\(prefix).\($0)" } ?? prefix)
            problems.append(Problem(path: path, message: problem.message))
        }
    }

    /// Throws every problem at once, if there are any.
    func check() throws(ValidationError) {
        if !problems.isEmpty { throw ValidationError(problems) }
    }

    /// The error for a model that could not even be decoded.
    static func decoding(_ error: ModelDecodingError, prefix: String = "") -> ValidationError {
        let path = prefix.isEmpty ? error.path : (error.path.isEmpty ? prefix : "\(prefix).\(error.path)")
        return ValidationError(path: path.isEmpty ? nil : path, error.message)
    }
}

extension Problems {
    /// A required resource key (`[A-Za-z0-9._-]{1,256}`) at `path`; "" with a problem when it is missing or invalid.
    mutating func key(_ value: JSONValue?, at path: String) -> String {
        guard case .string(let key)? = value else {
            add(path, value.map { "expected a string, found \($0.typeName)" } ?? "is required")
            return ""
        }
        if !Identifiers.isValidKey(key) { add(path, "keys must match [A-Za-z0-9._-]{1,256}") }
        return key
    }

    /// A required, non-empty display name at `path`; "" with a problem otherwise.
    mutating func name(_ value: JSONValue?, at path: String) -> String {
        guard case .string(let name)? = value, !name.isEmpty else {
            add(path, value == nil ? "is required" : "expected a non-empty string")
            return ""
        }
        return name
    }

    /// An optional boolean at `path` (absent or null: nil).
    mutating func optionalBool(_ value: JSONValue?, at path: String) -> Bool? {
        switch value {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?:
            add(path, "expected a boolean, found \(other.typeName)")
            return nil
        }
    }
}

extension JSONValue {
    /// The properties of an object, or a ``ValidationError`` naming `path`.
    func requireObject(at path: String = "") throws(ValidationError) -> [String: JSONValue] {
        guard case .object(let properties) = self else {
            throw ValidationError(path: path.isEmpty ? nil : path, "expected a JSON object, found \(typeName)")
        }
        return properties
    }
}
