import Foundation
import ModelsCore
import Synchronization

/// Flags in memory, for fast tests of the routes and of validation against an environment. The projects, their
/// environments and the environments' segments are given (they belong to other repositories); there is no audit log
/// or outbox (that is the SQL repository's job), and no evaluation data, so no flag is stale.
final class InMemoryFlagRepository: FlagRepository {
    private struct StoredFlag {
        var resource: FlagResource
        /// The stored targeting JSON by environment, as a PATCH merges into it.
        var targetingJSON: [String: JSONValue]
    }

    private struct State {
        var flags: [String: [String: StoredFlag]] = [:]
        var clock = InMemoryClock()
    }

    /// Environment keys by project key.
    let projects: [String: [String]]
    /// Segment keys by `project/environment`.
    let segments: [String: Set<String>]
    private let state = Mutex(State())

    init(projects: [String: [String]] = ["default": ["production", "test"]], segments: [String: Set<String>] = [:]) {
        self.projects = projects
        self.segments = segments
    }

    func create(_ draft: FlagDraft, projectKey: String, actor: Identity) async throws -> FlagResource {
        let environments = try environmentKeys(projectKey)
        return try state.withLock { state throws(RepositoryError) in
            guard state.flags[projectKey]?[draft.key] == nil else { throw FlagRefusal.duplicate(draft.key, project: projectKey) }
            let now = state.clock.next()
            let salt = draft.salt ?? Identifiers.salt()
            let initial = Targeting.initial(draft.settings)
            var resource = FlagResource(
                key: draft.key, settings: draft.settings, salt: salt, createdAt: now, updatedAt: now, environments: [:])
            var json: [String: JSONValue] = [:]
            for environment in environments {
                resource.environments[environment] = FlagTargeting(targeting: initial, salt: salt, version: 1)
                json[environment] = Targeting.json(initial)
            }
            state.flags[projectKey, default: [:]][draft.key] = StoredFlag(resource: resource, targetingJSON: json)
            return resource
        }
    }

    func list(projectKey: String, query: FlagListQuery) async throws -> [FlagResource] {
        _ = try environmentKeys(projectKey)
        if let stale = query.stale { _ = try environmentKey(stale.environment, in: projectKey) }
        let flags = state.withLock { state in (state.flags[projectKey] ?? [:]).values.map(\.resource).sorted { $0.key < $1.key } }
        return query.filterStale(flags.filter(query.matches), staleness: [:])
    }

    func flag(projectKey: String, key: String) async throws -> FlagResource {
        _ = try environmentKeys(projectKey)
        return try state.withLock { state throws(RepositoryError) in try Self.stored(state, projectKey, key).resource }
    }

    func update(projectKey: String, key: String, patch: FlagSettingsPatch, actor: Identity) async throws -> FlagResource {
        _ = try environmentKeys(projectKey)
        return try state.withLock { state throws(any Error) in
            var stored = try Self.stored(state, projectKey, key)
            let before = stored.resource
            let settings = try patch.apply(
                to: before, targeting: before.environments.sorted { $0.key < $1.key }.map { ($0.key, $0.value.targeting) },
                dependents: Self.uses(of: key, in: state.flags[projectKey] ?? [:]))
            stored.resource.settings = settings
            stored.resource.updatedAt = state.clock.next()
            if FlagSettingsPatch.isVisibleToSDKs(from: before.settings, to: settings) {
                for environment in stored.resource.environments.keys { stored.resource.environments[environment]?.version += 1 }
            }
            state.flags[projectKey]?[key] = stored
            return stored.resource
        }
    }

    func delete(projectKey: String, key: String, actor: Identity) async throws {
        _ = try environmentKeys(projectKey)
        try state.withLock { state throws(RepositoryError) in
            _ = try Self.stored(state, projectKey, key)
            let users = Set(Self.uses(of: key, in: state.flags[projectKey] ?? [:]).map(\.flagKey)).subtracting([key]).sorted()
            if let refusal = FlagRefusal.stillRequired(key, by: users) { throw refusal }
            state.flags[projectKey]?[key] = nil
        }
    }

    func targeting(_ keys: FlagEnvironmentKeys) async throws -> FlagTargeting {
        _ = try environmentKey(keys.environment, in: keys.project)
        return try state.withLock { state throws(RepositoryError) in
            guard let targeting = try Self.stored(state, keys.project, keys.flag).resource.environments[keys.environment] else {
                throw FlagRefusal.noTargeting(keys)
            }
            return targeting
        }
    }

    func changeTargeting(_ keys: FlagEnvironmentKeys, _ change: TargetingChangeRequest, actor: Identity) async throws -> FlagTargeting {
        _ = try environmentKey(keys.environment, in: keys.project)
        let segmentKeys = segments["\(keys.project)/\(keys.environment)"] ?? []
        return try state.withLock { state throws(any Error) in
            var stored = try Self.stored(state, keys.project, keys.flag)
            guard let current = stored.resource.environments[keys.environment], let currentJSON = stored.targetingJSON[keys.environment]
            else { throw FlagRefusal.noTargeting(keys) }
            try WritePrecondition(version: change.ifMatch).check(stored: current.version, subject: "the targeting")
            let targeting = try change.targeting(current: currentJSON)
            let projectFlags = state.flags[keys.project] ?? [:]
            let validator = TargetingValidator(
                flagKey: keys.flag, variationCount: stored.resource.settings.variations.count,
                projectFlags: projectFlags.mapValues(\.resource.settings.variations.count),
                segments: segmentKeys,
                prerequisitesOf: projectFlags.compactMapValues {
                    $0.resource.environments[keys.environment]?.targeting.prerequisites.map(\.key)
                })
            try validator.validate(targeting)
            let updated = FlagTargeting(targeting: targeting, salt: stored.resource.salt, version: current.version + 1)
            stored.resource.environments[keys.environment] = updated
            stored.targetingJSON[keys.environment] = Targeting.json(targeting)
            state.flags[keys.project]?[keys.flag] = stored
            return updated
        }
    }

    // MARK: Helpers

    private func environmentKeys(_ projectKey: String) throws(RepositoryError) -> [String] {
        guard let environments = projects[projectKey] else { throw FlagRefusal.projectMissing(projectKey) }
        return environments
    }

    private func environmentKey(_ key: String, in projectKey: String) throws(RepositoryError) -> String {
        guard try environmentKeys(projectKey).contains(key) else { throw FlagRefusal.environmentMissing(key, project: projectKey) }
        return key
    }

    private static func stored(_ state: State, _ projectKey: String, _ key: String) throws(RepositoryError) -> StoredFlag {
        guard let stored = state.flags[projectKey]?[key] else { throw FlagRefusal.flagMissing(key, project: projectKey) }
        return stored
    }

    /// Every prerequisite on `key` in the project's flags.
    private static func uses(of key: String, in flags: [String: StoredFlag]) -> [FlagSettingsPatch.PrerequisiteUse] {
        flags.values.sorted { $0.resource.key < $1.resource.key }.flatMap { flag in
            flag.resource.environments.sorted { $0.key < $1.key }.flatMap { environment, targeting in
                targeting.targeting.prerequisites.filter { $0.key == key }.map {
                    FlagSettingsPatch.PrerequisiteUse(flagKey: flag.resource.key, environmentKey: environment, variation: $0.variation)
                }
            }
        }
    }
}
