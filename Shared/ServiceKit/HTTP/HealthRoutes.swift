import Hummingbird
import ModelsCore
import NIOCore

/// Something that can say whether a service is ready to serve (connected, caught up...).
public protocol ReadinessCheck: Sendable {
    /// nil when ready, else why not.
    func notReadyReason() async -> String?
}

/// A readiness check from a closure.
public struct ClosureReadinessCheck: ReadinessCheck {
    let check: @Sendable () async -> String?
    public init(_ check: @escaping @Sendable () async -> String?) { self.check = check }
    public func notReadyReason() async -> String? { await check() }
}

extension Router {
    /// Adds `GET /healthz` (the process is alive), `GET /readyz` (`readiness` says ready, else 503)
    /// and `GET /metrics` (Prometheus text format).
    public func addOperationalRoutes(readiness: some ReadinessCheck, metrics: ServiceMetrics) {
        get("healthz") { _, _ in
            JSONBody.response(["status": "ok"])
        }
        get("readyz") { _, _ in
            if let reason = await readiness.notReadyReason() {
                return JSONBody.response(["status": "unavailable", "reason": .string(reason)], status: .serviceUnavailable,
                                         headers: [.retryAfter: "1"])
            }
            return JSONBody.response(["status": "ready"])
        }
        get("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
    }
}
