import Foundation
import ModelsCore
import Synchronization

/// Where projects and their environments live. One protocol for both: environments exist only inside a project,
/// a project is created with its environments and deleted with them (in one transaction), and every environment
/// operation first finds its project; two repositories would have to share that state anyway.
///
/// Refusals are ``RepositoryError``s: `notFound` for a missing project or environment, `conflict` for a key that is
/// taken. Every mutation is recorded as done by `actor` (audit log, and the data plane's outbox, in SQL).
protocol ProjectRepository: Sendable {
    /// Creates a project and the draft's environments, each with fresh keys.
    func create(_ draft: ProjectDraft, actor: Identity) async throws -> ProjectWithEnvironments
    /// Every project, by key.
    func projects() async throws -> [APIProject]
    func project(key: String) async throws -> APIProject
    func update(key: String, patch: ProjectPatch, actor: Identity) async throws -> APIProject
    /// Deletes a project and its environments (withdrawn from the data plane).
    func delete(key: String, actor: Identity) async throws

    /// Creates an environment with fresh keys; every flag of the project gets its initial targeting there.
    func createEnvironment(projectKey: String, draft: EnvironmentDraft, actor: Identity) async throws -> APIEnvironment
    /// The project's environments, by key, with their keys unmasked.
    func environments(projectKey: String) async throws -> [APIEnvironment]
    func environment(projectKey: String, key: String) async throws -> APIEnvironment
    func updateEnvironment(projectKey: String, key: String, patch: EnvironmentPatch, actor: Identity) async throws -> APIEnvironment
    func deleteEnvironment(projectKey: String, key: String, actor: Identity) async throws
    /// Replaces the environment's `kind` key; the old one keeps working for the rotation's grace period (a retired key).
    func rotateKey(projectKey: String, environmentKey: String, kind: KeyKind, rotation: KeyRotation,
        actor: Identity) async throws -> APIEnvironment
    /// The environment's flags and segments exactly as SDKs receive them (`/sdk/latest-all`).
    func payload(projectKey: String, environmentKey: String) async throws -> PollingPayload
}

/// Projects and environments in memory, for fast tests of the routes and validation. No flags, so payloads are empty;
/// no audit log or outbox: those are the SQL repository's.
final class InMemoryProjectRepository: ProjectRepository {
    private struct State {
        var projects: [String: APIProject] = [:]
        /// By project key, then environment key.
        var environments: [String: [String: APIEnvironment]] = [:]
    }

    private let state = Mutex(State())
    /// Unix milliseconds now: the clock of timestamps and grace periods.
    private let now: @Sendable () -> Int

    init(now: @escaping @Sendable () -> Int = currentMillis) {
        self.now = now
    }

    func create(_ draft: ProjectDraft, actor: Identity) async throws -> ProjectWithEnvironments {
        let time = timestamp()
        return try state.withLock { state throws(RepositoryError) in
            guard state.projects[draft.key] == nil else { throw .conflict("project \"\(draft.key)\" already exists") }
            let project = APIProject(id: Self.id(), key: draft.key, name: draft.name, createdAt: time, updatedAt: time)
            let environments = draft.environments.map { Self.environment($0, projectKey: draft.key, time: time) }
            state.projects[draft.key] = project
            state.environments[draft.key] = Dictionary(uniqueKeysWithValues: environments.map { ($0.key, $0) })
            return ProjectWithEnvironments(project: project, environments: environments)
        }
    }

    func projects() async throws -> [APIProject] {
        state.withLock { $0.projects.values.sorted { $0.key < $1.key } }
    }

    func project(key: String) async throws -> APIProject {
        try state.withLock { state throws(RepositoryError) in try Self.project(key, in: state) }
    }

    func update(key: String, patch: ProjectPatch, actor: Identity) async throws -> APIProject {
        let time = timestamp()
        return try state.withLock { state throws(RepositoryError) in
            var project = try Self.project(key, in: state)
            project.name = patch.name
            project.updatedAt = time
            state.projects[key] = project
            return project
        }
    }

    func delete(key: String, actor: Identity) async throws {
        try state.withLock { state throws(RepositoryError) in
            _ = try Self.project(key, in: state)
            state.projects[key] = nil
            state.environments[key] = nil
        }
    }

    func createEnvironment(projectKey: String, draft: EnvironmentDraft, actor: Identity) async throws -> APIEnvironment {
        let time = timestamp()
        return try state.withLock { state throws(RepositoryError) in
            _ = try Self.project(projectKey, in: state)
            guard state.environments[projectKey]?[draft.key] == nil else {
                throw .conflict("environment \"\(draft.key)\" already exists in project \"\(projectKey)\"")
            }
            let environment = Self.environment(draft, projectKey: projectKey, time: time)
            state.environments[projectKey, default: [:]][draft.key] = environment
            return environment
        }
    }

    func environments(projectKey: String) async throws -> [APIEnvironment] {
        let now = now()
        return try state.withLock { state throws(RepositoryError) in
            _ = try Self.project(projectKey, in: state)
            return (state.environments[projectKey] ?? [:]).values.sorted { $0.key < $1.key }.map { Self.current($0, now: now) }
        }
    }

    func environment(projectKey: String, key: String) async throws -> APIEnvironment {
        let now = now()
        return try state.withLock { state throws(RepositoryError) in
            Self.current(try Self.environment(projectKey, key, in: state), now: now)
        }
    }

    func updateEnvironment(projectKey: String, key: String, patch: EnvironmentPatch, actor: Identity) async throws -> APIEnvironment {
        let now = now()
        let time = timestamp()
        return try state.withLock { state throws(RepositoryError) in
            var environment = try Self.environment(projectKey, key, in: state)
            environment.name = patch.name ?? environment.name
            environment.secureMode = patch.secureMode ?? environment.secureMode
            environment.version += 1
            environment.updatedAt = time
            state.environments[projectKey]?[key] = environment
            return Self.current(environment, now: now)
        }
    }

    func deleteEnvironment(projectKey: String, key: String, actor: Identity) async throws {
        try state.withLock { state throws(RepositoryError) in
            _ = try Self.environment(projectKey, key, in: state)
            state.environments[projectKey]?[key] = nil
        }
    }

    func rotateKey(projectKey: String, environmentKey: String, kind: KeyKind, rotation: KeyRotation,
        actor: Identity) async throws -> APIEnvironment {
        let now = now()
        let time = timestamp()
        return try state.withLock { state throws(RepositoryError) in
            // As in SQL: expired retired keys are dropped, the old key is retired only for a grace period above 0.
            var environment = Self.current(try Self.environment(projectKey, environmentKey, in: state), now: now)
            let oldKey = kind == .sdk ? environment.sdkKey : environment.mobileKey
            if rotation.expireOldAfterSeconds > 0 {
                environment.retiredKeys.append(.init(kind: kind, key: oldKey, expiresAt: now + rotation.expireOldAfterSeconds * 1000))
                environment.retiredKeys.sort { $0.expiresAt < $1.expiresAt }
            }
            switch kind {
            case .sdk: environment.sdkKey = Identifiers.sdkKey()
            case .mobile: environment.mobileKey = Identifiers.mobileKey()
            }
            environment.version += 1
            environment.updatedAt = time
            state.environments[projectKey]?[environmentKey] = environment
            return environment
        }
    }

    func payload(projectKey: String, environmentKey: String) async throws -> PollingPayload {
        try state.withLock { state throws(RepositoryError) in
            _ = try Self.environment(projectKey, environmentKey, in: state)
            return PollingPayload()
        }
    }

    // MARK: Helpers

    private func timestamp() -> String {
        ISO8601DateFormatter.vaneMilliseconds.string(from: Date(timeIntervalSince1970: Double(now()) / 1000))
    }

    private static func id() -> String { UUID().uuidString.lowercased() }

    private static func project(_ key: String, in state: State) throws(RepositoryError) -> APIProject {
        guard let project = state.projects[key] else { throw .notFound("project \"\(key)\" does not exist") }
        return project
    }

    private static func environment(_ projectKey: String, _ key: String, in state: State) throws(RepositoryError) -> APIEnvironment {
        _ = try project(projectKey, in: state)
        guard let environment = state.environments[projectKey]?[key] else {
            throw .notFound("environment \"\(key)\" does not exist in project \"\(projectKey)\"")
        }
        return environment
    }

    /// A new environment with fresh keys, version 1.
    private static func environment(_ draft: EnvironmentDraft, projectKey: String, time: String) -> APIEnvironment {
        APIEnvironment(
            id: id(), key: draft.key, name: draft.name, projectKey: projectKey, sdkKey: Identifiers.sdkKey(),
            mobileKey: Identifiers.mobileKey(), clientSideId: Identifiers.clientSideID(), secureMode: draft.secureMode, version: 1,
            createdAt: time, updatedAt: time, retiredKeys: [])
    }

    /// `environment` without the retired keys whose grace period is over, as SQL reads it.
    private static func current(_ environment: APIEnvironment, now: Int) -> APIEnvironment {
        var environment = environment
        environment.retiredKeys.removeAll { $0.expiresAt <= now }
        return environment
    }
}
