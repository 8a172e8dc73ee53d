import Foundation
import ModelsCore
import ServiceKit

/// A segment as the API manages it: descriptive fields plus LaunchDarkly's segment fields.
struct SegmentDefinition: Sendable, Equatable {
    var name: String
    var description: String
    var tags: [String]
    /// LaunchDarkly's fields (key and version are filled in when published).
    var segment: Segment

    static let fields = [
        "included", "excluded", "includedContexts", "excludedContexts", "rules", "salt", "unbounded", "unboundedContextKind",
        "generation",
    ]

    init(name: String, description: String, tags: [String], segment: Segment) {
        self.name = name
        self.description = description
        self.tags = tags
        self.segment = segment
    }

    /// Decodes a PUT body; rule ids are generated when absent, the salt is kept (or generated).
    init(json: JSONValue, key: String, existingSalt: String?) throws(ValidationError) {
        let draft = try SegmentDraft(json: json, key: key)
        self = draft.definition(existingSalt: existingSalt)
    }

    /// A stored definition (`segments.definition`), which is a valid body by construction.
    init(stored: JSONValue, key: String) throws {
        try self.init(json: stored, key: key, existingSalt: nil)
    }

    /// The stored representation (and the API's, without key and version).
    var json: JSONValue {
        var object: [String: JSONValue] = ["name": .string(name), "description": .string(description),
            "tags": .array(tags.map(JSONValue.string))]
        if case .object(let fields) = (try? JSONParser.parse(segment.jsonBytes)) ?? .null {
            for (key, value) in fields where Self.fields.contains(key) { object[key] = value }
        }
        if !segment.unbounded {
            object["unbounded"] = nil
            object["generation"] = nil
        }
        return .object(object)
    }

    /// Segment rules' and targets' validity; `segments` are the environment's other segment keys
    /// and `references` their segmentMatch references (to refuse cycles).
    func validate(segments: Set<String>, references: [String: [String]]) throws(ValidationError) {
        var problems = Problems()
        for (name, list) in [("includedContexts", segment.includedContexts), ("excludedContexts", segment.excludedContexts)] {
            for (i, target) in list.enumerated() {
                ClauseValidation.checkKind(target.contextKind, at: "\(name)[\(i)].contextKind", into: &problems)
            }
        }
        ClauseValidation.checkKind(segment.unboundedContextKind, at: "unboundedContextKind", into: &problems)
        var known = segments
        known.insert(segment.key)
        for (i, rule) in segment.rules.enumerated() {
            for (j, clause) in rule.clauses.enumerated() {
                ClauseValidation.check(clause, at: "rules[\(i)].clauses[\(j)]", segments: known, into: &problems)
            }
            if let weight = rule.weight, !(0...100_000).contains(weight) {
                problems.add("rules[\(i)].weight", "must be within 0...100000, got \(weight)")
            }
            ClauseValidation.checkKind(rule.rolloutContextKind, at: "rules[\(i)].rolloutContextKind", into: &problems)
            if let bucketBy = rule.bucketBy, !bucketBy.isEmpty {
                ClauseValidation.checkReference(bucketBy, ownerKind: rule.rolloutContextKind, at: "rules[\(i)].bucketBy", into: &problems)
            }
        }
        // A segment may not reach itself through segmentMatch references.
        var graph = references
        graph[segment.key] = referencedSegments
        for (i, rule) in segment.rules.enumerated() {
            for (j, clause) in rule.clauses.enumerated() where clause.op == ClauseOperator.segmentMatch.rawValue {
                for (k, value) in clause.values.enumerated() {
                    guard case .string(let target) = value else { continue }
                    if Self.reaches(from: target, to: segment.key, graph: graph) {
                        problems.add("rules[\(i)].clauses[\(j)].values[\(k)]",
                            "segment \"\(target)\" leads back to \"\(segment.key)\": a segment cycle")
                    }
                }
            }
        }
        try problems.check()
    }

    /// ``validate(segments:references:)`` against the environment's other segments, by key (this segment's own
    /// stored version, if any, is ignored): every segment it refers to must exist, and none may lead back to it.
    func validate(others: [String: SegmentDefinition]) throws(ValidationError) {
        let others = others.filter { $0.key != segment.key }
        try validate(segments: Set(others.keys), references: others.mapValues(\.referencedSegments))
    }

    /// Segment keys this segment's rules refer to.
    var referencedSegments: [String] {
        segment.rules.flatMap(\.clauses).filter { $0.op == ClauseOperator.segmentMatch.rawValue }
            .flatMap { $0.values.compactMap(\.stringValue) }
    }

    private static func reaches(from start: String, to goal: String, graph: [String: [String]]) -> Bool {
        var stack = [start]
        var seen: Set<String> = []
        while let key = stack.popLast() {
            if key == goal { return true }
            if seen.insert(key).inserted { stack.append(contentsOf: graph[key] ?? []) }
        }
        return false
    }
}

/// A validated `PUT …/segments/{segment}` body, before the stored salt is known. Pure: every problem of the body
/// is reported with its path in one 422; what needs the environment's other segments is
/// ``SegmentDefinition/validate(others:)``.
struct SegmentDraft: Sendable, Equatable {
    /// The definition, its salt as sent (empty when ``saltGiven`` is false).
    var definition: SegmentDefinition
    /// Whether the body set `salt` (even to ""): an explicit salt replaces the stored one, which is kept otherwise.
    var saltGiven: Bool

    init(definition: SegmentDefinition, saltGiven: Bool) {
        self.definition = definition
        self.saltGiven = saltGiven
    }

    /// Reads a body for segment `key`; rule ids are generated when absent.
    init(json: JSONValue, key: String) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        if let bodyKey = properties["key"], bodyKey != .string(key) { problems.add("key", "must match the key in the path (\"\(key)\")") }
        func text(_ name: String) -> String? {
            switch properties[name] {
            case .string(let s)?: return s
            case nil, .null?: return nil
            case let other?:
                problems.add(name, "expected a string, found \(other.typeName)")
                return nil
            }
        }
        let name = text("name") ?? key
        let description = text("description") ?? ""
        var tags: [String] = []
        if let list = properties["tags"], !list.isNull {
            if case .array(let elements) = list {
                for (i, element) in elements.enumerated() {
                    if case .string(let tag) = element { tags.append(tag) } else { problems.add("tags[\(i)]", "expected a string") }
                }
            } else {
                problems.add("tags", "expected an array of strings")
            }
        }
        try problems.check()
        var segment: Segment
        do {
            segment = try Segment(json: .object(properties.filter { SegmentDefinition.fields.contains($0.key) }))
        } catch {
            throw Problems.decoding(error)
        }
        segment.key = key
        for i in segment.rules.indices where segment.rules[i].id?.isEmpty ?? true {
            segment.rules[i].id = Identifiers.ruleID()
        }
        saltGiven = !(properties["salt"] == nil || properties["salt"]?.isNull == true)
        if !saltGiven { segment.salt = "" }
        definition = SegmentDefinition(name: name, description: description, tags: tags, segment: segment)
    }

    /// The definition to store: an explicit salt, even "", is kept (it decides which contexts weighted rules include);
    /// otherwise the stored segment's salt, or a new one.
    func definition(existingSalt: String?) -> SegmentDefinition {
        var result = definition
        if !saltGiven { result.segment.salt = existingSalt ?? Identifiers.salt() }
        return result
    }

    /// The `{segment}` of the path, which must be a valid key (422 naming `key`, before the body is read).
    static func key(_ text: String) throws(ValidationError) -> String {
        guard Identifiers.isValidKey(text) else { throw ValidationError(path: "key", "keys must match [A-Za-z0-9._-]{1,256}") }
        return text
    }
}

/// Keys of one context kind that a segment includes or excludes, as the API shows them.
struct SegmentTargetModel: Codable, Sendable, Equatable {
    /// Absent means `user`.
    var contextKind: String?
    var values: [String]
}

/// A clause of a segment rule, as the API shows it (every field but `contextKind` always present).
struct SegmentClauseModel: Codable, Sendable, Equatable {
    var contextKind: String?
    var attribute: String
    var op: String
    var values: [JSONValue]
    var negate: Bool
}

/// A segment rule, as the API shows it (absent optional fields are left out).
struct SegmentRuleModel: Codable, Sendable, Equatable {
    var id: String?
    var clauses: [SegmentClauseModel]
    var weight: Int?
    var bucketBy: String?
    var rolloutContextKind: String?
}

/// A segment as the API returns it (`GET`/`PUT …/segments/{segment}`, and the audit log's `before`/`after`):
/// the definition with its key, version and times. `unbounded` and `generation` appear only for an unbounded
/// segment (`generation` then possibly null), `unboundedContextKind` only when set.
struct SegmentResource: Codable, Sendable, Equatable {
    var key: String
    var name: String
    var description: String
    var tags: [String]
    var included: [String]
    var excluded: [String]
    var includedContexts: [SegmentTargetModel]
    var excludedContexts: [SegmentTargetModel]
    var rules: [SegmentRuleModel]
    var salt: String
    var unbounded: Bool
    var unboundedContextKind: String?
    var generation: Int?
    var version: Int
    /// RFC 3339 UTC with milliseconds.
    var createdAt: String
    var updatedAt: String

    private enum CodingKeys: String, CodingKey {
        case key, name, description, tags, included, excluded, includedContexts, excludedContexts, rules, salt, unbounded
        case unboundedContextKind, generation, version, createdAt, updatedAt
    }

    init(key: String, definition: SegmentDefinition, version: Int, createdAt: String, updatedAt: String) {
        let segment = definition.segment
        self.key = key
        name = definition.name
        description = definition.description
        tags = definition.tags
        included = segment.included
        excluded = segment.excluded
        includedContexts = segment.includedContexts.map { SegmentTargetModel(contextKind: $0.contextKind, values: $0.values) }
        excludedContexts = segment.excludedContexts.map { SegmentTargetModel(contextKind: $0.contextKind, values: $0.values) }
        rules = segment.rules.map { rule in
            SegmentRuleModel(
                id: rule.id,
                clauses: rule.clauses.map {
                    SegmentClauseModel(
                        contextKind: $0.contextKind, attribute: $0.attribute, op: $0.op, values: $0.values, negate: $0.negate)
                },
                weight: rule.weight, bucketBy: rule.bucketBy, rolloutContextKind: rule.rolloutContextKind)
        }
        salt = segment.salt
        unbounded = segment.unbounded
        unboundedContextKind = segment.unboundedContextKind
        generation = segment.generation
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(String.self, forKey: .key)
        name = try container.decode(String.self, forKey: .name)
        description = try container.decode(String.self, forKey: .description)
        tags = try container.decode([String].self, forKey: .tags)
        included = try container.decode([String].self, forKey: .included)
        excluded = try container.decode([String].self, forKey: .excluded)
        includedContexts = try container.decode([SegmentTargetModel].self, forKey: .includedContexts)
        excludedContexts = try container.decode([SegmentTargetModel].self, forKey: .excludedContexts)
        rules = try container.decode([SegmentRuleModel].self, forKey: .rules)
        salt = try container.decode(String.self, forKey: .salt)
        unbounded = try container.decodeIfPresent(Bool.self, forKey: .unbounded) ?? false
        unboundedContextKind = try container.decodeIfPresent(String.self, forKey: .unboundedContextKind)
        generation = try container.decodeIfPresent(Int.self, forKey: .generation)
        version = try container.decode(Int.self, forKey: .version)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        updatedAt = try container.decode(String.self, forKey: .updatedAt)
    }

    /// Today's shape: `unbounded` and `generation` (an explicit null when unknown) only for an unbounded segment.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(name, forKey: .name)
        try container.encode(description, forKey: .description)
        try container.encode(tags, forKey: .tags)
        try container.encode(included, forKey: .included)
        try container.encode(excluded, forKey: .excluded)
        try container.encode(includedContexts, forKey: .includedContexts)
        try container.encode(excludedContexts, forKey: .excludedContexts)
        try container.encode(rules, forKey: .rules)
        try container.encode(salt, forKey: .salt)
        if unbounded {
            try container.encode(true, forKey: .unbounded)
        }
        try container.encodeIfPresent(unboundedContextKind, forKey: .unboundedContextKind)
        if unbounded {
            try container.encode(generation, forKey: .generation)
        }
        try container.encode(version, forKey: .version)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }

    /// The audit log's resource name.
    static func resource(projectKey: String, environmentKey: String, key: String) -> String {
        "proj/\(projectKey):env/\(environmentKey):segment/\(key)"
    }

    /// The resource as JSON, for the audit log's `before` and `after` (the same shape as the API's answer).
    var json: JSONValue {
        get throws { try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(self)) }
    }
}
