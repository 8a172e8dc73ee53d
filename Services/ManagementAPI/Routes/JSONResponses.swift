import Foundation
import Hummingbird
import ServiceKit

/// `{"items": [...]}`: how the API answers every list.
struct Items<Element: Encodable & Sendable>: Encodable, Sendable {
    var items: [Element]

    init(_ items: [Element]) { self.items = items }
}

extension JSONBody {
    /// A JSON response encoding `value` (`Content-Type: application/json`).
    static func response(encoding value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return response(Array(try encoder.encode(value)), status: status, headers: headers)
    }
}

extension HTTPFields {
    /// `ETag: "<version>"`, the strong validator that `If-Match` is compared with.
    static func eTag(version: Int) -> HTTPFields { [.eTag: "\"\(version)\""] }
}
