import NIOCore
import NIOPosix
import Synchronization

/// Many SSE clients over raw sockets, for the relay benchmarks: they send `GET <path>`, count the
/// first event, and time when each sees a given byte pattern (a kill-switch `patch`). They never
/// keep what they read, so thousands of them cost the load generator little.
final class StreamClients: Sendable {
    /// What every connection reports into.
    final class Tally: Sendable {
        let connected = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
        /// The pattern being waited for and the arrival times (monotonic nanoseconds) seen so far.
        let watch = Mutex<(pattern: [UInt8], generation: Int, arrivals: [UInt64])>(([], 0, []))
    }

    private final class Handler: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let request: ByteBuffer
        let tally: Tally
        private let state = Mutex<(started: Bool, generation: Int, tail: [UInt8])>((false, 0, []))

        init(request: ByteBuffer, tally: Tally) {
            self.request = request
            self.tally = tally
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(NIOAny(request), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let now = DispatchTime.nowNanoseconds
            let buffer = unwrapInboundIn(data)
            let (pattern, generation) = tally.watch.withLock { ($0.pattern, $0.generation) }
            var found = false
            state.withLock { state in
                // Nothing to look for: skip the copy (puts are large and there are thousands of streams).
                if state.started, pattern.isEmpty || state.generation == generation {
                    state.tail = []
                    return
                }
                var window = state.tail
                window.append(contentsOf: buffer.readableBytesView)
                if !state.started, window.contains(subsequence: Array("event: ".utf8)) {
                    state.started = true
                    tally.connected.add(1, ordering: .relaxed)
                }
                if !pattern.isEmpty, state.generation != generation, window.contains(subsequence: pattern) {
                    state.generation = generation
                    found = true
                }
                state.tail = Array(window.suffix(max(pattern.count, 16)))
            }
            if found { tally.watch.withLock { $0.arrivals.append(now) } }
        }

        func channelInactive(context: ChannelHandlerContext) {
            tally.closed.add(1, ordering: .relaxed)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let tally = Tally()
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
                group.addTask {
                    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                        .bind(to: try SocketAddress(ipAddress: "127.0.0.\(source)", port: 0))
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(Handler(request: request, tally: tally))
                            }
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

    /// Starts timing arrivals of `pattern` (each stream counts once).
    func watch(_ pattern: String) {
        tally.watch.withLock { watch in
            watch = (Array(pattern.utf8), watch.generation + 1, [])
        }
    }

    /// The arrival times recorded since ``watch(_:)``, once `n` arrived or the timeout passed.
    func arrivals(expecting n: Int, timeout: Duration) async throws -> [UInt64] {
        let deadline = ContinuousClock.now + timeout
        while tally.watch.withLock({ $0.arrivals.count }) < n, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(2))
        }
        return tally.watch.withLock { $0.arrivals }
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

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, subsequence.count <= count else { return false }
        let first = subsequence[0]
        var index = 0
        while index <= count - subsequence.count {
            if self[index] == first, self[index..<(index + subsequence.count)].elementsEqual(subsequence) { return true }
            index += 1
        }
        return false
    }
}

#if canImport(Glibc)
import Glibc
#endif

enum DispatchTime {
    /// CLOCK_MONOTONIC in nanoseconds.
    static var nowNanoseconds: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
