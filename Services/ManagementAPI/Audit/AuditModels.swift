import Foundation
import ModelsCore
import ServiceKit

/// One entry of the audit log, as `GET /audit` shows it: every field is always present (`before`, `after` and
/// `comment` as explicit nulls when there is nothing).
struct AuditEntry: Codable, Sendable, Equatable {
    /// Increasing with time; the paging cursor.
    var id: Int64
    /// RFC 3339 UTC with milliseconds.
    var at: String
    /// `token:<name>`, or the name of an internal actor (`system`, the release scheduler).
    var actor: String
    /// `<resource kind>.<verb>`, e.g. `segment.update`.
    var action: String
    /// e.g. `proj/p:env/production:segment/beta`.
    var resource: String
    /// The resource as the API showed it before; null on creation.
    var before: JSONValue
    /// The resource after; null on deletion.
    var after: JSONValue
    var comment: String?

    private enum CodingKeys: String, CodingKey { case id, at, actor, action, resource, before, after, comment }

    init(id: Int64, at: String, actor: String, action: String, resource: String, before: JSONValue, after: JSONValue, comment: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.resource = resource
        self.before = before
        self.after = after
        self.comment = comment
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        at = try container.decode(String.self, forKey: .at)
        actor = try container.decode(String.self, forKey: .actor)
        action = try container.decode(String.self, forKey: .action)
        resource = try container.decode(String.self, forKey: .resource)
        before = try container.decodeIfPresent(JSONValue.self, forKey: .before) ?? .null
        after = try container.decodeIfPresent(JSONValue.self, forKey: .after) ?? .null
        comment = try container.decodeIfPresent(String.self, forKey: .comment)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(at, forKey: .at)
        try container.encode(actor, forKey: .actor)
        try container.encode(action, forKey: .action)
        try container.encode(resource, forKey: .resource)
        try container.encode(before, forKey: .before)
        try container.encode(after, forKey: .after)
        try container.encode(comment, forKey: .comment)  // an explicit null
    }
}

/// One page of the audit log, newest first: `{"items": [...], "nextCursor": "..." | null}`.
struct AuditPage: Codable, Sendable, Equatable {
    var items: [AuditEntry]
    /// The `cursor` of the next page (the id of this page's last entry, as a string); null on the last page.
    var nextCursor: String?

    private enum CodingKeys: String, CodingKey { case items, nextCursor }

    init(items: [AuditEntry], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        items = try container.decode([AuditEntry].self, forKey: .items)
        nextCursor = try container.decodeIfPresent(String.self, forKey: .nextCursor)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(items, forKey: .items)
        try container.encode(nextCursor, forKey: .nextCursor)  // an explicit null on the last page
    }

    /// The page of at most `limit` entries out of `entries` (newest first, up to `limit + 1` of them: one more tells
    /// that a next page exists).
    init(entries: [AuditEntry], limit: Int) {
        let page = Array(entries.prefix(limit))
        items = page
        nextCursor = entries.count > limit ? page.last.map { String($0.id) } : nil
    }
}

/// Query parameters of `GET /audit`.
struct AuditQuery: Sendable, Equatable {
    /// Exact resource, or a prefix when it ends in `*` (e.g. `proj/demo:*`).
    var resource: String?
    /// RFC 3339: entries at or after.
    var since: String?
    /// RFC 3339: entries before.
    var until: String?
    var limit: Int
    /// The `id` of the last entry of the previous page.
    var cursor: Int64?

    static let defaultLimit = 50
    static let limits = 1...500

    init(resource: String? = nil, since: String? = nil, until: String? = nil, limit: Int = defaultLimit, cursor: Int64? = nil) {
        self.resource = resource
        self.since = since
        self.until = until
        self.limit = limit
        self.cursor = cursor
    }

    /// Reads the request's query items (the first of repeated names counts). Pure: every invalid parameter is named
    /// in one ``ValidationError``. An empty `resource` is no filter; an empty typed parameter is invalid.
    init(queryItems: [(name: String, value: String)]) throws(ValidationError) {
        func value(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }
        var problems = Problems()
        for name in ["since", "until"] {
            if let text = value(name), rfc3339UnixMilliseconds(text) == nil {
                problems.add(name, "must be an RFC 3339 time, e.g. 2026-01-31T12:00:00Z")
            }
        }
        limit = Self.defaultLimit
        if let text = value("limit") {
            if let number = Int(text), Self.limits.contains(number) {
                limit = number
            } else {
                problems.add("limit", "must be an integer within 1...500")
            }
        }
        cursor = nil
        if let text = value("cursor") {
            if let number = Int64(text) { cursor = number } else { problems.add("cursor", "must be the nextCursor of a previous page") }
        }
        try problems.check()
        resource = value("resource").flatMap { $0.isEmpty ? nil : $0 }
        since = value("since")
        until = value("until")
    }

    /// Whether `entry` passes the filters (not the cursor or the limit): what the SQL `WHERE` says, for the in-memory
    /// repository.
    func matches(_ entry: AuditEntry) -> Bool {
        if let resource {
            if resource.hasSuffix("*") {
                guard entry.resource.hasPrefix(resource.dropLast()) else { return false }
            } else if entry.resource != resource {
                return false
            }
        }
        guard let at = rfc3339UnixMilliseconds(entry.at) else { return false }
        if let since = since.flatMap(rfc3339UnixMilliseconds), at < since { return false }
        if let until = until.flatMap(rfc3339UnixMilliseconds), at >= until { return false }
        return true
    }
}
