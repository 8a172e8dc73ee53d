import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import ServiceKit

/// Hummingbird's HTTP/1 child channel with streaming taken out: the same pipeline as
/// `HTTP1Channel` plus a ``ConnectionHandler`` after the codec, and the async channel (and with it
/// the per-connection task) only for connections that carry ordinary requests.
struct RelayChildChannel: ServerChildChannel, HTTPChannelHandler {
    /// The connection and, once its first request arrived, what it became.
    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let mode: EventLoopFuture<ConnectionMode>
    }

    let responder: HTTPChannelHandler.Responder
    let gateway: StreamGateway
    /// Idle keep-alive connections (and connections that never send a request) are closed after this.
    let idleTimeout: Duration?
    /// The request timeout and the bounds of a closing connection.
    let limits: HTTPConnectionGuard.Limits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: .init())
            try pipeline.addGuard(HTTPConnectionGuard(limits: limits, logger: logger))
            let mode = channel.eventLoop.makePromise(of: ConnectionMode.self)
            try pipeline.addHandler(ConnectionHandler(gateway: gateway, mode: mode, logger: logger))
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
            return Value(channel: channel, mode: mode.futureResult)
        }
    }

    func handle(value: Value, logger: Logger) async {
        guard case .http(let asyncChannel)? = try? await value.mode.get() else { return }
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
