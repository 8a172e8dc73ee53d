import Hummingbird
import PostgresSupport
import ServiceKit

/// The HTTP side of ``DatabaseAvailability`` for `/api/…`: a request is answered 503 at once while
/// PostgreSQL is unreachable, and a request already running is answered 503 as soon as the breaker
/// opens or it outlasts `VANE_DATABASE_REQUEST_TIMEOUT_SECONDS`. The handler is then cancelled and
/// abandoned: a query on a connection to a hung server returns only when the connection closes.
///
/// A responder around the router rather than a middleware, because a middleware's `next` cannot
/// outlive the call. `/healthz`, `/readyz`, `/metrics` and `/api/v1/openapi.json` do not touch the database and pass through.
///
/// A mutation answered 503 this way may still have been committed (its commit was sent, the answer
/// never came), as with any timeout; the client learns the outcome by reading the resource again.
struct DatabaseGuardResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: RequestContext {
    typealias Context = Inner.Context
    let inner: Inner
    let availability: DatabaseAvailability
    let requestTimeout: Duration

    func respond(to request: Request, context: Context) async throws -> Response {
        // The OpenAPI document is compiled in: it stays readable while PostgreSQL is down.
        guard request.uri.path.hasPrefix("/api/"), request.uri.path != "/" + APIContract.documentPath else {
            return try await inner.respond(to: request, context: context)
        }
        let error: APIError
        do {
            return try await availability.run(timeout: requestTimeout) { [inner] in
                try await inner.respond(to: request, context: context)
            }
        } catch DatabaseAvailability.Interruption.timedOut(let timeout) {
            context.logger.warning("request abandoned: the database did not answer in time", metadata: ["path": "\(request.uri.path)"])
            error = .serviceUnavailable(
                "the database did not answer within \(Self.seconds(timeout)) s; try again shortly", retryAfterSeconds: 1)
        } catch is DatabaseAvailability.Interruption {
            error = .databaseUnavailable
        }
        return try error.response(from: request, context: context)
    }

    private static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return value == value.rounded() ? "\(Int(value))" : "\(value)"
    }
}

/// Inside the router: errors that say the database is unavailable (no connection, SQLSTATE 08…,
/// 57P…, 53300; see ``DatabaseSettings/isUnavailable(_:)``) become 503 rather than 500.
struct DatabaseErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error where DatabaseSettings.isUnavailable(error) {
            context.logger.warning("PostgreSQL unavailable", metadata: ["error": "\(String(reflecting: error))"])
            throw APIError.databaseUnavailable
        }
    }
}

extension APIError {
    /// The answer while PostgreSQL is unreachable.
    fileprivate static var databaseUnavailable: APIError {
        .serviceUnavailable("PostgreSQL is unreachable; try again shortly", retryAfterSeconds: 5)
    }
}
