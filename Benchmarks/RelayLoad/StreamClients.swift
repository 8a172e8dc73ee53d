import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Many SSE clients over raw sockets, for the relay benchmarks: they send `GET <path>`, count the
/// first event, and time when each sees a given byte pattern (a kill-switch `patch`).
///
/// The load generator shares the relay's two cores, so a client must cost as little as possible
/// per read: nothing is copied or kept, the pattern is searched in place, and arrivals go into the
/// connection's own slot (no shared lock on the read path).
final class StreamClients: Sendable {
    /// What the connections share: counters and the patterns of the current watch.
    final class Tally: Sendable {
        let connected = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
        let arrived = Atomic<Int>(0)
        /// Incremented by each ``StreamClients/watch(_:)``; 0 means nothing is watched.
        let generation = Atomic<Int>(0)
        let pattern = Mutex<[UInt8]>([])
    }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer

        /// Read-path state, touched only on the channel's event loop (and read after the fact).
        struct State {
            var started = false
            /// The watch whose pattern was found (its arrival time is `arrival`).
            var generation = 0
            /// The watch whose pattern is being searched for.
            var patternGeneration = 0
            var pattern: [UInt8] = []
            var tail: [UInt8] = []
            var arrival: UInt64 = 0
        }

        static let firstEvent = Array("event: ".utf8)

        let request: ByteBuffer
        let tally: Tally
        let state = Mutex(State())

        init(request: ByteBuffer, tally: Tally) {
            self.request = request
            self.tally = tally
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(request), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let now = MonotonicClock.nanoseconds
            let buffer = unwrapInboundIn(data)
            let generation = tally.generation.load(ordering: .acquiring)
            let found = state.withLock { state -> Bool in
                if !state.started, buffer.withUnsafeReadableBytes({ Self.contains([], $0, Self.firstEvent) }) {
                    state.started = true
                    tally.connected.add(1, ordering: .relaxed)
                }
                guard generation != 0, state.generation != generation else { return false }
                if state.patternGeneration != generation {
                    state.pattern = tally.pattern.withLock { $0 }
                    state.patternGeneration = generation
                    state.tail = []
                }
                let hit = buffer.withUnsafeReadableBytes { bytes in
                    Self.contains(state.tail, bytes, state.pattern)
                }
                if hit {
                    state.generation = generation
                    state.arrival = now
                    state.tail = []
                } else {
                    state.tail = Array(buffer.readableBytesView.suffix(state.pattern.count))
                }
                return hit
            }
            if found { tally.arrived.add(1, ordering: .relaxed) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            tally.closed.add(1, ordering: .relaxed)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        /// Whether `pattern` occurs in `tail + bytes` (tail is shorter than the pattern).
        static func contains(_ tail: [UInt8], _ bytes: UnsafeRawBufferPointer, _ pattern: [UInt8]) -> Bool {
            guard !pattern.isEmpty else { return false }
            if !tail.isEmpty {
                let joined = tail + bytes.prefix(pattern.count)
                if joined.count >= pattern.count {
                    for start in 0...(joined.count - pattern.count) where joined[start..<(start + pattern.count)].elementsEqual(pattern) {
                        return true
                    }
                }
            }
            guard bytes.count >= pattern.count, let base = bytes.baseAddress else { return false }
            let first = pattern[0]
            return pattern.withUnsafeBytes { needle in
                for start in 0...(bytes.count - pattern.count) where bytes[start] == first {
                    if memcmp(base + start, needle.baseAddress!, pattern.count) == 0 { return true }
                }
                return false
            }
        }
    }

    let tally = Tally()
    /// The clients' event loops: RELAY_BENCH_CLIENT_THREADS (default: as many as cores).
    private static let group = MultiThreadedEventLoopGroup(
        numberOfThreads: Int(ProcessInfo.processInfo.environment["RELAY_BENCH_CLIENT_THREADS"] ?? "") ?? System.coreCount)
    private let handlers = Mutex<[Handler]>([])
    private let channels = Mutex<[any Channel]>([])

    /// Opens `count` streams to `127.0.0.1:port`, spread over source addresses `127.0.0.2…` so that
    /// no single address runs out of ephemeral ports, at most `parallelism` connecting at once.
    func open(count: Int, port: Int, path: String, headers: [String], parallelism: Int = 256) async throws {
        let request = ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n"
            + headers.map { "\($0)\r\n" }.joined() + "\r\n")
        let tally = self.tally
        try await withThrowingTaskGroup(of: (any Channel).self) { group in
            var started = 0
            func startOne() {
                let source = 2 + started % 8
                started += 1
                let handler = Handler(request: request, tally: tally)
                handlers.withLock { $0.append(handler) }
                group.addTask {
                    try await ClientBootstrap(group: Self.group)
                        .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                        .bind(to: try SocketAddress(ipAddress: "127.0.0.\(source)", port: 0))
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                        }
                        .connect(host: "127.0.0.1", port: port).get()
                }
            }
            for _ in 0..<min(parallelism, count) { startOne() }
            while let channel = try await group.next() {
                channels.withLock { $0.append(channel) }
                if started < count { startOne() }
            }
        }
    }

    /// Waits until `n` streams have received their first event.
    func waitConnected(_ n: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while tally.connected.load(ordering: .relaxed) < n {
            guard ContinuousClock.now < deadline else {
                throw BenchmarkError("only \(tally.connected.load(ordering: .relaxed)) of \(n) streams received their first event")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Starts timing arrivals of `pattern` (each stream counts once per watch).
    func watch(_ pattern: String) {
        tally.pattern.withLock { $0 = Array(pattern.utf8) }
        tally.arrived.store(0, ordering: .relaxed)
        tally.generation.add(1, ordering: .releasing)
    }

    /// The arrival times (monotonic nanoseconds) of the current watch, once `n` streams have it or
    /// the timeout passed.
    func arrivals(expecting n: Int, timeout: Duration) async throws -> [UInt64] {
        let deadline = ContinuousClock.now + timeout
        while tally.arrived.load(ordering: .relaxed) < n, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        let generation = tally.generation.load(ordering: .acquiring)
        return handlers.withLock { handlers in
            handlers.compactMap { handler in
                handler.state.withLock { $0.generation == generation ? $0.arrival : nil }
            }
        }
    }

    func closeAll() async {
        let all = channels.withLock { channels in
            defer { channels.removeAll() }
            return channels
        }
        for channel in all { channel.close(promise: nil) }
        let deadline = ContinuousClock.now + .seconds(30)
        while tally.closed.load(ordering: .relaxed) < all.count, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum MonotonicClock {
    /// CLOCK_MONOTONIC in nanoseconds.
    static var nanoseconds: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
