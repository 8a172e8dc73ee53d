import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Hummingbird's HTTP/1 child channel with an ``HTTPConnectionGuard`` between NIO's HTTP codec and
/// Hummingbird's, so that HTTP/1.0 and `Connection: close` requests close their connection and a
/// malformed request gets a JSON 400 (not a 500) on every service.
public struct GuardedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    public let responder: HTTPChannelHandler.Responder
    /// Idle keep-alive connections (and connections that never send a request) close after this.
    let idleTimeout: Duration?
    let limits: HTTPConnectionGuard.Limits

    public init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: Duration?, limits: HTTPConnectionGuard.Limits) {
        self.responder = responder
        self.idleTimeout = idleTimeout
        self.limits = limits
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: .init())
            try pipeline.addGuard(HTTPConnectionGuard(limits: limits, logger: logger))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    public func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// An HTTP/1 server whose connections follow ``HTTPConnectionRules`` (see ``GuardedHTTP1Channel``).
    public static func guardedHTTP1(_ settings: HTTPSettings, idleTimeout: Duration? = .seconds(60)) -> HTTPServerBuilder {
        let limits = HTTPConnectionGuard.Limits(requestTimeout: TimeAmount(settings.requestTimeout))
        return HTTPServerBuilder { responder in GuardedHTTP1Channel(responder: responder, idleTimeout: idleTimeout, limits: limits) }
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Adds `guard` after the HTTP codec (call right after `configureHTTPServerPipeline`), and its
    /// byte observer before the decoder.
    public func addGuard(_ guard: HTTPConnectionGuard) throws {
        try addHandler(`guard`.byteObserver, position: .first)
        try addHandler(`guard`)
    }
}
