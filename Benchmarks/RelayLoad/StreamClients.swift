import CNIOLinux  // epoll (Glibc does not export it to Swift; SwiftNIO's shim module does)
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Many SSE clients over raw sockets, for the relay benchmarks: they send `GET <path>`, count the
/// first event, and time when each sees a given byte pattern (a kill-switch `patch`).
///
/// The load generator shares the relay's two cores, so what it spends is taken from the relay and
/// shows up in its latencies. Readers are plain threads around `epoll`: one `recv` per ready socket
/// into the thread's own buffer, the pattern searched in place, nothing allocated or locked per read
/// (a reader takes its lock once per batch).
///
/// An idle reader polls (`epoll_wait` with no timeout, then a sleep of RELAY_BENCH_CLIENT_POLL_US,
/// 1 ms by default) instead of sleeping in `epoll_wait`. On loopback the sender's `write` runs the
/// receiver's TCP input, so a reader asleep in `epoll_wait` is woken by the relay's own write: the
/// relay would pay a wake-up (a cross-core interrupt on this virtual machine) per stream, which no
/// client on another host costs it. Measured here at 10,000 streams: 17–21 µs of an event loop per
/// stream with sleeping readers, 14 µs with polling ones. Arrival times are taken when a batch is
/// read, so they are late by up to the poll interval: the latencies err on the slow side.
final class StreamClients: Sendable {
    /// What the connections share: counters and the pattern of the current watch.
    final class Tally: Sendable {
        let connected = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
        let arrived = Atomic<Int>(0)
        /// Incremented by each ``StreamClients/watch(_:)``; 0 means nothing is watched.
        let generation = Atomic<Int>(0)
        let pattern = Mutex<[UInt8]>([])
    }

    /// One client connection, owned by one reader.
    private struct Connection {
        let fd: Int32
        var started = false
        var open = true
        /// The watch whose pattern was found (its arrival time is `arrival`).
        var generation = 0
        var arrival: UInt64 = 0
        /// The last bytes of the previous read while a watch is on (a pattern may straddle two reads).
        var tail: [UInt8] = []
    }

    /// One thread, its epoll instance and its connections.
    private final class Reader: Sendable {
        struct State {
            var connections: [Connection] = []
            var patternGeneration = 0
            var pattern: [UInt8] = []
        }

        let epoll: Int32
        /// See ``StreamClients/init()``; 0 sleeps in `epoll_wait`.
        let pollMicroseconds: UInt32
        let state = Mutex(State())
        let stopping = Atomic<Bool>(false)
        let exited = Atomic<Bool>(false)

        init(pollMicroseconds: UInt32) throws {
            self.pollMicroseconds = pollMicroseconds
            epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            guard epoll >= 0 else { throw BenchmarkError("epoll_create1: errno \(errno)") }
        }

        /// Registers a connected socket (any thread).
        func add(_ fd: Int32) throws {
            let index = state.withLock { state in
                state.connections.append(Connection(fd: fd))
                return state.connections.count - 1
            }
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue
            event.data.u64 = UInt64(index)
            guard epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 else { throw BenchmarkError("epoll_ctl: errno \(errno)") }
        }

        /// The thread's loop, until ``stopping``.
        func run(tally: Tally) {
            let capacity = 256 * 1024
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
            let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: 512)
            defer {
                buffer.deallocate()
                events.deallocate()
                exited.store(true, ordering: .releasing)
            }
            while !stopping.load(ordering: .relaxed) {
                let ready = epoll_wait(epoll, events, 512, pollMicroseconds > 0 ? 0 : 50)
                guard ready > 0 else {
                    if pollMicroseconds > 0 { usleep(pollMicroseconds) }
                    continue
                }
                let generation = tally.generation.load(ordering: .acquiring)
                var found = 0
                var connected = 0
                var closed = 0
                state.withLock { state in
                    if generation != 0, state.patternGeneration != generation {
                        state.pattern = tally.pattern.withLock { $0 }
                        state.patternGeneration = generation
                    }
                    for slot in 0..<Int(ready) {
                        let index = Int(events[slot].data.u64)
                        guard state.connections[index].open else { continue }
                        let count = recv(state.connections[index].fd, buffer.baseAddress, capacity, Int32(MSG_DONTWAIT))
                        let now = MonotonicClock.nanoseconds
                        if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                            state.connections[index].open = false
                            close(state.connections[index].fd)
                            closed += 1
                            continue
                        }
                        guard count > 0 else { continue }
                        let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress, count: count)
                        if !state.connections[index].started, Self.contains([], bytes, StreamClients.firstEvent) {
                            state.connections[index].started = true
                            connected += 1
                        }
                        guard generation != 0, state.connections[index].generation != generation else { continue }
                        if Self.contains(state.connections[index].tail, bytes, state.pattern) {
                            state.connections[index].generation = generation
                            state.connections[index].arrival = now
                            state.connections[index].tail = []
                            found += 1
                        } else {
                            state.connections[index].tail = Array(bytes.suffix(max(0, state.pattern.count - 1)))
                        }
                    }
                }
                if connected > 0 { tally.connected.add(connected, ordering: .relaxed) }
                if found > 0 { tally.arrived.add(found, ordering: .relaxed) }
                if closed > 0 { tally.closed.add(closed, ordering: .relaxed) }
            }
        }

        /// Closes what is still open (after the thread exited) and the epoll instance; returns how many.
        func closeAll() -> Int {
            let count = state.withLock { state in
                var count = 0
                for index in state.connections.indices where state.connections[index].open {
                    state.connections[index].open = false
                    close(state.connections[index].fd)
                    count += 1
                }
                return count
            }
            close(epoll)
            return count
        }

        /// Whether `pattern` occurs in `tail + bytes` (tail is shorter than the pattern).
        static func contains(_ tail: [UInt8], _ bytes: UnsafeRawBufferPointer, _ pattern: [UInt8]) -> Bool {
            guard !pattern.isEmpty else { return false }
            if !tail.isEmpty {
                let joined = tail + bytes.prefix(pattern.count - 1)
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

    static let firstEvent = Array("event: ".utf8)

    /// RELAY_BENCH_CLIENT_THREADS (default: as many as cores).
    static var threads: Int {
        max(1, Int(ProcessInfo.processInfo.environment["RELAY_BENCH_CLIENT_THREADS"] ?? "") ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// RELAY_BENCH_CLIENT_POLL_US (default 1000; 0: sleep in `epoll_wait`).
    static var pollMicroseconds: UInt32 { UInt32(ProcessInfo.processInfo.environment["RELAY_BENCH_CLIENT_POLL_US"] ?? "") ?? 1000 }

    /// The readers' settings, for the report.
    static var settingsDescription: String {
        "\(threads) reader threads, "
            + (pollMicroseconds > 0 ? "an idle reader polls every \(pollMicroseconds) µs" : "readers sleep in epoll_wait")
    }

    let tally = Tally()
    /// The reader threads, each with its share of the connections.
    private let readers: [Reader]

    init() throws {
        let poll = Self.pollMicroseconds
        readers = try (0..<Self.threads).map { _ in try Reader(pollMicroseconds: poll) }
        for reader in readers {
            let tally = self.tally
            let thread = Thread { reader.run(tally: tally) }
            thread.name = "stream-clients"
            thread.start()
        }
    }

    /// Opens `count` streams to `127.0.0.1:port`, spread over source addresses `127.0.0.2…` so that
    /// no single address runs out of ephemeral ports, and over the readers. Connects one at a time
    /// (blocking, on a thread of its own): the relay's accept queue never overflows, and a loopback
    /// connect completes in the kernel.
    func open(count: Int, port: Int, path: String, headers: [String]) async throws {
        let request = Array(("GET \(path) HTTP/1.1\r\nHost: relay\r\nAccept: text/event-stream\r\n"
            + headers.map { "\($0)\r\n" }.joined() + "\r\n").utf8)
        let readers = self.readers
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                do {
                    for index in 0..<count {
                        let fd = try Self.connect(source: "127.0.0.\(2 + index % 8)", port: port, request: request)
                        try readers[index % readers.count].add(fd)
                    }
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            thread.name = "stream-clients-connect"
            thread.start()
        }
    }

    /// A connected socket that has sent `request`.
    private static func connect(source: String, port: Int, request: [UInt8]) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchmarkError("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        func address(_ ip: String, _ port: Int) -> sockaddr_in {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            inet_pton(AF_INET, ip, &address.sin_addr)
            return address
        }
        func call(_ name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32, _ ip: String, _ port: Int) throws {
            var target = address(ip, port)
            let result = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard result == 0 else {
                let code = errno
                close(fd)
                throw BenchmarkError("\(name) \(ip):\(port): errno \(code)")
            }
        }
        try call("bind", { Glibc.bind(fd, $0, $1) }, source, 0)
        try call("connect", { Glibc.connect(fd, $0, $1) }, "127.0.0.1", port)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else {
            close(fd)
            throw BenchmarkError("send: \(sent) of \(request.count) bytes, errno \(errno)")
        }
        return fd
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
        return readers.flatMap { reader in
            reader.state.withLock { state in
                state.connections.compactMap { $0.generation == generation ? $0.arrival : nil }
            }
        }
    }

    /// Stops the readers and closes every connection.
    func closeAll() async {
        for reader in readers { reader.stopping.store(true, ordering: .relaxed) }
        while readers.contains(where: { !$0.exited.load(ordering: .acquiring) }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let closed = readers.reduce(0) { $0 + $1.closeAll() }
        tally.closed.add(closed, ordering: .relaxed)
        // Give the server a moment to see the connections go before the next measurement.
        try? await Task.sleep(for: .milliseconds(200))
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
