import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1

/// Applies ``HTTPConnectionRules`` to a connection: sits right after NIO's HTTP/1 decoder and
/// encoder, before anything that turns parts into requests, so every service (Hummingbird's
/// default channel and the relay's own) closes connections and answers malformed requests alike.
public final class HTTPConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    /// How long a connection stays open after its output was closed, so that the client reads
    /// the last response before the connection goes (closing at once can reset the connection
    /// while the client still sends, and the client would lose the response).
    public static let defaultLinger = TimeAmount.seconds(2)

    private var rules = HTTPConnectionRules()
    private let linger: TimeAmount
    private let logger: Logger
    private var lingerTimer: Scheduled<Void>?

    public init(linger: TimeAmount = HTTPConnectionGuard.defaultLinger, logger: Logger) {
        self.linger = linger
        self.logger = logger
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            switch rules.requestHead(version: head.version, isKeepAlive: head.isKeepAlive) {
            case .forward(let markClose):
                if markClose { head.headers.replaceOrAdd(name: "connection", value: "close") }
                context.fireChannelRead(wrapInboundOut(.head(head)))
            case .drop:
                return
            }
        case .body:
            if rules.forwardsRequestParts { context.fireChannelRead(data) }
        case .end:
            if rules.requestEnd() { context.fireChannelRead(data) }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        switch rules.parseError() {
        case .answerBadRequestThenClose(let version):
            logger.debug("malformed HTTP request", metadata: ["error": "\(parseError)"])
            writeBadRequest(parseError, version: version, context: context)
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
        lingerTimer?.cancel()
        lingerTimer = nil
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        lingerTimer?.cancel()
        lingerTimer = nil
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
                closeAfterLinger(context: context)
            case .drop:
                promise?.succeed()
            }
        }
    }

    // MARK: Actions

    private func writeBadRequest(_ error: HTTPParserError, version: HTTPVersion, context: ChannelHandlerContext) {
        let body = APIError.badRequest("malformed HTTP request (\(Self.describe(error)))").jsonBytes
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        closeAfterLinger(context: context)
    }

    /// Closes the output now (the client sees the end of the response) and the connection after
    /// the linger time, or as soon as the client closes its side.
    private func closeAfterLinger(context: ChannelHandlerContext) {
        guard lingerTimer == nil else { return }
        context.close(mode: .output, promise: nil)
        lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: linger) {
            context.close(promise: nil)
        }
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
