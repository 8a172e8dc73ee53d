import ModelsCore
import ServiceKit

/// One variation of a flag as the API manages it; SDKs see only the values.
struct Variation: Sendable, Hashable {
    var value: JSONValue
    var name: String?
    var description: String?

    var json: JSONValue {
        var object: [String: JSONValue] = ["value": value]
        if let name { object["name"] = .string(name) }
        if let description { object["description"] = .string(description) }
        return .object(object)
    }
}

/// A flag's project-wide settings (the same in every environment).
struct FlagSettings: Sendable, Hashable {
    var name: String
    var description: String
    var tags: [String]
    var temporary: Bool
    var variations: [Variation]
    var clientSideAvailability: ClientSideAvailability
    var onVariation: Int
    var offVariation: Int

    /// The JSON stored in `flags.settings` and returned by the API.
    var json: JSONValue {
        [
            "name": .string(name), "description": .string(description), "tags": .array(tags.map(JSONValue.string)),
            "temporary": .bool(temporary), "variations": .array(variations.map(\.json)),
            "clientSideAvailability": [
                "usingEnvironmentId": .bool(clientSideAvailability.usingEnvironmentID),
                "usingMobileKey": .bool(clientSideAvailability.usingMobileKey),
            ],
            "defaults": ["onVariation": .number(Double(onVariation)), "offVariation": .number(Double(offVariation))],
        ]
    }

    /// Decodes and validates settings from API JSON (POST body, or stored settings merged with a
    /// PATCH). Every problem is reported with its path.
    init(json: JSONValue) throws(ValidationError) {
        var problems = Problems()
        let properties = try json.requireObject()
        func string(_ key: String, required: Bool = false) -> String? {
            switch properties[key] {
            case .string(let s)?: return s
            case nil, .null?:
                if required { problems.add(key, "is required") }
                return nil
            case let other?:
                problems.add(key, "expected a string, found \(other.typeName)")
                return nil
            }
        }
        name = string("name", required: true) ?? ""
        if properties["name"]?.stringValue?.isEmpty == true { problems.add("name", "must not be empty") }
        description = string("description") ?? ""
        tags = []
        switch properties["tags"] {
        case nil, .null?: break
        case .array(let elements)?:
            for (i, element) in elements.enumerated() {
                if case .string(let tag) = element { tags.append(tag) } else { problems.add("tags[\(i)]", "expected a string") }
            }
        case let other?: problems.add("tags", "expected an array of strings, found \(other.typeName)")
        }
        switch properties["temporary"] {
        case nil, .null?: temporary = false
        case .bool(let b)?: temporary = b
        case let other?:
            temporary = false
            problems.add("temporary", "expected a boolean, found \(other.typeName)")
        }

        variations = []
        switch properties["variations"] {
        case .array(let elements)? where !elements.isEmpty:
            for (i, element) in elements.enumerated() {
                guard case .object(let v) = element else {
                    problems.add("variations[\(i)]", "expected an object {value, name?, description?}")
                    continue
                }
                guard let value = v["value"], !value.isNull else {
                    problems.add("variations[\(i)].value", "is required (and may not be null)")
                    continue
                }
                var variation = Variation(value: value)
                if case .string(let n)? = v["name"] { variation.name = n } else if let n = v["name"], !n.isNull {
                    problems.add("variations[\(i)].name", "expected a string")
                }
                if case .string(let d)? = v["description"] { variation.description = d } else if let d = v["description"], !d.isNull {
                    problems.add("variations[\(i)].description", "expected a string")
                }
                variations.append(variation)
            }
            if let first = variations.first {
                let kind = Self.kind(of: first.value)
                for (i, variation) in variations.enumerated() where Self.kind(of: variation.value) != kind {
                    problems.add("variations[\(i)].value", "is a \(Self.kind(of: variation.value)) but the flag's variations are \(kind)s")
                }
            }
        case .array?: problems.add("variations", "at least one variation is required")
        case nil, .null?: problems.add("variations", "is required")
        case let other?: problems.add("variations", "expected an array, found \(other.typeName)")
        }

        clientSideAvailability = ClientSideAvailability(usingMobileKey: true, usingEnvironmentID: false)
        switch properties["clientSideAvailability"] {
        case nil, .null?: break
        case .object(let a)?:
            for (key, path) in [("usingEnvironmentId", "clientSideAvailability.usingEnvironmentId"),
                ("usingMobileKey", "clientSideAvailability.usingMobileKey")] {
                switch a[key] {
                case nil, .null?: break
                case .bool(let b)?:
                    if key == "usingEnvironmentId" { clientSideAvailability.usingEnvironmentID = b } else {
                        clientSideAvailability.usingMobileKey = b
                    }
                case let other?: problems.add(path, "expected a boolean, found \(other.typeName)")
                }
            }
        case let other?: problems.add("clientSideAvailability", "expected an object, found \(other.typeName)")
        }

        // Defaults: a boolean flag is on=true (0), off=false (1), as LaunchDarkly creates them;
        // otherwise the first and the last variation.
        let count = variations.count
        onVariation = 0
        offVariation = max(0, count - 1)
        switch properties["defaults"] {
        case nil, .null?: break
        case .object(let d)?:
            for (key, path) in [("onVariation", "defaults.onVariation"), ("offVariation", "defaults.offVariation")] {
                switch d[key] {
                case nil, .null?: break
                case .number(let n)?:
                    guard let index = JSONValue.exactInteger(n) else {
                        problems.add(path, "expected an integer")
                        continue
                    }
                    ClauseValidation.checkIndex(index, count: count, at: path, into: &problems)
                    if key == "onVariation" { onVariation = index } else { offVariation = index }
                case let other?: problems.add(path, "expected an integer, found \(other.typeName)")
                }
            }
        case let other?: problems.add("defaults", "expected an object, found \(other.typeName)")
        }
        try problems.check()
    }

    /// The variation type of a value: boolean, number, string or JSON (arrays and objects).
    static func kind(of value: JSONValue) -> String {
        switch value {
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array, .object: "JSON value"
        case .null: "null"
        }
    }
}

/// A flag's targeting in one environment, in LaunchDarkly's field names; stored as JSON in
/// `flag_targeting.targeting` and carried in a ``FeatureFlag`` (whose other fields are unused).
enum Targeting {
    static let fields = [
        "on", "targets", "contextTargets", "rules", "fallthrough", "offVariation", "prerequisites", "trackEvents",
        "trackEventsFallthrough",
    ]

    /// A new flag's targeting: off, serving the default off variation, falling through to the
    /// default on variation.
    static func initial(_ settings: FlagSettings) -> FeatureFlag {
        FeatureFlag(
            key: "", on: false, offVariation: settings.offVariation,
            fallthrough: VariationOrRollout(variation: settings.onVariation))
    }

    /// Decodes targeting JSON with LaunchDarkly's meaning of every field: a missing `on` is off,
    /// missing lists are empty, a missing (or null) `offVariation` serves the application's default
    /// value when the flag is off. A missing `fallthrough` is left missing, for the validator to
    /// refuse: LaunchDarkly would report such a flag as malformed.
    static func decode(_ json: JSONValue) throws(ValidationError) -> FeatureFlag {
        let properties = try json.requireObject()
        var targeting: FeatureFlag
        do {
            targeting = try FeatureFlag(json: .object(properties.filter { fields.contains($0.key) }))
        } catch {
            throw Problems.decoding(error)
        }
        // Rule ids are generated when absent, so that reasons and audit entries can name rules.
        for i in targeting.rules.indices where targeting.rules[i].id?.isEmpty ?? true {
            targeting.rules[i].id = Identifiers.ruleID()
        }
        return targeting
    }

    /// `current` merge-patched (RFC 7396) with `patch`, where a `fallthrough` patch naming only one
    /// of `variation` and `rollout` replaces the other.
    static func patch(_ current: JSONValue, with patch: JSONValue) -> JSONValue {
        var patch = patch
        if case .object(var properties) = patch, case .object(var choice)? = properties["fallthrough"] {
            let setsVariation = choice["variation"].map { !$0.isNull } ?? false
            let setsRollout = choice["rollout"].map { !$0.isNull } ?? false
            if setsVariation && choice["rollout"] == nil { choice["rollout"] = .null }
            if setsRollout && choice["variation"] == nil { choice["variation"] = .null }
            properties["fallthrough"] = .object(choice)
            patch = .object(properties)
        }
        return MergePatch.apply(patch, to: current)
    }

    /// The targeting fields as JSON (LaunchDarkly's shapes; integers as integers).
    static func json(_ targeting: FeatureFlag) -> JSONValue {
        guard let full = try? JSONParser.parse(targeting.jsonBytes), case .object(let properties) = full else { return [:] }
        return .object(properties.filter { fields.contains($0.key) })
    }

    /// The flag as SDKs receive it in an environment.
    static func sdkFlag(key: String, settings: FlagSettings, salt: String, targeting: FeatureFlag, version: Int) -> FeatureFlag {
        var flag = targeting
        flag.key = key
        flag.version = version
        flag.variations = settings.variations.map(\.value)
        flag.salt = salt
        flag.clientSideAvailability = settings.clientSideAvailability
        flag.deleted = false
        return flag
    }
}

/// Checks one environment's targeting of a flag against everything it refers to.
struct TargetingValidator {
    let flagKey: String
    let variationCount: Int
    /// Variation counts of the project's flags (for prerequisites).
    let projectFlags: [String: Int]
    /// Segment keys of the environment.
    let segments: Set<String>
    /// Prerequisite keys of the environment's other flags.
    let prerequisitesOf: [String: [String]]

    func validate(_ targeting: FeatureFlag) throws(ValidationError) {
        var problems = Problems()
        checkIndexes(targeting, into: &problems)
        checkReferences(targeting, into: &problems)
        try problems.check()
    }

    /// Only the variation indexes and the shape of results (for a change of the variation list).
    func validateIndexes(_ targeting: FeatureFlag) throws(ValidationError) {
        var problems = Problems()
        checkIndexes(targeting, into: &problems)
        try problems.check()
    }

    private func checkIndexes(_ targeting: FeatureFlag, into problems: inout Problems) {
        if let off = targeting.offVariation {
            ClauseValidation.checkIndex(off, count: variationCount, at: "offVariation", into: &problems)
        }
        check(targeting.fallthrough ?? VariationOrRollout(), at: "fallthrough", into: &problems)
        for (i, target) in targeting.targets.enumerated() {
            ClauseValidation.checkIndex(target.variation, count: variationCount, at: "targets[\(i)].variation", into: &problems)
            ClauseValidation.checkKind(target.contextKind, at: "targets[\(i)].contextKind", into: &problems)
        }
        for (i, target) in targeting.contextTargets.enumerated() {
            ClauseValidation.checkIndex(target.variation, count: variationCount, at: "contextTargets[\(i)].variation", into: &problems)
            ClauseValidation.checkKind(target.contextKind, at: "contextTargets[\(i)].contextKind", into: &problems)
        }
        for (i, rule) in targeting.rules.enumerated() {
            check(rule.variationOrRollout, at: "rules[\(i)]", into: &problems)
        }
    }

    private func checkReferences(_ targeting: FeatureFlag, into problems: inout Problems) {
        for (i, rule) in targeting.rules.enumerated() {
            for (j, clause) in rule.clauses.enumerated() {
                ClauseValidation.check(clause, at: "rules[\(i)].clauses[\(j)]", segments: segments, into: &problems)
            }
        }
        for (i, prerequisite) in targeting.prerequisites.enumerated() {
            let path = "prerequisites[\(i)]"
            guard let count = projectFlags[prerequisite.key] else {
                problems.add("\(path).key", "flag \"\(prerequisite.key)\" does not exist in this project")
                continue
            }
            ClauseValidation.checkIndex(prerequisite.variation, count: count, at: "\(path).variation", into: &problems)
            if let cycle = cycle(through: prerequisite.key, newPrerequisites: targeting.prerequisites.map(\.key)) {
                problems.add("\(path).key", "creates a prerequisite cycle: \(cycle.joined(separator: " → "))")
            }
        }
    }

    private func check(_ choice: VariationOrRollout, at path: String, into problems: inout Problems) {
        switch (choice.variation, choice.rollout) {
        case (let variation?, nil):
            ClauseValidation.checkIndex(variation, count: variationCount, at: "\(path).variation", into: &problems)
        case (nil, let rollout?):
            ClauseValidation.check(rollout, at: "\(path).rollout", variationCount: variationCount, into: &problems)
        case (nil, nil):
            problems.add(path, "needs either a variation or a rollout")
        case (_?, _?):
            problems.add(path, "has both a variation and a rollout; give one")
        }
    }

    /// The cycle `flagKey → start → … → flagKey`, if the new prerequisites create one.
    private func cycle(through start: String, newPrerequisites: [String]) -> [String]? {
        var graph = prerequisitesOf
        graph[flagKey] = newPrerequisites
        var path = [flagKey]
        var visited: Set<String> = []
        func visit(_ key: String) -> Bool {
            path.append(key)
            if key == flagKey { return true }
            if visited.insert(key).inserted {
                for next in graph[key] ?? [] where visit(next) { return true }
            }
            path.removeLast()
            return false
        }
        return visit(start) ? path : nil
    }
}
