import ModelsCore
import ServiceKit

/// Collects validation problems, each with the JSON path of the offending field, for one 422.
struct Problems {
    private(set) var details: [APIError.Detail] = []

    var isEmpty: Bool { details.isEmpty }

    mutating func add(_ path: String, _ message: String) {
        details.append(APIError.Detail(path: path, message: message))
    }

    /// Throws a 422 listing every problem, if there are any.
    func check() throws(APIError) {
        if !details.isEmpty { throw APIError.validationFailed(details) }
    }

    /// A 422 for a model that could not even be decoded.
    static func decoding(_ error: ModelDecodingError, prefix: String = "") -> APIError {
        let path = prefix.isEmpty ? error.path : (error.path.isEmpty ? prefix : "\(prefix).\(error.path)")
        return APIError.validationFailed([APIError.Detail(path: path.isEmpty ? nil : path, message: error.message)])
    }
}

extension JSONValue {
    /// The properties of an object, or a 422 naming `path`.
    func requireObject(at path: String = "") throws(APIError) -> [String: JSONValue] {
        guard case .object(let properties) = self else {
            throw APIError.validationFailed([APIError.Detail(path: path.isEmpty ? nil : path,
                message: "expected a JSON object, found \(typeName)")])
        }
        return properties
    }
}
