import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// Applies ``HTTPConnectionRules`` to a connection: sits right after NIO's HTTP/1 decoder and
/// encoder, before anything that turns parts into requests, so every service (Hummingbird's
/// default channel and the relay's own) closes connections and answers malformed, oversized and
/// slow requests alike. Its ``ByteObserver`` sits before the decoder and starts the request
/// timeout at a request's first byte (the decoder reports nothing until the headers are complete).
public final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    /// The bounds of a connection's last moments.
    public struct Limits: Sendable {
        /// How long a request may take to arrive (first byte to last), plus one second for every
        /// ``minimumRate`` bytes received: a large body arriving at a steady pace is not cut off,
        /// a trickle is.
        public var requestTimeout: TimeAmount
        /// Bytes per second that earn a request more time (see ``requestTimeout``).
        public var minimumRate: Int
        /// After a closing response: how long the rest of the request is read and dropped (or
        /// until the client closes), so that a client still writing reaches the point where it
        /// reads the answer, instead of a reset.
        public var drainTime: TimeAmount
        /// After a closing response: how many bytes of the rest of the request are read at most.
        public var maxDrainBytes: Int

        public init(
            requestTimeout: TimeAmount = .seconds(30), minimumRate: Int = 1024, drainTime: TimeAmount = .seconds(5),
            maxDrainBytes: Int = 64 << 20
        ) {
            self.requestTimeout = requestTimeout
            self.minimumRate = max(1, minimumRate)
            self.drainTime = drainTime
            self.maxDrainBytes = maxDrainBytes
        }
    }

    /// Placed before the HTTP decoder: tells the guard when the bytes of a new request arrive.
    public final class ByteObserver: ChannelInboundHandler, RemovableChannelHandler {
        public typealias InboundIn = ByteBuffer
        public typealias InboundOut = ByteBuffer
        private let owner: HTTPConnectionGuard

        init(owner: HTTPConnectionGuard) {
            self.owner = owner
        }

        public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            owner.bytesReceived(count: unwrapInboundIn(data).readableBytes)
            context.fireChannelRead(data)
        }
    }

    private var rules = HTTPConnectionRules()
    private let limits: Limits
    private let logger: Logger
    /// The guard's own context, for the observer's calls and the timers.
    private var context: ChannelHandlerContext?
    private var requestTimer: Scheduled<Void>?
    /// When the request being received times out; pushed back as its bytes arrive.
    private var requestDeadline = NIODeadline.distantFuture
    private var drainTimer: Scheduled<Void>?
    /// Bytes read since the connection started closing.
    private var drained = 0
    private var draining = false
    /// The output is closed once the rest of the request has been read (not before: a client still
    /// sending that sees the end of the connection may give up before it reads the answer).
    private var closeOutputAtRequestEnd = false
    /// Set while the rest of a request answered early (a 413, a 401 before the body) arrives on a
    /// connection that stays open: the application drops it; past the drain time it closes.
    private var earlyAnswerDrain: Scheduled<Void>?
    private var earlyAnswerDrained = 0

    public init(limits: Limits = Limits(), logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// The handler to put before the HTTP decoder.
    public var byteObserver: ByteObserver { ByteObserver(owner: self) }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            switch rules.requestHead(version: head.version, isKeepAlive: head.isKeepAlive) {
            case .forward(let markClose):
                if markClose { head.headers.replaceOrAdd(name: "connection", value: "close") }
                if Self.expectsContinue(head) {
                    // A client that waits for it (curl, for bodies over 1 MB) would otherwise wait a
                    // second before sending; an early final answer (a 413) may still follow.
                    head.headers.remove(name: "expect")
                    let interim = HTTPResponseHead(version: head.version, status: .continue)
                    context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                }
                context.fireChannelRead(wrapInboundOut(.head(head)))
            case .drop:
                keepDraining(context: context)
            }
        case .body(let chunk):
            if rules.forwardsRequestParts {
                if earlyAnswerDrain != nil {
                    earlyAnswerDrained += chunk.readableBytes
                    if earlyAnswerDrained > limits.maxDrainBytes {
                        logger.debug("closing: the rest of an answered request exceeds the drain limit")
                        context.close(promise: nil)
                        return
                    }
                }
                context.fireChannelRead(data)
            } else {
                keepDraining(context: context)
            }
        case .end:
            let forward = rules.requestEnd()
            earlyAnswerDrain?.cancel()
            earlyAnswerDrain = nil
            if forward {
                cancelRequestTimer()
                context.fireChannelRead(data)
            } else {
                if closeOutputAtRequestEnd {
                    // The client has sent everything: it can be told that the connection ends.
                    closeOutputAtRequestEnd = false
                    context.close(mode: .output, promise: nil)
                }
                keepDraining(context: context)
            }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if draining, let decoderError = error as? ByteToMessageDecoderError, case .dataReceivedInErrorState = decoderError {
            // The rest of a malformed request, read only so that the client can finish writing.
            keepDraining(context: context)
            return
        }
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch rules.parseError() {
        case .answerBadRequestThenClose(let version):
            logger.debug("malformed HTTP request", metadata: ["error": "\(parseError)"])
            cancelRequestTimer()
            writeError(APIError.badRequest("malformed HTTP request (\(Self.describe(parseError)))"), version: version, context: context)
            context.fireErrorCaught(error)
        case .failAndClose:
            logger.debug("malformed HTTP request after its response", metadata: ["error": "\(parseError)"])
            context.fireErrorCaught(error)
            context.close(promise: nil)
        case .ignore:
            return
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            switch rules.responseHead() {
            case .forward(let close, let version):
                if close {
                    head.headers.replaceOrAdd(name: "connection", value: "close")
                    head.version = version
                } else if rules.isReadingRequest, earlyAnswerDrain == nil {
                    // Answered before the body was read. The connection stays open (clients that
                    // send and read at once, like AsyncHTTPClient, fail on one that closes under
                    // their upload), but the rest of the body is bounded in time and bytes.
                    earlyAnswerDrained = 0
                    earlyAnswerDrain = context.eventLoop.assumeIsolated().scheduleTask(in: limits.drainTime) {
                        context.close(promise: nil)
                    }
                }
                context.write(wrapOutboundOut(.head(head)), promise: promise)
            case .drop:
                promise?.succeed()
            }
        case .body:
            if rules.forwardsResponseParts { context.write(data, promise: promise) } else { promise?.succeed() }
        case .end:
            switch rules.responseEnd() {
            case .forward:
                context.write(data, promise: promise)
            case .forwardThenClose:
                context.write(data, promise: promise)
                context.flush()
                closeAfterDraining(context: context, closeOutputNow: !rules.isReadingRequest)
            case .drop:
                promise?.succeed()
            }
        }
    }

    // MARK: Request timeout

    private func bytesReceived(count: Int) {
        guard let context else { return }
        if draining {
            drained += count
            if drained > limits.maxDrainBytes { context.close(promise: nil) }
            return
        }
        let earned = TimeAmount.nanoseconds(Int64(count) * 1_000_000_000 / Int64(limits.minimumRate))
        guard rules.bytesReceived() else {
            if rules.receivingRequest { requestDeadline = requestDeadline + earned }
            return
        }
        requestDeadline = context.eventLoop.now + limits.requestTimeout + earned
        scheduleRequestTimer(context: context)
    }

    private func scheduleRequestTimer(context: ChannelHandlerContext) {
        requestTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: requestDeadline) { [weak self] in
            self?.requestTimedOut()
        }
    }

    private func requestTimedOut() {
        requestTimer = nil
        guard let context else { return }
        if rules.receivingRequest, context.eventLoop.now < requestDeadline {
            // Bytes arrived meanwhile and earned more time.
            scheduleRequestTimer(context: context)
            return
        }
        switch rules.requestTimeout() {
        case .answerTimeoutThenClose(let version):
            logger.debug("request timeout", metadata: ["timeout": "\(limits.requestTimeout)"])
            let seconds = Double(limits.requestTimeout.nanoseconds) / 1e9
            writeError(
                APIError(.requestTimeout, code: "request_timeout", message: "the request did not arrive within \(seconds) s"),
                version: version, context: context)
        case .close:
            context.close(promise: nil)
        case .ignore:
            return
        }
    }

    // MARK: Actions

    private func writeError(_ error: APIError, version: HTTPVersion, context: ChannelHandlerContext) {
        for part in error.http1ResponseParts(version: version, close: true) { context.write(wrapOutboundOut(part), promise: nil) }
        context.flush()
        // The request is broken or abandoned: nothing the client sends now is read as a request.
        closeAfterDraining(context: context, closeOutputNow: true)
    }

    /// Reads and drops what the client still sends, within ``Limits/drainTime`` and
    /// ``Limits/maxDrainBytes``, and closes the connection when the client closes or a bound is
    /// reached. The output is closed now (the client sees the end of the response) or, when the
    /// rest of a valid request is still coming, once it has arrived.
    private func closeAfterDraining(context: ChannelHandlerContext, closeOutputNow: Bool) {
        guard !draining else { return }
        draining = true
        cancelRequestTimer()
        if closeOutputNow {
            context.close(mode: .output, promise: nil)
        } else {
            closeOutputAtRequestEnd = true
        }
        drainTimer = context.eventLoop.assumeIsolated().scheduleTask(in: limits.drainTime) {
            context.close(promise: nil)
        }
        // Nothing downstream asks for data any more; the guard does, until the end.
        context.read()
    }

    /// Drops a part of the rest of a request and asks for more.
    private func keepDraining(context: ChannelHandlerContext) {
        if draining { context.read() }
    }

    private func cancelRequestTimer() {
        requestTimer?.cancel()
        requestTimer = nil
    }

    private func cancelTimers() {
        cancelRequestTimer()
        earlyAnswerDrain?.cancel()
        earlyAnswerDrain = nil
        drainTimer?.cancel()
        drainTimer = nil
    }

    /// Whether an HTTP/1.1 request asks for `100 Continue` before sending its body.
    static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.version == .http1_1 && head.headers["expect"].contains { $0.lowercased() == "100-continue" }
    }

    /// A short, stable description of a parse error for the client.
    static func describe(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidChunkSize: "invalid chunk size"
        case .invalidContentLength: "invalid Content-Length"
        case .unexpectedContentLength: "unexpected Content-Length"
        case .headerOverflow: "headers too large"
        case .invalidHeaderToken: "invalid header"
        case .invalidVersion: "invalid HTTP version"
        case .invalidMethod: "invalid method"
        case .invalidURL: "invalid request target"
        case .invalidEOFState: "the connection ended inside the request"
        default: "\(error)"
        }
    }
}
