import HTTPTypes
import Hummingbird
import ServiceKit

/// Response headers the relay adds to every environment-scoped response.
enum RelayHeaders {
    /// The environment id (LaunchDarkly's name; the Python SDK records it).
    static let environmentID = "X-LD-EnvID"
    /// The environment's data revision (see ``EnvironmentData``): equal on relays that have read the
    /// changelog to the same point, higher on a fresher relay.
    static let dataVersion = "X-Vane-Data-Version"

    /// The header names, for `HTTPFields`.
    static let environmentIDName = HTTPField.Name(environmentID)!
    static let dataVersionName = HTTPField.Name(dataVersion)!

    /// The two headers for `environmentID` at `revision`.
    static func fields(environmentID: String, revision: Int) -> HTTPFields {
        [environmentIDName: environmentID, dataVersionName: String(revision)]
    }

    /// Runs `body`, adding `fields` to its response (where it does not set them itself), or to the
    /// error it throws.
    static func adding(_ fields: HTTPFields, _ body: () async throws -> Response) async throws -> Response {
        do {
            var response = try await body()
            for field in fields where response.headers[field.name] == nil { response.headers.append(field) }
            return response
        } catch var error as APIError {
            error.headers.append(contentsOf: fields)
            throw error
        }
    }
}

extension Request {
    /// A query parameter, if present and not empty.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }

    /// Whether `If-None-Match` lists `etag` (or `*`); weak validators compare equal.
    func ifNoneMatch(_ etag: String) -> Bool {
        guard let header = headers[.ifNoneMatch] else { return false }
        for candidate in header.split(separator: ",") {
            var tag = candidate.drop { $0 == " " }
            while tag.last == " " { tag = tag.dropLast() }
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            if tag == etag { return true }
        }
        return false
    }
}
