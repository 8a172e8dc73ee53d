import Hummingbird
import ServiceKit

/// Answers the domain's errors as HTTP, in one place: a ``ValidationError`` is a 422 with every problem, a
/// ``RepositoryError`` a 404, 409, 422 or 412. Controllers and repositories throw them without knowing HTTP.
struct DomainErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error where !(error is APIError) && APIError(error) != nil {
            throw APIError(error) ?? error
        }
    }
}

extension APIError {
    /// `error` as the API answers it, when it is an API, validation or repository error.
    init?(_ error: any Error) {
        switch error {
        case let error as APIError: self = error
        case let error as ValidationError: self.init(error)
        case let error as RepositoryError: self.init(error)
        default: return nil
        }
    }

    /// 422 `validation_failed`, listing every problem with its path.
    init(_ error: ValidationError) {
        self = .validationFailed(error.problems.map { APIError.Detail(path: $0.path, message: $0.message) })
    }

    /// The status that says why the repository refused.
    init(_ error: RepositoryError) {
        switch error.code {
        case .notFound: self = .notFound(error.message)
        case .conflict: self = .conflict(error.message)
        case .versionMismatch: self = .preconditionFailed(error.message)
        case .invalid:
            let problems = error.problems.isEmpty ? [Problem(message: error.message)] : error.problems
            self.init(ValidationError(problems))
        }
    }
}
