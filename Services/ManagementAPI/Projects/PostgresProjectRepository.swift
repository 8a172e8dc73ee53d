import Foundation
import ModelsCore
import ServiceKit

/// ``ProjectRepository`` on PostgreSQL (`projects`, `environments`, `retired_keys`, through ``ManagementStore``): each
/// mutation is one transaction with its audit entry and the records it publishes to the data plane (outbox).
struct PostgresProjectRepository: ProjectRepository {
    let store: ManagementStore

    func create(_ draft: ProjectDraft, actor: Identity) async throws -> ProjectWithEnvironments {
        let (project, created) = try await store.createProject(
            key: draft.key, name: draft.name, environments: draft.environments.map { ($0.key, $0.name) }, actor: actor)
        return ProjectWithEnvironments(project: project.model, environments: try created.map { try $0.model() })
    }

    func projects() async throws -> [APIProject] {
        try await store.projects().map(\.model)
    }

    func project(key: String) async throws -> APIProject {
        try await store.project(key).model
    }

    func update(key: String, patch: ProjectPatch, actor: Identity) async throws -> APIProject {
        try await store.updateProject(key: key, name: patch.name, actor: actor).model
    }

    func delete(key: String, actor: Identity) async throws {
        try await store.deleteProject(key: key, actor: actor)
    }

    func createEnvironment(projectKey: String, draft: EnvironmentDraft, actor: Identity) async throws -> APIEnvironment {
        try await store.createEnvironment(
            projectKey: projectKey, key: draft.key, name: draft.name, secureMode: draft.secureMode, actor: actor).model()
    }

    func environments(projectKey: String) async throws -> [APIEnvironment] {
        try await store.environments(projectKey: projectKey).map { try $0.model() }
    }

    func environment(projectKey: String, key: String) async throws -> APIEnvironment {
        try await store.environment(projectKey: projectKey, key: key).model()
    }

    func updateEnvironment(projectKey: String, key: String, patch: EnvironmentPatch, actor: Identity) async throws -> APIEnvironment {
        try await store.updateEnvironment(
            projectKey: projectKey, key: key, name: patch.name, secureMode: patch.secureMode, actor: actor).model()
    }

    func deleteEnvironment(projectKey: String, key: String, actor: Identity) async throws {
        try await store.deleteEnvironment(projectKey: projectKey, key: key, actor: actor)
    }

    func rotateKey(projectKey: String, environmentKey: String, kind: KeyKind, rotation: KeyRotation,
        actor: Identity) async throws -> APIEnvironment {
        try await store.rotateKey(
            projectKey: projectKey, environmentKey: environmentKey, kind: kind.rawValue,
            expireOldAfterSeconds: rotation.expireOldAfterSeconds, actor: actor).model()
    }

    func payload(projectKey: String, environmentKey: String) async throws -> PollingPayload {
        try await store.payload(projectKey: projectKey, environmentKey: environmentKey)
    }
}

extension Project {
    /// The row as the API shows it.
    var model: APIProject {
        APIProject(id: id.uuidString.lowercased(), key: key, name: name, createdAt: createdAt, updatedAt: updatedAt)
    }
}

extension Environment {
    /// A `retired_keys.kind` outside the table's CHECK (`sdk`, `mobile`): the row cannot be shown.
    struct UnknownKeyKind: Error, CustomStringConvertible {
        var kind: String
        var description: String { "retired key of unknown kind \"\(kind)\"" }
    }

    /// The row as the API shows it, keys unmasked (``APIEnvironment/masked`` for readers).
    func model() throws -> APIEnvironment {
        APIEnvironment(
            id: id.uuidString.lowercased(), key: key, name: name, projectKey: projectKey, sdkKey: sdkKey, mobileKey: mobileKey,
            clientSideId: clientSideID, secureMode: secureMode, version: version, createdAt: createdAt, updatedAt: updatedAt,
            retiredKeys: try retiredKeys.map { retired in
                guard let kind = KeyKind(rawValue: retired.kind) else { throw UnknownKeyKind(kind: retired.kind) }
                return APIEnvironment.RetiredKey(kind: kind, key: retired.key, expiresAt: retired.expiresAtMillis)
            })
    }
}
