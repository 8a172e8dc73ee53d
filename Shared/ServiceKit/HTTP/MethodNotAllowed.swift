import HTTPTypes
import Hummingbird

/// Answers a request for a known path with a method it does not serve with `405 Method Not
/// Allowed` and an `Allow` header, instead of the router's 404: the resource exists, only not
/// for that method (RFC 9110 §15.5.6; clients and API fuzzers rely on the difference). Any method
/// counts, registered or not (`TRACE`, `QUERY`, …).
public struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    private struct Route: Sendable {
        /// Path segments; `:name` matches any one segment.
        var segments: [String]
        var allow: String
    }

    private let routes: [Route]

    /// - Parameter routes: each path (`ofrep/v1/evaluate/flags/:key`) and the methods it serves.
    public init(_ routes: [(path: String, allowed: [HTTPRequest.Method])]) {
        self.routes = routes.map { route in
            Route(
                segments: route.path.split(separator: "/").map(String.init),
                allow: route.allowed.map(\.rawValue).joined(separator: ", "))
        }
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allow = allowedMethods(path: request.uri.path) else { throw error }
            throw APIError(
                .methodNotAllowed, code: "method_not_allowed", message: "this resource allows \(allow)", headers: [.allow: allow])
        }
    }

    /// The `Allow` value of the route `path` belongs to, if any.
    func allowedMethods(path: String) -> String? {
        let segments = path.split(separator: "/")
        return routes.first { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { pattern, segment in pattern.hasPrefix(":") || pattern == segment }
        }?.allow
    }
}
