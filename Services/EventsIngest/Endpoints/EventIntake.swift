import ConfigFeed
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ModelsCore
import NIOCore
import ServiceKit

/// Which event endpoint a request came to: who sends there, how it authenticates, and what its body
/// must be.
struct EventEndpoint: Sendable {
    enum Authentication: Sendable {
        /// `Authorization: <SDK key>` (server-side SDKs).
        case sdkKey
        /// `Authorization: <mobile key>` (mobile SDKs; `api_key ` prefix allowed).
        case mobileKey
        /// The client-side id in the path (browser SDKs; no secret).
        case clientSideID
    }

    var source: EventsRecord.Source
    var authentication: Authentication
    var shape: EventBatchValidator.Shape

    static let serverBulk = EventEndpoint(source: .server, authentication: .sdkKey, shape: .batch)
    static let serverDiagnostic = EventEndpoint(source: .server, authentication: .sdkKey, shape: .objectOrBatch)
    static let mobileBulk = EventEndpoint(source: .mobile, authentication: .mobileKey, shape: .batch)
    static let mobileDiagnostic = EventEndpoint(source: .mobile, authentication: .mobileKey, shape: .objectOrBatch)
    static let browserBulk = EventEndpoint(source: .client, authentication: .clientSideID, shape: .batch)
    static let browserDiagnostic = EventEndpoint(source: .client, authentication: .clientSideID, shape: .objectOrBatch)
}

/// The path of one event batch from request to record: authenticate, admit (rate limit, in-flight
/// budget), read and inflate the body within the limit, validate it, and publish it, answering 202
/// only after Kafka acknowledged the record.
final class EventIntake: Sendable {
    /// Longest accepted `X-LaunchDarkly-Payload-ID`; SDKs send a 36-character UUID.
    static let maximumPayloadIDLength = 256
    /// `User-Agent` is kept up to this many bytes.
    static let maximumUserAgentLength = 512

    private let directory: EnvironmentDirectory
    private let notReadyReason: @Sendable () -> String?
    private let publisher: EventPublisher
    private let budget: InFlightBudget
    private let rateLimiter: EnvironmentRateLimiter?
    private let maximumBodyBytes: Int
    private let metrics: IngestMetrics
    private let logger: Logger

    init(
        directory: EnvironmentDirectory, notReadyReason: @escaping @Sendable () -> String?, publisher: EventPublisher,
        budget: InFlightBudget, rateLimiter: EnvironmentRateLimiter?, maximumBodyBytes: Int, metrics: IngestMetrics,
        logger: Logger
    ) {
        self.directory = directory
        self.notReadyReason = notReadyReason
        self.publisher = publisher
        self.budget = budget
        self.rateLimiter = rateLimiter
        self.maximumBodyBytes = maximumBodyBytes
        self.metrics = metrics
        self.logger = logger
    }

    /// Handles one request; every outcome is a response (202, or a JSON error).
    func handle(_ request: Request, endpoint: EventEndpoint, clientSideID: String?) async -> Response {
        do {
            try await accept(request, endpoint: endpoint, clientSideID: clientSideID)
            return Response(status: .accepted)
        } catch {
            metrics.rejected(error.reason)
            if error.error.status.code >= 500 {
                logger.debug("event batch refused", metadata: ["status": "\(error.error.status.code)", "reason": "\(error.error.message)"])
            }
            return JSONBody.response(error.error.jsonBytes, status: error.error.status, headers: error.error.headers)
        }
    }

    private func accept(_ request: Request, endpoint: EventEndpoint, clientSideID: String?) async throws(Rejection) {
        if let reason = notReadyReason() { throw .notReady(reason) }
        let now = Self.unixMilliseconds()
        let environment = try authenticate(request, endpoint: endpoint, clientSideID: clientSideID, now: now)
        if let rateLimiter, let retryAfter = rateLimiter.acquire(environmentID: environment.id) {
            throw .rateLimited(retryAfterSeconds: retryAfter)
        }

        let suppliedPayloadID = request.headers[.launchDarklyPayloadID]
        if let suppliedPayloadID, suppliedPayloadID.utf8.count > Self.maximumPayloadIDLength {
            throw .badRequest("X-LaunchDarkly-Payload-ID must be at most \(Self.maximumPayloadIDLength) characters")
        }
        let isGzip = try Self.isGzip(request.headers[.contentEncoding])
        let declaredLength = request.headers[.contentLength].flatMap { Int($0) }
        if let declaredLength, declaredLength > maximumBodyBytes { throw .tooLarge(limit: maximumBodyBytes) }

        // Reserve before reading, so that memory for bodies is bounded however many arrive at once.
        var reserved = declaredLength ?? maximumBodyBytes
        guard budget.reserve(bytes: reserved) else { throw .overloaded() }
        updateInFlightGauges()
        defer {
            budget.release(bytes: reserved)
            updateInFlightGauges()
        }

        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maximumBodyBytes)
        } catch is NIOTooManyBytesError {
            throw .tooLarge(limit: maximumBodyBytes)
        } catch {
            throw .badRequest("the request body could not be read")
        }
        // A generated id cannot repeat, so only an SDK's own id takes part in deduplication.
        let sdkPayloadID = suppliedPayloadID.flatMap { $0.isEmpty ? nil : $0 }
        let payloadID = sdkPayloadID ?? UUID().uuidString.lowercased()
        let userAgent = Self.userAgent(request.headers)
        let prepared = try body.withUnsafeReadableBytes { raw in
            prepare(raw, isGzip: isGzip, shape: endpoint.shape, environmentID: environment.id, payloadID: payloadID,
                    receivedAt: now, source: endpoint.source, userAgent: userAgent)
        }.get()
        guard budget.resize(from: reserved, to: prepared.value.count) else { throw .overloaded() }
        reserved = prepared.value.count

        let payloadKey = sdkPayloadID.map { environment.id + "\u{0}" + $0 }
        do {
            if try await publisher.publish(prepared.value, environmentID: environment.id, payloadKey: payloadKey, now: now) == .written {
                metrics.accepted(source: endpoint.source, events: prepared.eventCount, bytes: prepared.eventBytes)
            }
        } catch {
            switch error {
            case .kafkaUnavailable(let message): throw .kafkaUnavailable(message)
            case .shuttingDown: throw .kafkaUnavailable("the service is shutting down")
            }
        }
    }

    private func authenticate(
        _ request: Request, endpoint: EventEndpoint, clientSideID: String?, now: Int
    ) throws(Rejection) -> EnvironmentRecord {
        switch endpoint.authentication {
        case .sdkKey, .mobileKey:
            let kind = endpoint.authentication == .sdkKey ? "SDK key" : "mobile key"
            guard let key = Credentials.fromAuthorization(request.headers[.authorization]) else {
                throw .unauthorized("the Authorization header must hold the environment's \(kind)")
            }
            let credential: EnvironmentDirectory.Credential = endpoint.authentication == .sdkKey ? .sdkKey(key) : .mobileKey(key)
            guard let environment = directory.authenticate(credential, now: now) else {
                throw .unauthorized("unknown or expired \(kind)")
            }
            return environment
        case .clientSideID:
            guard let clientSideID, let environment = directory.authenticate(.clientSideID(clientSideID), now: now) else {
                throw .unknownEnvironment
            }
            return environment
        }
    }

    /// A validated batch as a record value.
    struct Prepared {
        var value: [UInt8]
        var eventCount: Int
        var eventBytes: Int
    }

    private func prepare(
        _ raw: UnsafeRawBufferPointer, isGzip: Bool, shape: EventBatchValidator.Shape, environmentID: String,
        payloadID: String, receivedAt: Int, source: EventsRecord.Source, userAgent: String
    ) -> Result<Prepared, Rejection> {
        func encode(_ body: UnsafeRawBufferPointer) -> Result<Prepared, Rejection> {
            let batch: EventBatchValidator.Batch
            do {
                batch = try EventBatchValidator.validate(body, shape: shape)
            } catch {
                return .failure(.badRequest("the body is not a JSON array of event objects: \(error)", code: "invalid_events"))
            }
            let events = UnsafeRawBufferPointer(rebasing: body[batch.range])
            func record(_ rawEvents: some Collection<UInt8>) -> Prepared {
                Prepared(
                    value: EventsRecord.encode(
                        environmentID: environmentID, payloadID: payloadID, receivedAt: receivedAt, source: source,
                        userAgent: userAgent, rawEvents: rawEvents),
                    eventCount: batch.eventCount, eventBytes: rawEvents.count)
            }
            guard batch.isSingleObject else { return .success(record(events)) }
            // A diagnostic event arrives as one object; the record always holds an array.
            var wrapped: [UInt8] = [UInt8(ascii: "[")]
            wrapped.reserveCapacity(events.count + 2)
            wrapped.append(contentsOf: events)
            wrapped.append(UInt8(ascii: "]"))
            return .success(record(wrapped))
        }
        guard isGzip else { return encode(raw) }
        do {
            let inflated = try GzipInflater.inflate(raw, limit: maximumBodyBytes)
            return inflated.withUnsafeBytes { encode($0) }
        } catch {
            switch error {
            case .tooLarge: return .failure(.tooLarge(limit: maximumBodyBytes))
            case .corrupt(let reason): return .failure(.badRequest("the gzip body could not be decompressed: \(reason)",
                code: "invalid_encoding"))
            }
        }
    }

    private func updateInFlightGauges() {
        let usage = budget.current
        metrics.inFlightBatches.set(Double(usage.batches))
        metrics.inFlightBytes.set(Double(usage.bytes))
    }

    /// Whether the body is gzip; 400 for encodings other than gzip and identity (not 415, which
    /// would disable an SDK's events).
    static func isGzip(_ contentEncoding: String?) throws(Rejection) -> Bool {
        guard let contentEncoding else { return false }
        switch contentEncoding.lowercased().filter({ $0 != " " }) {
        case "", "identity": return false
        case "gzip", "x-gzip": return true
        default: throw .badRequest("unsupported Content-Encoding \"\(contentEncoding.prefix(64))\"; use gzip or none",
            code: "unsupported_encoding")
        }
    }

    /// The SDK's user agent: browsers cannot set `User-Agent`, so LaunchDarkly's JS SDK sends
    /// `X-LaunchDarkly-User-Agent`, which wins when present.
    static func userAgent(_ headers: HTTPFields) -> String {
        let value = headers[.launchDarklyUserAgent] ?? headers[.userAgent] ?? ""
        guard value.utf8.count > maximumUserAgentLength else { return value }
        return String(decoding: value.utf8.prefix(maximumUserAgentLength), as: UTF8.self)
    }

    static func unixMilliseconds() -> Int {
        Int((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

extension HTTPField.Name {
    static let launchDarklyPayloadID = HTTPField.Name("X-LaunchDarkly-Payload-ID")!
    static let launchDarklyUserAgent = HTTPField.Name("X-LaunchDarkly-User-Agent")!
}
