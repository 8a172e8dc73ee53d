import ServiceKit

/// Where experiments live. Every mutation is one transaction that also appends its audit entry. Refusals are
/// ``RepositoryError``s like the rest of the management store (not found for a missing project or experiment, a
/// conflict for the experiment's state) and ``ValidationError``s naming the field for a body that does not fit the
/// flag or the environment.
protocol ExperimentRepository: Sendable {
    func create(projectKey: String, draft: ExperimentDraft, actor: Identity) async throws -> Experiment
    func list(projectKey: String) async throws -> [Experiment]
    func experiment(projectKey: String, key: String) async throws -> Experiment
    func update(projectKey: String, key: String, patch: ExperimentPatch, actor: Identity) async throws -> Experiment
    func delete(projectKey: String, key: String, actor: Identity) async throws
    /// Opens a new iteration (409 if one is running).
    func start(projectKey: String, key: String, actor: Identity) async throws -> ExperimentIteration
    /// Closes the running iteration (409 if none is running).
    func stop(projectKey: String, key: String, actor: Identity) async throws -> ExperimentIteration
    func iterations(projectKey: String, key: String) async throws -> [ExperimentIteration]
    /// The experiment, the iteration (`number`, or the current or last one), the flag's variation count and what
    /// the analytics state holds for that iteration, read in one snapshot; `updatedAt` is when it was read.
    func observations(projectKey: String, key: String, iteration number: Int?) async throws -> ExperimentSnapshot
}

/// The input of an analysis, as read from the database.
struct ExperimentSnapshot: Sendable {
    var experiment: Experiment
    var iteration: ExperimentIteration
    var variationCount: Int
    var observations: ExperimentObservations
    var updatedAt: String
}
