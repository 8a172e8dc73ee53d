/// Why a repository refused a read or a change: the repository layer's one error type. Repositories (PostgreSQL
/// or in memory) never throw HTTP errors; ``DomainErrorMiddleware`` answers these as HTTP.
struct RepositoryError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: String, Sendable, Hashable {
        /// The resource, or one on its path (project, environment, flag), does not exist.
        case notFound
        /// The change contradicts the stored state: a duplicate key, a resource still in use, a limit reached.
        case conflict
        /// The change is invalid against the stored state (an unknown segment, a prerequisite cycle, …).
        case invalid
        /// The caller's expected version (`If-Match`) is not the stored one.
        case versionMismatch
    }

    var code: Code
    var message: String
    /// For ``Code/invalid``: every problem, with its JSON path.
    var problems: [Problem]

    init(_ code: Code, _ message: String, problems: [Problem] = []) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    static func notFound(_ message: String) -> RepositoryError { RepositoryError(.notFound, message) }
    static func conflict(_ message: String) -> RepositoryError { RepositoryError(.conflict, message) }
    static func versionMismatch(_ message: String) -> RepositoryError { RepositoryError(.versionMismatch, message) }
    static func invalid(_ error: ValidationError) -> RepositoryError {
        RepositoryError(.invalid, error.description, problems: error.problems)
    }

    var description: String { "\(code.rawValue): \(message)" }
}
