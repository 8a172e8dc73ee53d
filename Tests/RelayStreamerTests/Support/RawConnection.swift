import NIOCore
import NIOPosix
import Synchronization

/// A plain TCP connection for tests that need to see exactly what the relay writes (chunk framing,
/// event order, the end of a stream), keep a connection alive across requests, or stop reading
/// like a slow client.
final class RawConnection: Sendable {
    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let closed = Atomic<Bool>(false)

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            received.withLock { $0.append(contentsOf: buffer.readableBytesView) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed.store(true, ordering: .releasing)
            context.fireChannelInactive()
        }
    }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    /// Connects to `127.0.0.1:port`; `receiveBuffer` shrinks the socket's receive buffer so that a
    /// client that stops reading is noticed by the server sooner.
    static func connect(port: Int, receiveBuffer: Int? = nil) async throws -> RawConnection {
        let collector = Collector()
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
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
    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends `GET path` (HTTP/1.1, keep-alive) with extra header lines.
    func get(_ path: String, headers: [String] = []) async throws {
        try await send("GET \(path) HTTP/1.1\r\nHost: relay\r\n" + headers.map { "\($0)\r\n" }.joined() + "\r\n")
    }

    /// Everything received so far, as text.
    var text: String { collector.received.withLock { String(decoding: $0, as: UTF8.self) } }

    /// How many bytes were received.
    var byteCount: Int { collector.received.withLock { $0.count } }

    /// Whether the server closed the connection.
    var isClosed: Bool { collector.closed.load(ordering: .acquiring) }

    /// Forgets what was received so far.
    func reset() { collector.received.withLock { $0.removeAll() } }

    /// Stops or resumes reading from the socket.
    func setReading(_ reading: Bool) async throws {
        try await channel.setOption(ChannelOptions.autoRead, value: reading).get()
        if reading { channel.read() }
    }

    /// Waits until the received text satisfies `condition`.
    func waitFor(
        _ what: String, timeout: Duration = .seconds(10), _ condition: @Sendable (String) -> Bool
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
    func waitForClose(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isClosed {
            guard ContinuousClock.now < deadline else { throw Timeout(description: "the server did not close the connection") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func close() async {
        try? await channel.close()
    }
}

extension String {
    /// How often `needle` occurs.
    func occurrences(of needle: String) -> Int {
        var count = 0
        var rest = self[...]
        while let range = rest.firstRange(of: needle) {
            count += 1
            rest = rest[range.upperBound...]
        }
        return count
    }
}
