#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import Synchronization

/// TCP ports for the servers tests start (services, PostgreSQL, the local stack).
///
/// A port is handed out once per test process and comes from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`, 32768-60999 by default). Asking the kernel for a free port
/// (binding port 0) returns an ephemeral one, which the kernel may give to an outgoing connection,
/// or to a broker binding port 0, before the service binds it: seen as `Address already in use` in
/// parallel test runs.
public enum TestPorts {
    /// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`; Linux's default 32768-60999 if unreadable).
    public static let ephemeralRange: ClosedRange<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        return bounds.count == 2 && bounds[0] <= bounds[1] ? bounds[0]...bounds[1] : 32768...60999
    }()

    private static let range: Range<Int> = {
        let upper = max(min(ephemeralRange.lowerBound, 32768), 12000)
        return 10000..<upper
    }()

    /// The next candidate offset into `range`; starts at a per-process random point so that
    /// concurrent test processes on one machine rarely probe the same ports.
    private static let cursor = Atomic<Int>(Int.random(in: 0..<1_000_000))

    /// A port not handed out before in this process and free when probed (bind without
    /// `SO_REUSEADDR`, so ports still in TIME_WAIT are skipped too).
    public static func next() throws -> Int {
        for _ in 0..<range.count {
            let offset = cursor.add(1, ordering: .relaxed).oldValue
            let port = range.lowerBound + offset % range.count
            if isFree(port) { return port }
        }
        throw ChildProcess.LaunchError(description: "no free TCP port in \(range)")
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func isListening(_ port: Int) -> Bool {
        withLoopbackSocket(port) { fd, address, length in connect(fd, address, length) == 0 }
    }

    private static func isFree(_ port: Int) -> Bool {
        withLoopbackSocket(port) { fd, address, length in bind(fd, address, length) == 0 }
    }

    /// A socket listening on 127.0.0.1:`port`, for a test that takes a port away (it closes the socket when done); nil
    /// when the port is taken.
    public static func occupy(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        guard withLoopbackAddress(port, { bind(fd, $0, $1) == 0 }), listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Runs `body` with a new TCP socket and the address 127.0.0.1:`port`; false when no socket.
    private static func withLoopbackSocket(
        _ port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Bool
    ) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withLoopbackAddress(port) { body(fd, $0, $1) }
    }

    /// Runs `body` with the address 127.0.0.1:`port`.
    private static func withLoopbackAddress(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Bool) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
