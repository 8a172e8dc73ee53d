import ModelsCore
import ServiceKit

/// ``FlagRepository`` on PostgreSQL (`flags`, `flag_targeting`, through ``ManagementStore``): each mutation is one
/// transaction with its version bumps, audit entry and outbox records.
struct PostgresFlagRepository: FlagRepository {
    let store: ManagementStore
    /// `VANE_STALE_DAYS`, for the stale filter.
    var staleDays = 7

    func create(_ draft: FlagDraft, projectKey: String, actor: Identity) async throws -> FlagResource {
        try await store.createFlag(projectKey: projectKey, key: draft.key, settings: draft.settings, salt: draft.salt, actor: actor)
    }

    func list(projectKey: String, query: FlagListQuery) async throws -> [FlagResource] {
        let flags = try await store.flags(projectKey: projectKey, tag: query.tag, query: query.text)
        guard let stale = query.stale else { return flags }
        let staleness = try await store.staleness(projectKey: projectKey, environmentKey: stale.environment, staleDays: staleDays)
        return query.filterStale(flags, staleness: staleness)
    }

    func flag(projectKey: String, key: String) async throws -> FlagResource {
        try await store.flagResource(projectKey: projectKey, key: key)
    }

    func update(projectKey: String, key: String, patch: FlagSettingsPatch, actor: Identity) async throws -> FlagResource {
        try await store.updateFlag(projectKey: projectKey, key: key, patch: patch, actor: actor)
    }

    func delete(projectKey: String, key: String, actor: Identity) async throws {
        try await store.deleteFlag(projectKey: projectKey, key: key, actor: actor)
    }

    func targeting(_ keys: FlagEnvironmentKeys) async throws -> FlagTargeting {
        try await store.targeting(projectKey: keys.project, flagKey: keys.flag, environmentKey: keys.environment)
    }

    func changeTargeting(_ keys: FlagEnvironmentKeys, _ change: TargetingChangeRequest, actor: Identity) async throws -> FlagTargeting {
        try await store.changeTargeting(keys, change, actor: actor)
    }
}
