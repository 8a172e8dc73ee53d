import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ModelsCore
import NIOCore
import ServiceKit
import Testing

@testable import ManagementAPI

/// The API's router with controllers over in-memory repositories: routes, status codes, JSON shapes, validation
/// and roles, tested without PostgreSQL or a process. The middleware is the service's own
/// (``ManagementRoutes/apiGroup(of:authentication:)``), except that the caller is given instead of authenticated.
enum RouterHarness {
    /// Stands in for the token middleware: the caller is `identity`.
    struct CallerMiddleware: RouterMiddleware {
        typealias Context = ManagementContext
        let identity: Identity
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var context = context
            context.identity = identity
            return try await next(request, context)
        }
    }

    /// An application whose caller holds `role` (token name `tester`, so the actor is `token:tester`), with the routes
    /// that `register` adds to the `/api/v1` group.
    static func app(role: Role, _ register: (RouterGroup<ManagementContext>) -> Void) -> some ApplicationProtocol {
        let router = Router(context: ManagementContext.self)
        router.add(middleware: JSONErrorMiddleware(metrics: ServiceMetrics()))
        let api = ManagementRoutes.apiGroup(
            of: router, authentication: CallerMiddleware(identity: Identity(tokenID: "t", name: "tester", role: role)))
        register(api)
        return Application(router: router)
    }

    /// A response body as JSON (`null` when it is not JSON).
    static func json(_ buffer: ByteBuffer) -> JSONValue { (try? JSONParser.parse(Array(buffer.readableBytesView))) ?? .null }

    /// The `details[].path`s of an error body.
    static func problemPaths(_ buffer: ByteBuffer) -> [String] {
        (json(buffer)["details"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
    }
}

extension TestClientProtocol {
    /// Sends `body` (JSON text, or nothing when empty) with `Content-Type: application/json`.
    func send(_ method: HTTPRequest.Method, _ uri: String, _ body: String = "", headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields = headers
        if !body.isEmpty { fields[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: fields, body: body.isEmpty ? nil : ByteBuffer(string: body))
    }
}
