import Foundation
import Synchronization

/// The answer of ``SegmentRepository/put(projectKey:environmentKey:key:draft:comment:actor:)``: the stored segment and
/// whether the PUT created it (201) or replaced it (200).
struct SegmentPutResult: Sendable, Equatable {
    var segment: SegmentResource
    var created: Bool
}

/// Where the segments of each environment live. Refusals are ``RepositoryError``s: `notFound` for a missing project,
/// environment or segment, `invalid` for a definition that is wrong against the environment's other segments (an
/// unknown segment, a cycle), `conflict` for deleting a segment that a flag or another segment still refers to,
/// `versionMismatch` when the caller's precondition (`If-Match`, `If-None-Match: *`) does not hold (``WritePrecondition``).
protocol SegmentRepository: Sendable {
    /// The environment's segments, by key.
    func list(projectKey: String, environmentKey: String) async throws -> [SegmentResource]
    /// One segment.
    func segment(projectKey: String, environmentKey: String, key: String) async throws -> SegmentResource
    /// Creates or replaces segment `key` with `draft` (the stored salt kept unless the draft sets one); the version
    /// counts up, also past a deleted segment of the same key. Only if `precondition` holds.
    func put(
        projectKey: String, environmentKey: String, key: String, draft: SegmentDraft, precondition: WritePrecondition,
        comment: String?, actor: Identity
    ) async throws -> SegmentPutResult
    /// Deletes a segment that nothing refers to, if `precondition` holds.
    func delete(
        projectKey: String, environmentKey: String, key: String, precondition: WritePrecondition, comment: String?, actor: Identity
    ) async throws
}

/// Segments in memory, for fast tests of the routes and validation (no audit log or outbox: that is the SQL
/// repository's job). Flags are not modelled here: which flags refer to a segment is asked of `flagsReferring`.
final class InMemorySegmentRepository: SegmentRepository {
    /// One environment's segments and the versions of deleted ones.
    private struct Environment {
        var segments: [String: SegmentResource] = [:]
        var definitions: [String: SegmentDefinition] = [:]
        var tombstones: [String: Int] = [:]
    }

    private struct State {
        /// By `project/environment`.
        var environments: [String: Environment]
        var clock = InMemoryClock()
    }

    private let state: Mutex<State>
    private let flagsReferring: @Sendable (_ projectKey: String, _ environmentKey: String, _ segmentKey: String) -> [String]

    /// A repository with the given environments (project and environment keys), all empty; `flagsReferring` answers
    /// which flags of an environment refer to a segment (none by default), for the deletion check.
    init(
        environments: [(project: String, environment: String)] = [("p", "production")],
        flagsReferring: @escaping @Sendable (_ projectKey: String, _ environmentKey: String, _ segmentKey: String) -> [String] = {
            _, _, _ in []
        }
    ) {
        state = Mutex(State(environments: Dictionary(
            environments.map { ("\($0.project)/\($0.environment)", Environment()) }, uniquingKeysWith: { first, _ in first })))
        self.flagsReferring = flagsReferring
    }

    func list(projectKey: String, environmentKey: String) async throws -> [SegmentResource] {
        try state.withLock { state throws(RepositoryError) in
            try Self.environment(state, projectKey, environmentKey).segments.values.sorted { $0.key < $1.key }
        }
    }

    func segment(projectKey: String, environmentKey: String, key: String) async throws -> SegmentResource {
        try state.withLock { state throws(RepositoryError) in
            guard let segment = try Self.environment(state, projectKey, environmentKey).segments[key] else {
                throw Self.missing(key, environmentKey)
            }
            return segment
        }
    }

    func put(
        projectKey: String, environmentKey: String, key: String, draft: SegmentDraft, precondition: WritePrecondition,
        comment: String?, actor: Identity
    ) async throws -> SegmentPutResult {
        try state.withLock { state throws(RepositoryError) in
            var environment = try Self.environment(state, projectKey, environmentKey)
            let existing = environment.segments[key]
            try precondition.check(stored: existing?.version, subject: "segment \"\(key)\"")
            let definition = draft.definition(existingSalt: existing?.salt)
            do throws(ValidationError) {
                try definition.validate(others: environment.definitions)
            } catch {
                throw RepositoryError.invalid(error)
            }
            let now = state.clock.next()
            let version = (existing?.version ?? environment.tombstones[key] ?? 0) + 1
            environment.tombstones[key] = nil
            let segment = SegmentResource(
                key: key, definition: definition, version: version, createdAt: existing?.createdAt ?? now, updatedAt: now)
            environment.segments[key] = segment
            environment.definitions[key] = definition
            state.environments["\(projectKey)/\(environmentKey)"] = environment
            return SegmentPutResult(segment: segment, created: existing == nil)
        }
    }

    func delete(
        projectKey: String, environmentKey: String, key: String, precondition: WritePrecondition, comment: String?, actor: Identity
    ) async throws {
        // Asked outside the lock: the closure may read state of its own.
        let flags = flagsReferring(projectKey, environmentKey, key)
        try state.withLock { state throws(RepositoryError) in
            var environment = try Self.environment(state, projectKey, environmentKey)
            guard let existing = environment.segments[key] else { throw Self.missing(key, environmentKey) }
            try precondition.check(stored: existing.version, subject: "segment \"\(key)\"")
            let segments = environment.definitions.filter { $0.key != key && $0.value.referencedSegments.contains(key) }
                .map { "segment \($0.key)" }
            let referrers = flags + segments
            if !referrers.isEmpty {
                throw RepositoryError.conflict(
                    "segment \"\(key)\" is used by \(referrers.sorted().joined(separator: ", ")); remove those references first")
            }
            environment.segments[key] = nil
            environment.definitions[key] = nil
            environment.tombstones[key] = existing.version + 1
            state.environments["\(projectKey)/\(environmentKey)"] = environment
        }
    }

    private static func environment(_ state: State, _ projectKey: String, _ environmentKey: String) throws(RepositoryError) -> Environment {
        if let environment = state.environments["\(projectKey)/\(environmentKey)"] { return environment }
        if !state.environments.keys.contains(where: { $0.hasPrefix("\(projectKey)/") }) {
            throw .notFound("project \"\(projectKey)\" does not exist")
        }
        throw .notFound("environment \"\(environmentKey)\" does not exist in project \"\(projectKey)\"")
    }

    private static func missing(_ key: String, _ environmentKey: String) -> RepositoryError {
        .notFound("segment \"\(key)\" does not exist in environment \"\(environmentKey)\"")
    }
}
