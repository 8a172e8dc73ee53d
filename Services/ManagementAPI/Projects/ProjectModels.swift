import Foundation
import ModelsCore
import ServiceKit

/// A project as the API shows it (`GET /projects` items, `PATCH /projects/{p}`).
struct APIProject: Codable, Sendable, Equatable {
    /// Lowercase UUID.
    var id: String
    var key: String
    var name: String
    /// RFC 3339 UTC with milliseconds.
    var createdAt: String
    var updatedAt: String
}

/// A project with its environments: `POST /projects` (201) and `GET /projects/{p}`, the project's fields and
/// `environments` side by side in one object.
struct ProjectWithEnvironments: Codable, Sendable, Equatable {
    var project: APIProject
    var environments: [APIEnvironment]

    private enum CodingKeys: String, CodingKey { case environments }

    init(project: APIProject, environments: [APIEnvironment]) {
        self.project = project
        self.environments = environments
    }

    init(from decoder: any Decoder) throws {
        project = try APIProject(from: decoder)
        environments = try decoder.container(keyedBy: CodingKeys.self).decode([APIEnvironment].self, forKey: .environments)
    }

    func encode(to encoder: any Encoder) throws {
        try project.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(environments, forKey: .environments)
    }
}

/// The two kinds of environment key that can be rotated (`POST …/keys/{kind}/rotate`).
enum KeyKind: String, Codable, Sendable, CaseIterable {
    case sdk
    case mobile
}

/// An environment as the API shows it, keys included; ``masked`` is what readers see.
struct APIEnvironment: Codable, Sendable, Equatable {
    /// A replaced key that keeps working until `expiresAt` (Unix milliseconds): the grace period of a rotation.
    struct RetiredKey: Codable, Sendable, Equatable {
        var kind: KeyKind
        var key: String
        var expiresAt: Int
    }

    /// Lowercase UUID.
    var id: String
    var key: String
    var name: String
    var projectKey: String
    var sdkKey: String
    var mobileKey: String
    var clientSideId: String
    var secureMode: Bool
    /// Counts the changes that relays see: 1 at creation, +1 per update or rotation.
    var version: Int
    var createdAt: String
    var updatedAt: String
    /// The keys still in their grace period, soonest to expire first.
    var retiredKeys: [RetiredKey]

    /// The SDK and mobile keys (current and retired) masked as `sdk-…abcd`: recognisable, not usable. Readers get this.
    var masked: APIEnvironment {
        var copy = self
        copy.sdkKey = Environment.mask(sdkKey)
        copy.mobileKey = Environment.mask(mobileKey)
        copy.retiredKeys = retiredKeys.map { RetiredKey(kind: $0.kind, key: Environment.mask($0.key), expiresAt: $0.expiresAt) }
        return copy
    }

    /// What a caller holding `role` may see: writers and admins the keys, readers masks.
    func shown(to role: Role) -> APIEnvironment { role >= .writer ? self : masked }
}

/// A validated `POST /projects` body: the project and the environments to create with it (`production` and `test`
/// unless the body lists them). Pure: every problem is reported with its path in one 422.
struct ProjectDraft: Sendable, Equatable {
    /// The environments of a project created without an `environments` list.
    static let defaultEnvironments = [
        EnvironmentDraft(key: "production", name: "Production"), EnvironmentDraft(key: "test", name: "Test"),
    ]

    var key: String
    var name: String
    var environments: [EnvironmentDraft]

    init(key: String, name: String, environments: [EnvironmentDraft] = Self.defaultEnvironments) {
        self.key = key
        self.name = name
        self.environments = environments
    }

    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        key = problems.key(properties["key"], at: "key")
        name = problems.name(properties["name"], at: "name")
        environments = Self.defaultEnvironments
        switch properties["environments"] {
        case nil, .null?: break
        case .array(let list)?:
            environments = []
            for (i, item) in list.enumerated() {
                guard case .object(let environment) = item else {
                    problems.add("environments[\(i)]", "expected an object {key, name}")
                    continue
                }
                // Only key and name: an environment listed here starts with secure mode off, whatever else it says.
                let environmentKey = problems.key(environment["key"], at: "environments[\(i)].key")
                if environments.contains(where: { $0.key == environmentKey }) {
                    problems.add("environments[\(i)].key", "duplicate environment key \"\(environmentKey)\"")
                }
                let environmentName = problems.name(environment["name"], at: "environments[\(i)].name")
                environments.append(EnvironmentDraft(key: environmentKey, name: environmentName))
            }
        case let other?:
            problems.add("environments", "expected an array, found \(other.typeName)")
        }
        try problems.check()
    }
}

/// A validated `PATCH /projects/{p}` body: the new name (required); the key cannot change.
struct ProjectPatch: Sendable, Equatable {
    var name: String

    init(name: String) { self.name = name }

    /// `key` is the project's key from the path: a body may repeat it, not change it.
    init(json: JSONValue, key: String) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        if let given = properties["key"], given != .string(key) { problems.add("key", "is immutable") }
        name = problems.name(properties["name"], at: "name")
        try problems.check()
    }
}

/// A validated `POST /projects/{p}/environments` body (or one entry of a project's `environments`).
struct EnvironmentDraft: Sendable, Equatable {
    var key: String
    var name: String
    var secureMode: Bool

    init(key: String, name: String, secureMode: Bool = false) {
        self.key = key
        self.name = name
        self.secureMode = secureMode
    }

    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        key = problems.key(properties["key"], at: "key")
        name = problems.name(properties["name"], at: "name")
        secureMode = problems.optionalBool(properties["secureMode"], at: "secureMode") ?? false
        try problems.check()
    }
}

/// A validated `PATCH …/environments/{e}` body: what changes (nil: unchanged). Keys are the server's: they change only
/// by rotation, so a body naming one is refused.
struct EnvironmentPatch: Sendable, Equatable {
    var name: String?
    var secureMode: Bool?

    init(name: String? = nil, secureMode: Bool? = nil) {
        self.name = name
        self.secureMode = secureMode
    }

    /// `key` is the environment's key from the path: a body may repeat it, not change it.
    init(json: JSONValue, key: String) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        if let given = properties["key"], given != .string(key) { problems.add("key", "is immutable") }
        name = nil
        if let value = properties["name"], !value.isNull { name = problems.name(value, at: "name") }
        secureMode = problems.optionalBool(properties["secureMode"], at: "secureMode")
        for forbidden in ["sdkKey", "mobileKey", "clientSideId"] where properties[forbidden] != nil {
            problems.add(forbidden, "is managed by the server; rotate keys with POST …/keys/{sdk|mobile}/rotate")
        }
        try problems.check()
    }
}

/// A validated `POST …/keys/{kind}/rotate` body: how long the replaced key keeps working (0, the default: not at all).
struct KeyRotation: Sendable, Equatable {
    /// A year: the longest grace period.
    static let maximumGraceSeconds = 31_536_000

    var expireOldAfterSeconds: Int

    init(expireOldAfterSeconds: Int = 0) { self.expireOldAfterSeconds = expireOldAfterSeconds }

    /// `json` is nil when the request has no body, which rotates without a grace period.
    init(json: JSONValue?) throws(ValidationError) {
        expireOldAfterSeconds = 0
        guard let json else { return }
        let properties = try json.requireObject()
        var problems = Problems()
        switch properties["expireOldAfterSeconds"] {
        case nil, .null?: break
        case .number(let n)?:
            if let seconds = JSONValue.exactInteger(n), (0...Self.maximumGraceSeconds).contains(seconds) {
                expireOldAfterSeconds = seconds
            } else {
                problems.add("expireOldAfterSeconds", "must be an integer number of seconds within 0...\(Self.maximumGraceSeconds)")
            }
        case let other?:
            problems.add("expireOldAfterSeconds", "expected an integer, found \(other.typeName)")
        }
        try problems.check()
    }
}
