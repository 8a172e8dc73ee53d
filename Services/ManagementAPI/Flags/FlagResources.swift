import Foundation
import ModelsCore
import ServiceKit

/// A flag's targeting in one environment as the API shows it: LaunchDarkly's targeting fields, plus the flag's salt
/// and this environment's version (also the `ETag` that `If-Match` is compared with).
struct FlagTargeting: Encodable, Sendable, Hashable {
    var targeting: FeatureFlag
    var salt: String
    var version: Int

    /// The wire shape, with integers as integers (LaunchDarkly's).
    var json: JSONValue {
        guard case .object(var object) = Targeting.json(targeting) else { return [:] }
        object["salt"] = .string(salt)
        object["version"] = .number(Double(version))
        return .object(object)
    }

    func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// A flag as the API shows it: its project-wide settings and its targeting in every environment of the project.
struct FlagResource: Encodable, Sendable, Equatable {
    var key: String
    var settings: FlagSettings
    /// Bucketing salt; immutable, so that a context always lands in the same bucket.
    var salt: String
    /// RFC 3339 UTC with milliseconds.
    var createdAt: String
    var updatedAt: String
    /// Targeting by environment key.
    var environments: [String: FlagTargeting]
    /// Only in `GET …/flags?environment=E&stale=true`: why the flag looks like technical debt in `E`.
    var stale: Staleness?

    /// The project-wide part of the wire shape: what the audit log records for a settings change.
    var settingsJSON: JSONValue {
        guard case .object(var object) = settings.json else { return settings.json }
        object["key"] = .string(key)
        object["salt"] = .string(salt)
        object["createdAt"] = .string(createdAt)
        object["updatedAt"] = .string(updatedAt)
        return .object(object)
    }

    /// The wire shape.
    var json: JSONValue {
        guard case .object(var object) = settingsJSON else { return settingsJSON }
        object["environments"] = .object(environments.mapValues(\.json))
        if let stale, let value = try? JSONValue(encoding: stale) { object["stale"] = value }
        return .object(object)
    }

    func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension JSONValue {
    /// `value` as JSON, through its `Encodable` conformance.
    init(encoding value: some Encodable) throws {
        let encoder = JSONEncoder()
        self = try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value))
    }
}

/// `POST /projects/{p}/flags`, validated: every problem of the body in one ``ValidationError``.
struct FlagDraft: Sendable, Hashable {
    var key: String
    var settings: FlagSettings
    /// A salt to keep (a migrated flag must bucket every context as before, so even `""` is kept); nil: generated.
    var salt: String?

    init(key: String, settings: FlagSettings, salt: String? = nil) {
        self.key = key
        self.settings = settings
        self.salt = salt
    }

    init(json: JSONValue) throws(ValidationError) {
        let properties = try json.requireObject()
        var problems = Problems()
        key = problems.key(properties["key"], at: "key")
        switch properties["salt"] {
        case nil, .null?: salt = nil
        case .string(let text)?: salt = text
        case let other?:
            salt = nil
            problems.add("salt", "expected a string, found \(other.typeName)")
        }
        var settings: FlagSettings?
        do {
            settings = try FlagSettings(json: .object(properties))
        } catch {
            problems.add(error)
        }
        try problems.check()
        guard let settings else { throw ValidationError(problems.problems) }
        self.settings = settings
    }
}

/// `PATCH /projects/{p}/flags/{f}`: an RFC 7396 merge patch of the project-wide settings. `key` and `salt` may be
/// repeated unchanged but not changed; `environments` is ignored (targeting has its own routes).
struct FlagSettingsPatch: Sendable, Hashable {
    var properties: [String: JSONValue]

    init(json: JSONValue) throws(ValidationError) {
        properties = try json.requireObject()
    }

    /// Another flag's prerequisite on this flag, in one environment.
    struct PrerequisiteUse: Sendable, Hashable {
        var flagKey: String
        var environmentKey: String
        var variation: Int
    }

    /// The settings after the patch. Pure: `targeting` is the flag's targeting by environment and `dependents` the
    /// prerequisites other flags place on it; the new variation list must still fit all of them.
    func apply(
        to flag: FlagResource, targeting: [(environmentKey: String, targeting: FeatureFlag)], dependents: [PrerequisiteUse]
    ) throws(ValidationError) -> FlagSettings {
        var problems = Problems()
        if let newKey = properties["key"], newKey != .string(flag.key) { problems.add("key", "is immutable") }
        if let newSalt = properties["salt"], newSalt != .string(flag.salt) { problems.add("salt", "is immutable") }
        try problems.check()
        let settingsPatch = JSONValue.object(properties.filter { $0.key != "key" && $0.key != "salt" && $0.key != "environments" })
        let settings = try FlagSettings(json: MergePatch.apply(settingsPatch, to: flag.settings.json))
        let count = settings.variations.count
        for (environmentKey, targeting) in targeting {
            let validator = TargetingValidator(
                flagKey: flag.key, variationCount: count, projectFlags: [:], segments: [], prerequisitesOf: [:])
            do {
                try validator.validateIndexes(targeting)
            } catch {
                problems.add(error, prefix: "environments.\(environmentKey)")
            }
        }
        for use in dependents where use.variation >= count {
            problems.add("variations",
                "flag \"\(use.flagKey)\" requires variation \(use.variation) of this flag in environment \"\(use.environmentKey)\"")
        }
        try problems.check()
        return settings
    }

    /// Whether SDKs see the change (the variation values or client-side availability), so that every environment's
    /// version moves and the flag is published again.
    static func isVisibleToSDKs(from before: FlagSettings, to after: FlagSettings) -> Bool {
        after.variations.map(\.value) != before.variations.map(\.value) || after.clientSideAvailability != before.clientSideAvailability
    }
}

/// `GET /projects/{p}/flags` filters.
struct FlagListQuery: Sendable, Hashable {
    /// Only flags with this tag.
    var tag: String?
    /// A case-insensitive substring of the key or the name.
    var text: String?
    /// `stale=true|false` with `environment=E`: only stale (with why) or only not stale flags in `E`.
    var stale: StaleFilter?

    /// `stale=` and `environment=` of the flag list.
    struct StaleFilter: Sendable, Hashable {
        var stale: Bool
        var environment: String
    }

    init(tag: String? = nil, text: String? = nil, stale: StaleFilter? = nil) {
        self.tag = tag
        self.text = text
        self.stale = stale
    }

    /// From the query parameters: `tag` and `q` (empty means absent); `stale` as sent (`true` or `false`, anything
    /// else is invalid), which requires `environment`.
    init(tag: String?, text: String?, stale: String?, environment: String?) throws(ValidationError) {
        self.init(tag: tag, text: text)
        guard let stale else { return }
        var problems = Problems()
        if stale != "true" && stale != "false" { problems.add("stale", "must be true or false") }
        if environment == nil { problems.add("environment", "is required with stale (an environment key)") }
        try problems.check()
        self.stale = StaleFilter(stale: stale == "true", environment: environment ?? "")
    }

    /// Whether `flag` passes the tag and text filters (the stale filter needs evaluation data).
    func matches(_ flag: FlagResource) -> Bool {
        if let tag, !flag.settings.tags.contains(tag) { return false }
        if let text {
            let needle = text.lowercased()
            return flag.key.lowercased().contains(needle) || flag.settings.name.lowercased().contains(needle)
        }
        return true
    }

    /// The flags that pass the stale filter, each stale one with its reason; `staleness` is the environment's
    /// stale flags by key.
    func filterStale(_ flags: [FlagResource], staleness: [String: Staleness]) -> [FlagResource] {
        guard let stale else { return flags }
        return flags.compactMap { flag in
            let entry = staleness[flag.key]
            guard (entry != nil) == stale.stale else { return nil }
            var flag = flag
            flag.stale = entry
            return flag
        }
    }
}

/// A change of a flag's targeting in one environment: `PUT` replaces it, `PATCH` merge-patches it (see
/// ``Targeting/patch(_:with:)``).
struct TargetingChangeRequest: Sendable, Hashable {
    var body: JSONValue
    var merge: Bool
    /// `If-Match`: the version the caller read; nil for any.
    var ifMatch: Int?
    /// `?comment=`, recorded in the audit entry.
    var comment: String?

    init(body: JSONValue, merge: Bool, ifMatch: Int? = nil, comment: String? = nil) throws(ValidationError) {
        _ = try body.requireObject()
        self.body = body
        self.merge = merge
        self.ifMatch = ifMatch
        self.comment = comment
    }

    /// Whether the change may add a prerequisite (then the environment is serialized: cycles span flags).
    var touchesPrerequisites: Bool {
        !(body["prerequisites"]?.arrayValue?.isEmpty ?? true) || (merge && body["prerequisites"] != nil)
    }

    /// The targeting requested, given the current one (decoded, not yet validated against the environment).
    func targeting(current: JSONValue) throws(ValidationError) -> FeatureFlag {
        try Targeting.decode(merge ? Targeting.patch(current, with: body) : body)
    }
}
