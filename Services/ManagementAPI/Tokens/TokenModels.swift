import Foundation
import ModelsCore
import ServiceKit

/// An API token as the API shows it (never its secret, except once in ``CreatedToken``).
struct APIToken: Codable, Sendable, Equatable {
    /// Lowercase UUID.
    var id: String
    var name: String
    var role: Role
    /// RFC 3339 UTC with milliseconds.
    var createdAt: String
    /// `token:<name>` of the creator (`system` for the bootstrap token).
    var createdBy: String
}

/// `POST /tokens`'s answer: the token and, this once, its secret (`token`).
struct CreatedToken: Encodable, Sendable, Equatable {
    var token: APIToken
    var secret: String

    private enum CodingKeys: String, CodingKey { case token }

    func encode(to encoder: any Encoder) throws {
        try token.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(secret, forKey: .token)
    }
}

/// A validated `POST /tokens` body. Pure: every problem is reported with its path in one 422.
struct TokenDraft: Sendable, Equatable {
    var name: String
    var role: Role

    init(name: String, role: Role) {
        self.name = name
        self.role = role
    }

    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        name = ""
        role = .reader
        if case .string(let text)? = properties["name"], !text.isEmpty {
            name = text
        } else {
            problems.add("name", properties["name"] == nil ? "is required" : "expected a non-empty string")
        }
        switch properties["role"] {
        case .string(let text)?:
            if let parsed = Role(rawValue: text) { role = parsed } else { problems.add("role", "must be reader, writer or admin") }
        case let other?: problems.add("role", "expected a string, found \(other.typeName)")
        case nil: problems.add("role", "is required (reader, writer or admin)")
        }
        try problems.check()
    }

    /// The id in `DELETE /tokens/{id}`; anything but a UUID names no token (404).
    static func id(_ text: String) throws(APIError) -> UUID {
        guard let id = UUID(uuidString: text) else { throw APIError.notFound("no such token") }
        return id
    }
}
