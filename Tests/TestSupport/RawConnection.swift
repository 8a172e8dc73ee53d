import NIOCore
import NIOPosix
import Synchronization

/// A plain TCP connection for tests that need to see exactly what the relay writes (chunk framing,
/// event order, the end of a stream), keep a connection alive across requests, or stop reading
/// like a slow client.
public final class RawConnection: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let closed = Atomic<Bool>(false)
        let closedAt = Mutex<ContinuousClock.Instant?>(nil)
        let firstReceivedAt = Mutex<ContinuousClock.Instant?>(nil)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            firstReceivedAt.withLock { if $0 == nil { $0 = .now } }
            received.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }

        /// The server closed its side (it may still read what the client sends, see
        /// HTTPConnectionGuard): the client can go on writing, as urllib does.
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? ChannelEvent, event == .inputClosed {
                closedAt.withLock { if $0 == nil { $0 = .now } }
                closed.store(true, ordering: .releasing)
            }
            context.fireUserInboundEventTriggered(event)
        }

        func channelInactive(context: ChannelHandlerContext) {
            closedAt.withLock { if $0 == nil { $0 = .now } }
            closed.store(true, ordering: .releasing)
            context.fireChannelInactive()
        }
    }

    public struct Timeout: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `127.0.0.1:port`; `receiveBuffer` shrinks the socket's receive buffer so that a
    /// client that stops reading is noticed by the server sooner.
    public static func connect(port: Int, receiveBuffer: Int? = nil) async throws -> RawConnection {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
            }
        if let receiveBuffer {
            bootstrap = bootstrap.channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBuffer))
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    /// Sends raw request bytes.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends `GET path` (HTTP/1.1, keep-alive) with extra header lines.
    public func get(_ path: String, headers: [String] = []) async throws {
        try await send("GET \(path) HTTP/1.1\r\nHost: relay\r\n" + headers.map { "\($0)\r\n" }.joined() + "\r\n")
    }

    /// Everything received so far, as text.
    public var text: String { collector.received.withLock { String(decoding: $0, as: UTF8.self) } }

    /// How many bytes were received.
    public var byteCount: Int { collector.received.withLock { $0.count } }

    /// Whether the server closed the connection (or its side of it).
    public var isClosed: Bool { collector.closed.load(ordering: .acquiring) }

    /// When the server closed the connection (nil while open).
    public var closedAt: ContinuousClock.Instant? { collector.closedAt.withLock { $0 } }

    /// When the first bytes from the server arrived (nil before), taken on the event loop at receipt: unlike the time a
    /// test task sees them, it does not depend on the test process's busy task pool.
    public var firstReceivedAt: ContinuousClock.Instant? { collector.firstReceivedAt.withLock { $0 } }

    /// Forgets what was received so far.
    public func reset() { collector.received.withLock { $0.removeAll() } }

    /// Stops or resumes reading from the socket.
    public func setReading(_ reading: Bool) async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: reading).get()
        if reading { channel.read() }
    }

    /// Waits until the received text satisfies `condition`.
    public func waitFor(
        _ what: String, timeout: Duration = .seconds(30), _ condition: @Sendable (String) -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition(text) {
            guard ContinuousClock.now < deadline else {
                throw Timeout(description: "timed out waiting for \(what); received:\n\(text.suffix(2000))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until the server closed the connection.
    public func waitForClose(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isClosed {
            guard ContinuousClock.now < deadline else { throw Timeout(description: "the server did not close the connection") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    public func close() async {
        try? await channel.close()
    }
}

extension String {
    /// How often `needle` occurs.
    public func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
