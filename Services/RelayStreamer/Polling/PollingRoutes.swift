import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// Server-side polling: `GET /sdk/latest-all` (the Python SDK's `stream=False` mode), and the FDv2
/// endpoints answered so that SDKs fall back to the protocol served here.
struct PollingRoutes {
    let access: RelayAccess
    let gate: BuildGate

    /// Registers the routes.
    func add(to router: Router<BasicRequestContext>) {
        router.get("sdk/latest-all") { request, _ in
            guard request.query("filter") == nil else {
                throw APIError.notFound("payload filters are not supported by this relay")
            }
            let admitted = try access.serverSide(authorization: request.headers[.authorization], now: WallClock.nowMilliseconds())
            let snapshot = admitted.data.snapshot()
            var headers = RelayHeaders.fields(environmentID: admitted.environment.id, revision: snapshot.revision)
            // The ETag follows from the revision alone, so a match is answered without serializing.
            let etag = PreparedPayload.etag(revision: snapshot.revision)
            headers[.eTag] = etag
            headers[.cacheControl] = "no-cache"
            if request.ifNoneMatch(etag) {
                return Response(status: .notModified, headers: headers)
            }
            guard let payload = snapshot.preparedPayload(gate: gate) else {
                var error = access.overloaded()
                error.headers.append(contentsOf: headers)
                throw error
            }
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: payload.body))
        }
        // FDv2 (opt-in in recent SDKs): not served; the header tells the SDK to use FDv1 instead.
        for path in ["sdk/stream", "sdk/poll"] {
            router.get(RouterPath(path)) { _, _ -> Response in
                throw APIError(
                    .notFound, code: "not_found", message: "FDv2 is not served by this relay; use /all or /sdk/latest-all",
                    headers: [HTTPField.Name("X-LD-FD-Fallback")!: "true"])
            }
        }
    }
}
