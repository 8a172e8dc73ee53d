import AsyncHTTPClient
import Foundation
import Logging
import ModelsCore
import NIOCore
import NIOHTTP1

/// What a data source reports to the client besides data (which goes to the store).
enum DataSourceOutcome: Sendable {
    /// The credential was refused: the client stops for good.
    case unauthorized(String)
    /// A data file could not be used.
    case invalidData(String)
}

/// The relay's server-side endpoints: `/all` (streaming) and `/sdk/latest-all` (polling).
struct RelayEndpoints: Sendable {
    let baseURL: String
    let sdkKey: String
    let userAgent: String

    init(baseURL: URL, sdkKey: String, userAgent: String) {
        var base = baseURL.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.sdkKey = sdkKey
        self.userAgent = userAgent
    }

    func request(_ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.headers.add(name: "Authorization", value: sdkKey)
        request.headers.add(name: "User-Agent", value: userAgent)
        return request
    }

    /// LaunchDarkly's rule: 401 and 403 are permanent (the key is wrong); every other answer is retried.
    static func isUnauthorized(_ status: HTTPResponseStatus) -> Bool {
        status == .unauthorized || status == .forbidden
    }
}

/// Streams `/all`: `put`, `patch` and `delete` into the store; reconnects with backoff after any
/// failure except a refused key.
struct StreamingDataSource: Sendable {
    let endpoints: RelayEndpoints
    let http: HTTPClient
    let store: FlagStore
    let configuration: VaneConfiguration
    let logger: Logger

    func run(report: @Sendable (DataSourceOutcome) -> Void) async {
        var backoff = Backoff(
            initial: configuration.initialReconnectDelay, maximum: configuration.maxReconnectDelay,
            resetInterval: configuration.backoffResetInterval)
        var lastEventID: String?
        while !Task.isCancelled {
            var request = endpoints.request("/all")
            request.headers.add(name: "Accept", value: "text/event-stream")
            request.headers.add(name: "Cache-Control", value: "no-cache")
            if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
            do {
                let response = try await http.execute(request, timeout: .nanoseconds(configuration.connectTimeout.nanoseconds))
                if RelayEndpoints.isUnauthorized(response.status) {
                    let message = "the relay refused the SDK key (\(response.status.code) on \(endpoints.baseURL)/all): the client stopped"
                    logger.error("\(message)")
                    report(.unauthorized(message))
                    return
                }
                guard response.status == .ok else {
                    throw StreamFailure(description: "HTTP \(response.status.code)")
                }
                let contentType = response.headers.first(name: "content-type") ?? ""
                guard contentType.lowercased().hasPrefix("text/event-stream") else {
                    throw StreamFailure(description: "unexpected content type \(contentType)")
                }
                backoff.connected(at: .now)
                var parser = SSEParser()
                for try await chunk in response.body {
                    for event in try parser.feed(chunk.readableBytesView) {
                        if let message = try StreamMessage.decode(event) { message.apply(to: store) }
                    }
                    lastEventID = parser.lastEventID
                }
                throw StreamFailure(description: "the relay closed the stream")
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let delay = backoff.nextDelay()
                logger.warning("stream from \(endpoints.baseURL)/all failed (\(error)); reconnecting in \(delay.seconds) s")
                do { try await Task.sleep(for: delay) } catch { return }
            }
        }
    }
}

struct StreamFailure: Error, CustomStringConvertible {
    var description: String
}

/// Polls `/sdk/latest-all` with `If-None-Match`; a 304 keeps the data held.
struct PollingDataSource: Sendable {
    let endpoints: RelayEndpoints
    let http: HTTPClient
    let store: FlagStore
    let interval: Duration
    let configuration: VaneConfiguration
    let logger: Logger

    func run(report: @Sendable (DataSourceOutcome) -> Void) async {
        var etag: String?
        while !Task.isCancelled {
            do {
                var request = endpoints.request("/sdk/latest-all")
                request.headers.add(name: "Accept", value: "application/json")
                if let etag { request.headers.add(name: "If-None-Match", value: etag) }
                let response = try await http.execute(request, timeout: .nanoseconds(configuration.requestTimeout.nanoseconds))
                if RelayEndpoints.isUnauthorized(response.status) {
                    let message =
                        "the relay refused the SDK key (\(response.status.code) on \(endpoints.baseURL)/sdk/latest-all): the client stopped"
                    logger.error("\(message)")
                    report(.unauthorized(message))
                    return
                }
                switch response.status {
                case .ok:
                    let body = try await response.body.collect(upTo: 256 << 20)
                    let payload = try PollingPayload(json: try JSONParser.parse(body.readableBytesView))
                    store.replaceAll(payload)
                    etag = response.headers.first(name: "etag")
                case .notModified:
                    break
                default:
                    logger.warning("polling \(endpoints.baseURL)/sdk/latest-all answered \(response.status.code)")
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("polling \(endpoints.baseURL)/sdk/latest-all failed: \(error)")
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}

/// Reads a data file once.
enum FileDataSource {
    static func load(_ url: URL, into store: FlagStore) throws(VaneError) {
        do {
            let bytes = try Data(contentsOf: url)
            store.replaceAll(try PollingPayload(json: try JSONParser.parse([UInt8](bytes))))
        } catch {
            throw VaneError(.invalidDataFile, "\(url.path): \(error)")
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
}
