/// A flag, segment or context that is valid JSON but not a valid model.
public struct ModelDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Where the problem is, as a path from the document root, e.g. `rules[0].clauses[1].op`.
    public var path: String
    /// What is wrong there.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Reads typed properties out of a JSON object the way LaunchDarkly's SDKs do: unknown properties
/// are ignored, `null` counts as absent, and a present property of the wrong type is an error.
struct ObjectReader {
    let properties: [String: JSONValue]
    let path: String

    init(_ value: JSONValue, path: String) throws(ModelDecodingError) {
        guard case .object(let properties) = value else {
            throw ModelDecodingError(path: path, message: "expected an object, found \(value.typeName)")
        }
        self.properties = properties
        self.path = path
    }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func mismatch(_ key: String, expected: String, found: JSONValue) -> ModelDecodingError {
        ModelDecodingError(path: childPath(key), message: "expected \(expected), found \(found.typeName)")
    }

    func value(_ key: String) -> JSONValue? {
        guard let value = properties[key], !value.isNull else { return nil }
        return value
    }

    func string(_ key: String) throws(ModelDecodingError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let s) = value else { throw mismatch(key, expected: "a string", found: value) }
        return s
    }

    func requiredString(_ key: String) throws(ModelDecodingError) -> String {
        guard let s = try string(key) else { throw ModelDecodingError(path: childPath(key), message: "is required") }
        return s
    }

    func bool(_ key: String) throws(ModelDecodingError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let b) = value else { throw mismatch(key, expected: "a boolean", found: value) }
        return b
    }

    func int(_ key: String) throws(ModelDecodingError) -> Int? {
        guard let value = value(key) else { return nil }
        guard case .number(let n) = value else { throw mismatch(key, expected: "an integer", found: value) }
        guard let i = JSONValue.exactInteger(n) else {
            throw ModelDecodingError(path: childPath(key), message: "expected an integer, found \(n)")
        }
        return i
    }

    func requiredInt(_ key: String) throws(ModelDecodingError) -> Int {
        guard let i = try int(key) else { throw ModelDecodingError(path: childPath(key), message: "is required") }
        return i
    }

    func number(_ key: String) throws(ModelDecodingError) -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let n) = value else { throw mismatch(key, expected: "a number", found: value) }
        return n
    }

    func array(_ key: String) throws(ModelDecodingError) -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard case .array(let a) = value else { throw mismatch(key, expected: "an array", found: value) }
        return a
    }

    func strings(_ key: String) throws(ModelDecodingError) -> [String]? {
        guard let elements = try array(key) else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            guard case .string(let s) = element else {
                throw ModelDecodingError(path: "\(childPath(key))[\(i)]", message: "expected a string, found \(element.typeName)")
            }
            result.append(s)
        }
        return result
    }

    /// Decodes each element of an array property with `decode`, which gets the element and its path.
    func objects<T>(_ key: String, _ decode: (JSONValue, String) throws(ModelDecodingError) -> T)
        throws(ModelDecodingError) -> [T]?
    {
        guard let elements = try array(key) else { return nil }
        var result: [T] = []
        result.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            result.append(try decode(element, "\(childPath(key))[\(i)]"))
        }
        return result
    }

    func object(_ key: String) throws(ModelDecodingError) -> ObjectReader? {
        guard let value = value(key) else { return nil }
        return try ObjectReader(value, path: childPath(key))
    }
}
