import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import ServiceKit

/// ``HTTPConnectionGuard`` in a pipeline with NIO's real HTTP/1 decoder and encoder, driven by raw
/// request bytes on an `EmbeddedChannel`: what the client would read, and when the connection goes.
@Suite("HTTP connection guard")
struct HTTPConnectionGuardTests {
    /// Stands for the application: records what reaches it, and answers when told to.
    final class Application: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var heads: [HTTPRequestHead] = []
        var ends = 0
        var errors: [any Error] = []
        /// Answer 200 as soon as a head arrives (before the body is read).
        var answerOnHead = false
        /// Answer 500 when an error arrives (what a naive application would do).
        var answerOnError = false
        var context: ChannelHandlerContext?

        func handlerAdded(context: ChannelHandlerContext) { self.context = context }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                heads.append(head)
                if answerOnHead { respond(.ok) }
            case .body: break
            case .end:
                ends += 1
                if !answerOnHead { respond(.ok) }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            errors.append(error)
            if answerOnError { respond(.internalServerError) }
        }

        func respond(_ status: HTTPResponseStatus) {
            guard let context else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "2")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Records the closes asked for; half-closes stop here, since `EmbeddedChannel` would close fully.
    final class CloseRecorder: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var modes: [CloseMode] = []

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            modes.append(mode)
            if mode == .output {
                promise?.succeed()
            } else {
                context.close(mode: mode, promise: promise)
            }
        }
    }

    private func makeChannel(
        _ application: Application, closes: CloseRecorder = CloseRecorder(), limits: HTTPConnectionGuard.Limits = .init()
    ) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(closes)
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
        try channel.pipeline.syncOperations.addGuard(HTTPConnectionGuard(limits: limits, logger: Logger(label: "test")))
        try channel.pipeline.syncOperations.addHandler(application)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    /// Everything written to the client so far.
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    @Test("a chunk size of zz, -1 or 20 hex digits gets one JSON 400 with Connection: close, then the connection closes",
          arguments: ["zz", "-1", "fffffffffffffffffffff"])
    func malformedChunkSize(size: String) throws {
        let application = Application()
        application.answerOnError = true
        let closes = CloseRecorder()
        let channel = try makeChannel(application, closes: closes)
        try channel.writeInbound(
            ByteBuffer(string: "POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nabc\r\n"))
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.lowercased().contains("connection: close\r\n"))
        #expect(text.contains("content-type: application/json") || text.contains("Content-Type: application/json"))
        #expect(text.contains(#"{"code":"bad_request","message":"malformed HTTP request"#))
        #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "the application's 500 is dropped: \(text)")
        #expect(application.errors.count == 1, "the application learns that the body is broken")
        #expect(closes.modes == [.output], "the output closes at once")
        #expect(channel.isActive, "the connection lingers so that the client reads the answer")
        channel.embeddedEventLoop.advanceTime(by: HTTPConnectionGuard.Limits().drainTime)
        #expect(!channel.isActive)
        #expect(closes.modes == [.output, .all])
    }

    @Test("HTTP/1.0 is answered with Connection: close in HTTP/1.0, and the connection closes")
    func http10() throws {
        let application = Application()
        let channel = try makeChannel(application)
        try channel.writeInbound(ByteBuffer(string: "GET /healthz HTTP/1.0\r\n\r\n"))
        #expect(application.heads.first?.headers["connection"] == ["close"], "the application sees the connection closing")
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.0 200 OK\r\n"))
        #expect(text.lowercased().contains("connection: close\r\n"))
        #expect(!text.lowercased().contains("transfer-encoding"))
        channel.embeddedEventLoop.advanceTime(by: HTTPConnectionGuard.Limits().drainTime)
        #expect(!channel.isActive)
    }

    @Test("Connection: close in any spelling or list closes; keep-alive stays open", arguments: ["close", "Close", "keep-alive, CLOSE"])
    func connectionClose(value: String) throws {
        let application = Application()
        let channel = try makeChannel(application)
        try channel.writeInbound(ByteBuffer(string: "GET /x HTTP/1.1\r\nHost: a\r\nConnection: \(value)\r\n\r\n"))
        #expect(application.heads.first?.headers["connection"] == ["close"])
        #expect(try written(channel).lowercased().contains("connection: close\r\n"))
        channel.embeddedEventLoop.advanceTime(by: HTTPConnectionGuard.Limits().drainTime)
        #expect(!channel.isActive)
    }

    @Test("keep-alive requests are answered without Connection: close and the connection stays")
    func keepAlive() throws {
        let application = Application()
        let channel = try makeChannel(application)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n"))
        let text = try written(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(!text.lowercased().contains("connection: close"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
    }

    @Test("a malformed body after the response was sent closes without a second response")
    func parseErrorAfterResponse() throws {
        let application = Application()
        application.answerOnHead = true
        application.answerOnError = true
        let channel = try makeChannel(application)
        try channel.writeInbound(ByteBuffer(string: "POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"))
        let text = try written(channel)
        #expect(text.components(separatedBy: "HTTP/1.1 ").count == 2, "one response only: \(text)")
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(!channel.isActive, "nothing is left to answer: the connection closes")
    }

    @Test("a malformed header line gets the JSON 400")
    func malformedHeader() throws {
        let application = Application()
        let channel = try makeChannel(application)
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHo st: a\r\n\r\n"))
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(text.contains(#""code":"bad_request""#))
        #expect(application.heads.isEmpty)
    }

    @Test("an answer sent before the body was read (a 413, a 401): the rest of the body is read, the connection stays")
    func earlyAnswer() throws {
        let application = Application()
        application.answerOnHead = true
        let closes = CloseRecorder()
        let channel = try makeChannel(application, closes: closes)
        try channel.writeInbound(
            ByteBuffer(string: "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 1400\r\n\r\n" + String(repeating: "x", count: 500)))
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(
            !text.lowercased().contains("connection: close"), "clients that upload while reading fail on a connection closed under them")
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 900)))
        #expect(application.ends == 1, "the whole body was read")
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive, "and the connection serves the next request")
        #expect(closes.modes.isEmpty)
    }

    @Test("the rest of an early-answered body is bounded: past the drain limit the connection closes")
    func drainLimit() throws {
        let application = Application()
        application.answerOnHead = true
        let limits = HTTPConnectionGuard.Limits(requestTimeout: .seconds(30), drainTime: .seconds(5), maxDrainBytes: 1000)
        let channel = try makeChannel(application, limits: limits)
        try channel.writeInbound(
            ByteBuffer(string: "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "x", count: 500)))
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 400)))
        #expect(channel.isActive)
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 700)))
        #expect(!channel.isActive)
    }

    @Test("the rest of an early-answered body is bounded in time: after the drain time the connection closes")
    func drainTime() throws {
        let application = Application()
        application.answerOnHead = true
        let closes = CloseRecorder()
        let channel = try makeChannel(application, closes: closes)
        try channel.writeInbound(ByteBuffer(string: "POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000000\r\n\r\nabc"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
        #expect(closes.modes.first == .all, "a full close, never an output close before the body ended")
    }

    @Test("a client that asked to close and was answered early: the output closes once its body has arrived")
    func earlyAnswerClosing() throws {
        let application = Application()
        application.answerOnHead = true
        let closes = CloseRecorder()
        let channel = try makeChannel(application, closes: closes)
        try channel.writeInbound(
            ByteBuffer(string: "POST /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 1000\r\n\r\nabc"))
        #expect(try written(channel).lowercased().contains("connection: close\r\n"))
        #expect(closes.modes.isEmpty, "not while the client is still sending")
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 997)))
        #expect(closes.modes == [.output])
        #expect(channel.isActive, "the client closes, or the drain time ends it")
        channel.embeddedEventLoop.advanceTime(by: HTTPConnectionGuard.Limits().drainTime)
        #expect(!channel.isActive)
    }

    @Test("a request trickling its headers or body gets a JSON 408 after the request timeout", arguments: [
        "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: 1",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc",
    ])
    func requestTimeout(partial: String) throws {
        let application = Application()
        application.answerOnError = true
        let limits = HTTPConnectionGuard.Limits(requestTimeout: .seconds(3))
        let channel = try makeChannel(application, limits: limits)
        try channel.writeInbound(ByteBuffer(string: partial))
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        try channel.writeInbound(ByteBuffer(string: "x"))
        #expect(try written(channel).isEmpty, "more bytes do not restart the clock")
        // Each byte earned 1/1024 s: under 0.1 s in all.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1_100))
        let text = try written(channel)
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(text)")
        #expect(text.contains(#""code":"request_timeout""#))
        #expect(text.lowercased().contains("connection: close\r\n"))
    }

    @Test("no request timeout while a complete request waits for its answer, or while a keep-alive connection is idle")
    func noTimeoutWhenComplete() throws {
        let application = Application()
        let limits = HTTPConnectionGuard.Limits(requestTimeout: .seconds(3))
        let channel = try makeChannel(application, limits: limits)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(try written(channel).hasPrefix("HTTP/1.1 200 OK"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(30))
        #expect(channel.isActive)
        #expect(try written(channel).isEmpty)
    }

    @Test("a large body arriving at a steady pace earns time and is not cut off")
    func steadyUpload() throws {
        let application = Application()
        let limits = HTTPConnectionGuard.Limits(requestTimeout: .seconds(3), minimumRate: 1024)
        let channel = try makeChannel(application, limits: limits)
        try channel.writeInbound(ByteBuffer(string: "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n"))
        for _ in 0..<10 {
            channel.embeddedEventLoop.advanceTime(by: .seconds(2))
            try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 10_000)))
        }
        #expect(application.ends == 1, "20 s for 100 kB at 5 kB/s: past the 3 s timeout, but never slower than 1 kB/s")
        #expect(try written(channel).hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test("Expect: 100-continue gets its interim 100 at once, then the answer")
    func expectContinue() throws {
        let application = Application()
        let channel = try makeChannel(application)
        try channel.writeInbound(
            ByteBuffer(string: "POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"))
        #expect(try written(channel) == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(application.heads.first?.headers["expect"] == [], "the application does not see it again")
        try channel.writeInbound(ByteBuffer(string: "abc"))
        #expect(try written(channel).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }
}
