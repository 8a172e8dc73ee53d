import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Posts event payloads to events-ingest's `/bulk` as LaunchDarkly's SDKs do: schema 4, a new
/// `X-LaunchDarkly-Payload-ID` per payload, and one retry after 1 s with the same body and id on a
/// network error, 400, 408, 429 or 5xx. Any other 4xx disables event sending for the life of the
/// client (the key is wrong; retrying would only repeat the refusal).
struct EventSender: Sendable {
    enum Outcome: Sendable, Equatable {
        case delivered
        case dropped
        case disabled(Int)
    }

    let url: String
    let sdkKey: String
    let userAgent: String
    let http: HTTPClient
    let timeout: Duration
    let retryDelay: Duration
    let logger: Logger

    init(
        eventsURL: URL, sdkKey: String, userAgent: String, http: HTTPClient, timeout: Duration, retryDelay: Duration = .seconds(1),
        logger: Logger
    ) {
        var base = eventsURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        url = base + "/bulk"
        self.sdkKey = sdkKey
        self.userAgent = userAgent
        self.http = http
        self.timeout = timeout
        self.retryDelay = retryDelay
        self.logger = logger
    }

    /// Whether a status is worth one retry (LaunchDarkly's "recoverable" statuses).
    static func isRecoverable(_ status: Int) -> Bool {
        status == 400 || status == 408 || status == 429 || status >= 500
    }

    func send(_ body: [UInt8], payloadID: String = UUID().uuidString.lowercased()) async -> Outcome {
        for attempt in 0..<2 {
            if attempt > 0 {
                do { try await Task.sleep(for: retryDelay) } catch { return .dropped }
            }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Authorization", value: sdkKey)
            request.headers.add(name: "User-Agent", value: userAgent)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-LaunchDarkly-Event-Schema", value: "4")
            request.headers.add(name: "X-LaunchDarkly-Payload-ID", value: payloadID)
            request.body = .bytes(ByteBuffer(bytes: body))
            do {
                let response = try await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
                _ = try? await response.body.collect(upTo: 1 << 20)
                let status = Int(response.status.code)
                if status < 300 { return .delivered }
                if !Self.isRecoverable(status) {
                    logger.error("events endpoint \(url) answered \(status): event sending is disabled for this client")
                    return .disabled(status)
                }
                logger.warning("events endpoint \(url) answered \(status) (attempt \(attempt + 1) of 2)")
            } catch {
                logger.warning("sending events to \(url) failed (attempt \(attempt + 1) of 2): \(error)")
            }
        }
        return .dropped
    }
}
