import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// The published contract of `/api/v1`: docs/openapi.yaml, served as JSON, and the `405` answers it implies.
enum APIContract {
    /// Where the document is served, without a token.
    static let documentPath = "api/v1/openapi.json"

    /// The document's bytes (compiled in: a deployed binary has no docs/ folder).
    static let documentBytes: [UInt8] = Array(OpenAPIDocument.json.utf8)

    /// `GET /api/v1/openapi.json`, outside the token middleware.
    static func addDocumentRoute(to router: Router<ManagementContext>) {
        router.get(RouterPath(documentPath)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: documentBytes)))
        }
    }

    /// Answers a request for a registered `/api/v1` path with a method it does not serve with `405` and `Allow`
    /// (instead of the router's 404), as docs/api.md promises. `routes` is what the router has registered.
    static func methodNotAllowed(
        for routes: [Router<ManagementContext>.RouteDescription]
    ) -> MethodNotAllowedMiddleware<ManagementContext> {
        var methods: [String: [HTTPRequest.Method]] = [:]
        var order: [String] = []
        for route in routes where route.path.description.hasPrefix("/api/v1/") {
            // RouterPath writes captures as `{name}`; the middleware matches `:name`.
            let path = route.path.components.map { component in
                let text = component.description
                return text.hasPrefix("{") && text.hasSuffix("}") ? ":" + text.dropFirst().dropLast() : text
            }.joined(separator: "/")
            if methods[path] == nil { order.append(path) }
            methods[path, default: []].append(route.method)
        }
        return MethodNotAllowedMiddleware(order.map { (path: $0, allowed: methods[$0] ?? []) })
    }
}
