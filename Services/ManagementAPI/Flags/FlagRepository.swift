import ModelsCore
import ServiceKit

/// Where flags and their per-environment targeting live. Every mutation is audited and published to the data
/// plane; refusals are ``RepositoryError``s (and ``ValidationError``s for a change that is invalid in itself).
protocol FlagRepository: Sendable {
    /// Creates a flag in every environment of the project: off, serving its default off variation.
    func create(_ draft: FlagDraft, projectKey: String, actor: Identity) async throws -> FlagResource
    /// The project's flags, by key, filtered by `query`.
    func list(projectKey: String, query: FlagListQuery) async throws -> [FlagResource]
    /// One flag with its targeting everywhere.
    func flag(projectKey: String, key: String) async throws -> FlagResource
    /// Merge-patches the project-wide settings; a change SDKs see moves every environment's version.
    func update(projectKey: String, key: String, patch: FlagSettingsPatch, actor: Identity) async throws -> FlagResource
    /// Deletes the flag everywhere; a conflict while other flags use it as a prerequisite.
    func delete(projectKey: String, key: String, actor: Identity) async throws
    /// The flag's targeting in one environment.
    func targeting(_ keys: FlagEnvironmentKeys) async throws -> FlagTargeting
    /// Replaces or patches the targeting in one environment (version + 1), validated against the environment:
    /// variation indexes, segments that exist, prerequisites without cycles.
    func changeTargeting(_ keys: FlagEnvironmentKeys, _ change: TargetingChangeRequest, actor: Identity) async throws -> FlagTargeting
}

/// Messages shared by the repositories, so that both refuse in the same words.
enum FlagRefusal {
    static func flagMissing(_ key: String, project: String) -> RepositoryError {
        .notFound("flag \"\(key)\" does not exist in project \"\(project)\"")
    }

    static func projectMissing(_ key: String) -> RepositoryError { .notFound("project \"\(key)\" does not exist") }

    static func environmentMissing(_ key: String, project: String) -> RepositoryError {
        .notFound("environment \"\(key)\" does not exist in project \"\(project)\"")
    }

    static func duplicate(_ key: String, project: String) -> RepositoryError {
        .conflict("flag \"\(key)\" already exists in project \"\(project)\"")
    }

    static func noTargeting(_ keys: FlagEnvironmentKeys) -> RepositoryError {
        .notFound("flag \"\(keys.flag)\" has no targeting in environment \"\(keys.environment)\"")
    }

    /// A conflict naming the flags that still use `key` as a prerequisite; nil when none does.
    static func stillRequired(_ key: String, by users: [String]) -> RepositoryError? {
        guard !users.isEmpty else { return nil }
        return .conflict("flag \"\(key)\" is a prerequisite of \(users.map { "\"\($0)\"" }.joined(separator: ", ")); remove those first")
    }
}
