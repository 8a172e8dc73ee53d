import HTTPTypes
import ServiceKit

/// A batch that is not accepted: the JSON error answered, and the reason counted in metrics.
///
/// Status codes follow what LaunchDarkly SDKs do with them (protocol reference §4.3): 400, 408, 429
/// and 5xx make an SDK retry once and keep sending later batches; any other 4xx disables its event
/// delivery for the life of the client. So 401/404 are answered only for credentials that are
/// really unknown, and 413 only for bodies over the documented limit.
struct Rejection: Error, Sendable {
    var reason: IngestMetrics.RejectionReason
    var error: APIError

    static func notReady(_ reason: String) -> Rejection {
        Rejection(reason: .notReady, error: .serviceUnavailable("not ready: \(reason)", retryAfterSeconds: 1))
    }

    static func unauthorized(_ message: String) -> Rejection {
        Rejection(reason: .unauthorized, error: APIError(.unauthorized, code: "unauthorized", message: message))
    }

    /// The id is not echoed: a client that put a credential (an SDK key) in the path by mistake
    /// must not see it in the answer, nor in whatever logs the answer.
    static var unknownEnvironment: Rejection {
        Rejection(reason: .unknownEnvironment, error: .notFound("unknown client-side id"))
    }

    static func badRequest(_ message: String, code: String = "bad_request") -> Rejection {
        Rejection(reason: .badRequest, error: APIError(.badRequest, code: code, message: message))
    }

    static func tooLarge(limit: Int) -> Rejection {
        Rejection(reason: .tooLarge, error: .payloadTooLarge(limit: limit))
    }

    static func rateLimited(retryAfterSeconds: Int) -> Rejection {
        Rejection(
            reason: .rateLimited,
            error: APIError(.tooManyRequests, code: "rate_limited", message: "the environment's event rate limit is exceeded",
                            headers: [.retryAfter: "\(retryAfterSeconds)"]))
    }

    static func overloaded() -> Rejection {
        Rejection(reason: .overloaded, error: .serviceUnavailable(
            "too many event batches are waiting for Kafka; nothing was accepted, retry later", retryAfterSeconds: 1))
    }

    static func kafkaUnavailable(_ message: String) -> Rejection {
        Rejection(reason: .kafkaUnavailable,
            error: .serviceUnavailable("\(message); nothing was accepted, retry later", retryAfterSeconds: 5))
    }
}
