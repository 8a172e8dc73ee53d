import NIOHTTP1

/// The connection rules every Vane HTTP server follows, as a state machine without I/O: it is told
/// what passes through a connection and answers what to do (``HTTPConnectionGuard`` only performs
/// the actions). Tests replay request/response sequences against it directly.
///
/// The rules:
/// * a request that does not keep the connection alive (HTTP/1.0, or `Connection: close` in any
///   spelling) is marked `Connection: close` for the application, and its response carries
///   `Connection: close` too; after that response the connection is closed (output first, the
///   rest after a short linger, so that the client reads the response instead of a reset);
/// * a malformed request (a bad chunk size, a bad header…) that has no response yet gets a JSON 400
///   here, then the connection closes; everything the application writes afterwards is dropped.
///   The parse error is still passed on, so that an application reading the body fails instead of
///   acting on a truncated one;
/// * a malformed request whose response is already written or being written just closes;
/// * a response written before its request was read to the end (a 413, or a 401 or 404 sent
///   without reading the body) leaves the rest of the body to be read and dropped, within bounds
///   (``HTTPConnectionGuard/Limits``), so that a client that writes its whole request before reading
///   (Python's urllib, many SDKs) finishes writing and reads the answer instead of a reset; past
///   the bounds the connection closes;
/// * a request that is not complete within the request timeout (a client trickling its headers or
///   body) gets a JSON 408 and the connection closes.
public struct HTTPConnectionRules: Sendable {
    /// What the handler does with an inbound request head.
    public enum RequestHeadAction: Equatable, Sendable {
        /// Pass it on; when `markClose`, with its `Connection` header set to `close`.
        case forward(markClose: Bool)
        /// Drop it (the connection is failing or closing).
        case drop
    }

    /// What the handler does with an outbound response head.
    public enum ResponseHeadAction: Equatable, Sendable {
        /// Pass it on; when `close`, with `Connection: close` and the request's HTTP version.
        case forward(close: Bool, version: HTTPVersion)
        case drop
    }

    /// What the handler does with the end of a response.
    public enum ResponseEndAction: Equatable, Sendable {
        case forward
        /// Pass it on, then close the output and, after the linger time, the connection.
        case forwardThenClose
        case drop
    }

    /// What the handler does when the request timeout expires.
    public enum RequestTimeoutAction: Equatable, Sendable {
        /// Write a JSON 408 (`Connection: close`), pass an error on, then close.
        case answerTimeoutThenClose(version: HTTPVersion)
        /// Close at once (a response is being written; nothing can be answered).
        case close
        /// Nothing: no request is being received.
        case ignore
    }

    /// What the handler does about a parse error.
    public enum ParseErrorAction: Equatable, Sendable {
        /// Write a JSON 400 (`Connection: close`, HTTP `version`), pass the error on, then close.
        case answerBadRequestThenClose(version: HTTPVersion)
        /// Pass the error on and close at once.
        case failAndClose
        /// Nothing: the connection is already failing or closing.
        case ignore
    }

    private struct PendingRequest {
        var close: Bool
        var version: HTTPVersion
    }

    private enum Phase {
        case open
        /// A response with `Connection: close` ended: nothing more is read or written.
        case closing
        /// A parse error was answered (or could not be): the application's writes are dropped.
        case failed
    }

    private var phase = Phase.open
    /// Requests whose response head has not been written yet, oldest first.
    private var awaitingResponse: [PendingRequest] = []
    /// The request whose response is being written (head written, end not yet).
    private var responding: PendingRequest?
    /// Whether a request's head was read and its end not yet.
    private var readingRequest = false
    /// Whether the current request's head was read and its end not yet (a response written now
    /// is an early one: the rest of the body is still to come).
    public var isReadingRequest: Bool { readingRequest && awaitingResponse.isEmpty }

    /// Whether bytes of a request have arrived whose end has not (the request timeout runs).
    public private(set) var receivingRequest = false

    public init() {}

    /// Whether a request with this head ends the connection after its response.
    public static func closesConnection(version: HTTPVersion, isKeepAlive: Bool) -> Bool {
        version.major < 1 || (version.major == 1 && version.minor == 0) || !isKeepAlive
    }

    /// Bytes arrived (before the decoder): returns true when they start a request, so the request
    /// timeout must be armed.
    public mutating func bytesReceived() -> Bool {
        guard case .open = phase, !receivingRequest else { return false }
        receivingRequest = true
        return true
    }

    public mutating func requestHead(version: HTTPVersion, isKeepAlive: Bool) -> RequestHeadAction {
        guard case .open = phase else { return .drop }
        receivingRequest = true
        let close = Self.closesConnection(version: version, isKeepAlive: isKeepAlive)
        awaitingResponse.append(PendingRequest(close: close, version: version))
        readingRequest = true
        return .forward(markClose: close)
    }

    /// The end of a request: returns whether to pass it on.
    public mutating func requestEnd() -> Bool {
        readingRequest = false
        receivingRequest = false
        if case .open = phase { return true }
        return false
    }

    /// Whether inbound body parts are passed on.
    public var forwardsRequestParts: Bool {
        if case .open = phase { return true }
        return false
    }

    public mutating func responseHead() -> ResponseHeadAction {
        guard case .open = phase else { return .drop }
        // A response without a request (an application answering a connection on its own) keeps
        // the connection's defaults.
        let request = awaitingResponse.isEmpty ? PendingRequest(close: false, version: .http1_1) : awaitingResponse.removeFirst()
        responding = request
        return .forward(close: request.close, version: request.close ? request.version : .http1_1)
    }

    /// Whether outbound body parts are passed on.
    public var forwardsResponseParts: Bool {
        if case .failed = phase { return false }
        return true
    }

    public mutating func responseEnd() -> ResponseEndAction {
        guard case .open = phase else {
            if case .closing = phase { return .forward }
            return .drop
        }
        let request = responding
        responding = nil
        if request?.close == true {
            phase = .closing
            return .forwardThenClose
        }
        return .forward
    }

    public mutating func requestTimeout() -> RequestTimeoutAction {
        guard case .open = phase, receivingRequest else { return .ignore }
        receivingRequest = false
        phase = .failed
        if responding != nil { return .close }
        return .answerTimeoutThenClose(version: awaitingResponse.first?.version ?? .http1_1)
    }

    public mutating func parseError() -> ParseErrorAction {
        guard case .open = phase else { return .ignore }
        if responding != nil {
            phase = .failed
            return .failAndClose
        }
        if let pending = awaitingResponse.first {
            // The request being read has no answer yet: it gets the 400.
            phase = .failed
            return .answerBadRequestThenClose(version: pending.version)
        }
        if readingRequest {
            // Its response is complete; the rest of its body is broken: nothing left to answer.
            phase = .failed
            return .failAndClose
        }
        // A new request whose head could not be parsed.
        phase = .failed
        return .answerBadRequestThenClose(version: .http1_1)
    }
}
