import Hummingbird
import HTTPTypes

/// LaunchDarkly's event endpoints (protocol reference §4.1), all answered by one ``EventIntake``.
struct EventRoutes {
    let intake: EventIntake

    func add(to router: Router<BasicRequestContext>) {
        let intake = self.intake
        router.post("bulk") { request, _ in
            await intake.handle(request, endpoint: .serverBulk, clientSideID: nil)
        }
        router.post("diagnostic") { request, _ in
            await intake.handle(request, endpoint: .serverDiagnostic, clientSideID: nil)
        }
        // Mobile SDKs have used three paths for the same batches over the years.
        for path in ["mobile", "mobile/events", "mobile/events/bulk"] {
            router.post(RouterPath(path)) { request, _ in
                await intake.handle(request, endpoint: .mobileBulk, clientSideID: nil)
            }
        }
        router.post("mobile/events/diagnostic") { request, _ in
            await intake.handle(request, endpoint: .mobileDiagnostic, clientSideID: nil)
        }
        let browser: [(String, EventEndpoint)] = [
            ("events/bulk/:clientSideID", .browserBulk), ("events/diagnostic/:clientSideID", .browserDiagnostic),
        ]
        for (path, endpoint) in browser {
            router.post(RouterPath(path)) { request, context in
                var response = await intake.handle(request, endpoint: endpoint, clientSideID: context.parameters.get("clientSideID"))
                BrowserCORS.add(to: &response.headers, for: request)
                return response
            }
            router.on(RouterPath(path), method: .options) { request, _ in
                var headers = HTTPFields()
                BrowserCORS.add(to: &headers, for: request)
                return Response(status: .ok, headers: headers)
            }
        }
    }
}

/// CORS for the browser endpoints, as LaunchDarkly's Relay answers them (protocol reference §8.1):
/// any origin (events carry no secret; the client-side id is public), no credentials, and the
/// headers the JS SDK sends. Added to every response of those routes, errors included, so a page
/// can read the status.
enum BrowserCORS {
    static let allowedHeaders = [
        "Cache-Control", "Content-Type", "Content-Length", "Content-Encoding", "Accept-Encoding", "X-LaunchDarkly-User-Agent",
        "X-LaunchDarkly-Payload-ID", "X-LaunchDarkly-Wrapper", "X-LaunchDarkly-Event-Schema", "X-LaunchDarkly-Tags",
    ].joined(separator: ",")

    static func add(to headers: inout HTTPFields, for request: Request) {
        if let origin = request.headers[.origin] {
            headers[.accessControlAllowOrigin] = origin
            headers[.vary] = "Origin"
        } else {
            headers[.accessControlAllowOrigin] = "*"
        }
        headers[.accessControlAllowCredentials] = "false"
        headers[.accessControlAllowMethods] = "POST, OPTIONS"
        headers[.accessControlAllowHeaders] = allowedHeaders
        headers[.accessControlExposeHeaders] = "Date"
        headers[.accessControlMaxAge] = "300"
    }
}
