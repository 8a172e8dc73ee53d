import HTTPTypes
import Hummingbird
import ModelsCore
import NIOCore
import ServiceKit

/// The client-side evaluation endpoints of LaunchDarkly's Relay: every flag the client may see,
/// evaluated for one context.
///
/// - `GET /sdk/evalx/{clientSideId}/contexts/{ctx}`, `REPORT /sdk/evalx/{clientSideId}/context`: the client-side id
///   (404 if unknown) and the secure-mode hash `h` if required; flags with `usingEnvironmentId`.
/// - `GET /msdk/evalx/contexts/{ctx}`, `REPORT /msdk/evalx/context`: a mobile key (401); flags with `usingMobileKey`.
/// - `GET /sdk/evalx/contexts/{ctx}`, `REPORT /sdk/evalx/context`: an SDK key (401); all flags.
///
/// The older `users`/`user` spellings are served too. Browser routes answer `OPTIONS` and carry
/// CORS headers; `?withReasons=true` adds each result's reason.
struct ClientSideRoutes {
    let access: RelayAccess
    let gate: BuildGate
    let maxBodyBytes: Int

    /// The method client SDKs use to send a context in the body.
    static let report = HTTPRequest.Method("REPORT")!

    /// Registers the routes.
    func add(to router: Router<BasicRequestContext>) {
        for plural in ["contexts", "users"] {
            router.get(RouterPath("sdk/evalx/:environment/\(plural)/:context")) { request, context in
                try await browser(request, environmentID: try context.parameters.require("environment")) {
                    try ClientContext.decode(base64URL: try context.parameters.require("context"))
                }
            }
            router.on(RouterPath("sdk/evalx/:environment/\(plural)/:context"), method: .options) { request, _ in
                Self.preflight(request, methods: "GET, OPTIONS")
            }
            router.get(RouterPath("msdk/evalx/\(plural)/:context")) { request, context in
                try await keyed(request, client: .mobile) { try ClientContext.decode(base64URL: try context.parameters.require("context")) }
            }
            router.get(RouterPath("sdk/evalx/\(plural)/:context")) { request, context in
                try await keyed(request, client: .server) { try ClientContext.decode(base64URL: try context.parameters.require("context")) }
            }
        }
        for singular in ["context", "user"] {
            router.on(RouterPath("sdk/evalx/:environment/\(singular)"), method: Self.report) { request, context in
                let body = try await JSONBody.bytes(of: request, limit: maxBodyBytes)
                return try await browser(request, environmentID: try context.parameters.require("environment")) {
                    try ClientContext.decode(json: body)
                }
            }
            router.on(RouterPath("sdk/evalx/:environment/\(singular)"), method: .options) { request, _ in
                Self.preflight(request, methods: "REPORT, OPTIONS")
            }
            router.on(RouterPath("msdk/evalx/\(singular)"), method: Self.report) { request, _ in
                let body = try await JSONBody.bytes(of: request, limit: maxBodyBytes)
                return try await keyed(request, client: .mobile) { try ClientContext.decode(json: body) }
            }
            router.on(RouterPath("sdk/evalx/\(singular)"), method: Self.report) { request, _ in
                let body = try await JSONBody.bytes(of: request, limit: maxBodyBytes)
                return try await keyed(request, client: .server) { try ClientContext.decode(json: body) }
            }
        }
        // Preflight for the browser streams, which are served below Hummingbird (ConnectionHandler).
        router.on("eval/:environment/:context", method: .options) { request, _ in Self.preflight(request, methods: "GET, OPTIONS") }
        router.on("eval/:environment", method: .options) { request, _ in Self.preflight(request, methods: "REPORT, OPTIONS") }
        router.on("ping/:environment", method: .options) { request, _ in Self.preflight(request, methods: "GET, OPTIONS") }
        // Click and page-view goals of the browser SDK: none are defined in Vane.
        router.get("sdk/goals/:environment") { request, context in
            let cors = CORS.headers(origin: request.headers[.origin], methods: "GET, OPTIONS")
            return try await RelayHeaders.adding(cors) {
                let admitted = try access.clientSide(environmentID: try context.parameters.require("environment"))
                var headers = RelayHeaders.fields(environmentID: admitted.environment.id, revision: admitted.data.revision)
                headers[.contentType] = "application/json"
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "[]")))
            }
        }
        router.on("sdk/goals/:environment", method: .options) { request, _ in Self.preflight(request, methods: "GET, OPTIONS") }
    }

    /// A browser request: client-side id, secure mode, CORS on every answer.
    private func browser(
        _ request: Request, environmentID: String, context decode: () throws -> EvaluationContext
    ) async throws -> Response {
        let cors = CORS.headers(origin: request.headers[.origin], methods: "GET, REPORT, OPTIONS")
        return try await RelayHeaders.adding(cors) {
            let admitted = try access.clientSide(environmentID: environmentID)
            return try await RelayHeaders.adding(RelayHeaders.fields(environmentID: admitted.environment.id,
                revision: admitted.data.revision)) {
                let evaluationContext = try decode()
                try ClientContext.checkSecureMode(
                    evaluationContext, hash: request.query("h"), environment: admitted.environment,
                    directory: access.store.directory, now: WallClock.nowMilliseconds())
                return try evaluate(request, admitted: admitted, context: evaluationContext, client: .javaScript)
            }
        }
    }

    /// A mobile- or SDK-key request.
    private func keyed(_ request: Request, client: ClientKind, context decode: () throws -> EvaluationContext) async throws -> Response {
        let now = WallClock.nowMilliseconds()
        let authorization = request.headers[.authorization]
        let admitted = client == .mobile
            ? try access.mobile(authorization: authorization, now: now)
            : try access.serverSide(authorization: authorization, now: now)
        return try await RelayHeaders.adding(RelayHeaders.fields(environmentID: admitted.environment.id,
            revision: admitted.data.revision)) {
            try evaluate(request, admitted: admitted, context: try decode(), client: client)
        }
    }

    private func evaluate(_ request: Request, admitted: EnvironmentAccess, context: EvaluationContext,
        client: ClientKind) throws -> Response {
        let snapshot = admitted.data.snapshot()
        let withReasons = request.query("withReasons") == "true"
        guard let body = gate.run({
            ClientSideEvaluation.evaluateAll(snapshot.evaluation, context: context, client: client, withReasons: withReasons)
        }) else {
            throw access.overloaded()
        }
        var headers = RelayHeaders.fields(environmentID: admitted.environment.id, revision: snapshot.revision)
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    private static func preflight(_ request: Request, methods: String) -> Response {
        Response(status: .ok, headers: CORS.headers(origin: request.headers[.origin], methods: methods))
    }
}
