import Foundation
import Hummingbird
import Logging
import ServiceKit

/// The request context of management-api: the authenticated caller, once the token middleware ran.
struct ManagementContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var identity: Identity?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Request bodies are limited to 1 MiB (413 above).
    static let bodyLimit = 1 << 20
    var maxUploadSize: Int { Self.bodyLimit }

    /// The caller, who must hold at least `role`; 403 otherwise.
    func require(_ role: Role) throws -> Identity {
        guard let identity else { throw APIError.unauthorized() }
        guard identity.role >= role else {
            throw APIError.forbidden(
                "this requires the \(role.rawValue) role; the token \"\(identity.name)\" is a \(identity.role.rawValue)")
        }
        return identity
    }
}

/// Authenticates every request of the API group.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = ManagementContext
    let authenticator: TokenAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.identity = try await authenticator.authenticate(request)
        return try await next(request, context)
    }
}

extension Request {
    /// A query parameter, if present and not empty.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }

    /// A query parameter as sent, empty or not: for typed parameters (numbers, times, `true`/`false`), where an
    /// empty value is invalid (422) rather than absent.
    func typedQuery(_ name: String) -> String? {
        uri.queryParameters.get(name).map { String($0) }
    }

    /// The version in `If-Match` (`"3"`, `W/"3"` or `3`); nil when absent or `*`.
    func ifMatchVersion() throws -> Int? {
        guard let header = headers[.ifMatch]?.trimmingCharacters(in: .whitespaces), header != "*" else { return nil }
        var text = Substring(header)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        text = text.drop { $0 == "\"" }
        while text.last == "\"" { text = text.dropLast() }
        guard let version = Int(text) else { throw APIError.badRequest("If-Match must hold a version, e.g. \"3\"") }
        return version
    }

    /// Whether a write carries `If-None-Match: *` (create only, never replace); any other value is refused (400).
    func ifNoneMatchAny() throws -> Bool {
        guard let header = headers[.ifNoneMatch]?.trimmingCharacters(in: .whitespaces) else { return false }
        guard header == "*" else { throw APIError.badRequest("If-None-Match on a write accepts only *") }
        return true
    }
}
