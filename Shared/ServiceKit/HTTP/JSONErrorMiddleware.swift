import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// Turns every error into a JSON ``APIError`` response and records request metrics; unexpected
/// errors become a 500 without internals, and are logged.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServiceMetrics

    public init(metrics: ServiceMetrics) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as APIError {
            response = try error.response(from: request, context: context)
        } catch let error as HTTPError {
            response = try Self.translate(error).response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            if error.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            }
            let translated = APIError(error.status, code: Self.code(for: error.status), message: error.status.reasonPhrase)
            response = try translated.response(from: request, context: context)
        } catch let error as HTTPParserError {
            // A malformed body (a bad chunk size…) found while the handler read it: the client's
            // fault. HTTPConnectionGuard has usually answered already, and closes the connection.
            response = try APIError.badRequest("malformed HTTP request (\(HTTPConnectionGuard.describe(error)))")
                .response(from: request, context: context)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            response = try APIError(.internalServerError, code: "internal", message: "internal error")
                .response(from: request, context: context)
        }
        metrics.requests.increment()
        if response.status.code >= 500 { metrics.requestErrors.increment() }
        metrics.requestDuration.record(ContinuousClock.now - start)
        return response
    }

    static func translate(_ error: HTTPError) -> APIError {
        APIError(error.status, code: code(for: error.status), message: error.body ?? error.status.reasonPhrase, headers: error.headers)
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 412: "precondition_failed"
        case 413: "payload_too_large"
        case 415: "unsupported_media_type"
        case 422: "validation_failed"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal" : "error"
        }
    }
}
