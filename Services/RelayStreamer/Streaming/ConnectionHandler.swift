import HTTPTypes
import HummingbirdCore
import Logging
import ModelsCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import ServiceKit

/// What a connection became, decided by its first request.
enum ConnectionMode: Sendable {
    /// Ordinary requests, served by Hummingbird over this async channel.
    case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    /// An event stream, written directly by a ``StreamHub``: Hummingbird has nothing to do.
    case stream
    /// Closed before its first request.
    case closed
}

/// Everything a connection needs to open a stream.
struct StreamGateway: Sendable {
    let access: RelayAccess
    let broadcaster: StreamBroadcaster
    let gate: BuildGate
    /// The write-buffer high watermark of a stream (its bounded backlog).
    let bufferBytes: Int
    /// The largest REPORT body accepted.
    let maxBodyBytes: Int
}

/// Sits between the HTTP/1 codec and Hummingbird on every connection and takes streaming requests
/// (``StreamRequest``) out of Hummingbird's hands.
///
/// Hummingbird runs each connection as a Swift task reading an async channel, which is what costs
/// an idle stream 35–60 KB (swift-notes §1.8). Here, a connection's async channel is created only
/// when its first request is an ordinary one; a connection whose first request opens a stream
/// never gets one, and its task ends at once. Opening a stream then removes the HTTP handlers and
/// leaves this handler alone in the pipeline: the stream is written as raw, pre-framed chunks by its
/// event loop's ``StreamHub``. A stream requested on a connection that already served ordinary
/// requests (a keep-alive client, a proxy reusing upstream connections) works the same way, after
/// the responses in flight have been written.
///
/// A refused stream request (401, 404, 503…) is answered here with the usual JSON error, and the
/// connection stays usable, unless the client asked to close it (HTTP/1.0, `Connection: close`).
final class ConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Requests pass through (to Hummingbird, once its async channel exists).
        case requests
        /// Reading the body of a stream request.
        case collecting(StreamRequest, body: [UInt8])
        /// A complete stream request waiting for earlier responses to be written.
        case waiting(StreamRequest, body: [UInt8])
        /// The body exceeded the limit; the rest of the request is skipped.
        case skipping
        case streaming(SSEStream)
        case closed
    }

    private var state = State.requests
    /// Fulfilled with the connection's mode once it is known; nil afterwards.
    private var mode: EventLoopPromise<ConnectionMode>?
    /// Ordinary requests forwarded whose response has not been fully written.
    private var responsesInFlight = 0
    private let gateway: StreamGateway
    private let logger: Logger

    init(gateway: StreamGateway, mode: EventLoopPromise<ConnectionMode>, logger: Logger) {
        self.gateway = gateway
        self.mode = mode
        self.logger = logger
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .streaming, .closed:
            // After the take-over the decoder is gone: whatever the client sends is ignored.
            return
        case .skipping:
            if case .end = unwrapInboundIn(data) { state = .requests }
            return
        case .collecting(let request, var body):
            switch unwrapInboundIn(data) {
            case .body(let chunk):
                guard body.count + chunk.readableBytes <= gateway.maxBodyBytes else {
                    state = .skipping
                    respond(APIError.payloadTooLarge(limit: gateway.maxBodyBytes), to: request, context: context)
                    return
                }
                body.append(contentsOf: chunk.readableBytesView)
                state = .collecting(request, body: body)
            case .end:
                if responsesInFlight > 0 {
                    state = .waiting(request, body: body)
                } else {
                    open(request, body: body, context: context)
                }
            case .head:
                // The decoder never sends a head before the previous request's end.
                context.close(promise: nil)
            }
            return
        case .waiting:
            // A pipelined request behind a stream request: the stream will own the connection.
            return
        case .requests:
            break
        }
        if case .head(let head) = unwrapInboundIn(data), let request = StreamRequest(head) {
            state = .collecting(request, body: [])
            return
        }
        if case .head = unwrapInboundIn(data) {
            guard startHTTP(context: context) else { return }
            responsesInFlight += 1
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state {
            gateway.broadcaster.hub(on: context.eventLoop)?.remove(stream)
            gateway.broadcaster.release(environmentID: stream.environment.id, kind: stream.kind)
            stream.detach()
        }
        state = .closed
        mode?.succeed(.closed)
        mode = nil
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .streaming(let stream) = state {
            if event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
                // Graceful shutdown ends the response properly; a client that closed its side is gone.
                stream.end()
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .streaming(let stream) = state, context.channel.isWritable {
            stream.blockedSince = nil
            if stream.needsResync { gateway.broadcaster.hub(on: context.eventLoop)?.resync(stream) }
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .streaming, .closed:
            context.close(promise: nil)
        case _ where mode == nil:
            // Hummingbird has the connection and answers its own errors.
            context.fireErrorCaught(error)
        case _ where error is HTTPParserError:
            // A malformed request before Hummingbird took the connection: the HTTPConnectionGuard
            // in front has answered it (400) and closes the connection; what is left is skipped.
            state = .skipping
        default:
            context.close(promise: nil)
        }
    }

    // MARK: Outbound (Hummingbird's responses)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        context.write(data, promise: promise)
        responsesInFlight -= 1
        if responsesInFlight == 0, case .waiting(let request, let body) = state {
            context.flush()
            open(request, body: body, context: context)
        }
    }

    // MARK: Modes

    /// Hands the connection to Hummingbird (once): wraps it in an async channel after this handler
    /// and resolves the mode. False if that failed (the connection is closed).
    private func startHTTP(context: ChannelHandlerContext) -> Bool {
        guard let mode else { return true }
        self.mode = nil
        do {
            let channel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                wrappingChannelSynchronously: context.channel, configuration: .init(isOutboundHalfClosureEnabled: true))
            mode.succeed(.http(channel))
            return true
        } catch {
            logger.error("cannot hand a connection to the HTTP server", metadata: ["error": "\(error)"])
            mode.succeed(.closed)
            state = .closed
            context.close(promise: nil)
            return false
        }
    }

    /// Admits a stream request and turns the connection into the stream, or answers the refusal.
    private func open(_ request: StreamRequest, body: [UInt8], context: ChannelHandlerContext) {
        let now = WallClock.nowMilliseconds()
        let admitted: EnvironmentAccess
        do throws(APIError) {
            admitted = try admit(request, body: body, now: now)
        } catch {
            state = .requests
            respond(error, to: request, context: context)
            return
        }
        let environmentID = admitted.environment.id
        guard let hub = gateway.broadcaster.hub(on: context.eventLoop),
            gateway.broadcaster.reserve(environmentID: environmentID, kind: request.kind)
        else {
            gateway.broadcaster.metrics.rejected.increment()
            state = .requests
            respond(
                APIError.serviceUnavailable(
                    "this relay holds its maximum of \(gateway.broadcaster.maxStreams) streams",
                    retryAfterSeconds: gateway.access.retryAfterSeconds),
                to: request, context: context)
            return
        }
        // The snapshot is taken after the reservation: see StreamBroadcaster.reserve.
        let snapshot = admitted.data.snapshot()
        let firstFrame: SSEFrame
        switch request.kind {
        case .server:
            guard let payload = snapshot.preparedPayload(gate: gateway.gate) else {
                gateway.broadcaster.release(environmentID: environmentID, kind: request.kind)
                gateway.broadcaster.metrics.rejected.increment()
                state = .requests
                respond(gateway.access.overloaded(), to: request, context: context)
                return
            }
            firstFrame = payload.putFrame
        case .clientSide, .mobile:
            firstFrame = .ping
        }
        takeOver(context: context)
        let stream = SSEStream(
            context: context, environment: admitted.data, kind: request.kind, chunked: request.version != .http1_0,
            credential: admitted.credential, revision: snapshot.revision)
        state = .streaming(stream)
        hub.add(stream)
        stream.setExpiry(admitted.credential?.expiresAt, now: now)
        gateway.broadcaster.metrics.opened.increment()
        var head = ByteBuffer(string: Self.streamHead(request: request, environmentID: environmentID, revision: snapshot.revision))
        head.writeImmutableBuffer(firstFrame.bytes(chunked: stream.chunked))
        context.writeAndFlush(NIOAny(head), promise: nil)
        gateway.broadcaster.metrics.eventsSent.increment()
    }

    private func admit(_ request: StreamRequest, body: [UInt8], now: Int) throws(APIError) -> EnvironmentAccess {
        switch request.route {
        case .server:
            return try gateway.access.serverSide(authorization: request.authorization, now: now)
        case .mobile:
            let admitted = try gateway.access.mobile(authorization: request.authorization, now: now)
            _ = try request.decodeContext(body: body)
            return admitted
        case .clientSide(let environmentID):
            let admitted = try gateway.access.clientSide(environmentID: environmentID)
            if let context = try request.decodeContext(body: body) {
                try ClientContext.checkSecureMode(
                    context, hash: request.secureModeHash, environment: admitted.environment,
                    directory: gateway.access.store.directory, now: now)
            }
            return admitted
        }
    }

    /// Removes the HTTP handlers (this handler writes raw bytes from now on) and resolves the mode.
    private func takeOver(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        func remove<Handler: ChannelHandler>(_: Handler.Type) {
            if let handlerContext = try? pipeline.context(handlerType: Handler.self) {
                pipeline.removeHandler(context: handlerContext, promise: nil)
            }
        }
        remove(HTTPConnectionGuard.self)
        remove(HTTPConnectionGuard.ByteObserver.self)
        remove(HTTPResponseEncoder.self)
        remove(ByteToMessageHandler<HTTPRequestDecoder>.self)
        remove(HTTP1ToHTTPServerCodec.self)
        remove(HTTPConnectionStateHandler.self)
        let bound = gateway.bufferBytes
        try? context.channel.syncOptions?.setOption(
            ChannelOptions.writeBufferWaterMark, value: .init(low: bound / 2, high: bound))
        mode?.succeed(.stream)
        mode = nil
    }

    /// The response head of a stream, written raw.
    private static func streamHead(request: StreamRequest, environmentID: String, revision: Int) -> String {
        var head = request.version == .http1_0 ? "HTTP/1.0 200 OK\r\n" : "HTTP/1.1 200 OK\r\n"
        head += "Content-Type: text/event-stream; charset=utf-8\r\n"
        head += "Cache-Control: no-cache, no-store, must-revalidate\r\n"
        head += "X-Accel-Buffering: no\r\n"
        head += request.version == .http1_0 ? "Connection: close\r\n" : "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n"
        head += "\(RelayHeaders.environmentID): \(environmentID)\r\n"
        head += "\(RelayHeaders.dataVersion): \(revision)\r\n"
        let cors = request.kind == .server
            ? ["Access-Control-Allow-Origin": "*"] : CORS.headers(origin: request.origin, methods: "GET, REPORT").dictionary
        for (name, value) in cors.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        return head + "\r\n"
    }

    // MARK: Refusals

    private func respond(_ error: APIError, to request: StreamRequest, context: ChannelHandlerContext) {
        var extra: [(String, String)] = []
        if request.kind != .server {
            for (name, value) in CORS.headers(origin: request.origin, methods: "GET, REPORT").dictionary { extra.append((name, value)) }
        }
        writeError(error, version: request.version, extraHeaders: extra, close: request.closesConnection, context: context)
    }

    private func writeError(
        _ error: APIError, version: HTTPVersion, extraHeaders: [(String, String)], close: Bool, context: ChannelHandlerContext
    ) {
        // A closing answer is closed by the HTTPConnectionGuard in front, which reads what the
        // client still sends for a while, so that it reads the answer rather than a reset.
        for part in error.http1ResponseParts(version: version, extraHeaders: extraHeaders, close: close) {
            context.write(wrapOutboundOut(part), promise: nil)
        }
        context.flush()
    }
}

extension HTTPFields {
    /// The fields as name → value (the last value of a repeated field).
    var dictionary: [String: String] {
        var result: [String: String] = [:]
        for field in self { result[field.name.rawName] = field.value }
        return result
    }
}
