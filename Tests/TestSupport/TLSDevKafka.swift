import Foundation
import Synchronization

/// The development broker behind TLS, for end-to-end tests of Kafka's `ssl` protocol.
///
/// librdkafka's mock cluster speaks plaintext only, and every broker advertises the 127.0.0.1 port
/// it listens on, so a TLS proxy must take over exactly those addresses in the client's network.
/// Hence (as root):
///
/// ```
///  client (test process, services)          network namespace "vane-k-…" (the broker host)
///  127.0.0.1:P  stunnel, TLS server ──veth──▶ 10.231.x.y:P  socat ──▶ 127.0.0.1:P  vanectl dev-kafka
/// ```
///
/// The client connects to the advertised 127.0.0.1:P of its own namespace, where stunnel
/// terminates TLS (checking client certificates when asked) and forwards in plaintext over a veth
/// pair to socat in the broker's namespace, which hands the connection to the mock broker's port.
/// The broker's certificate is issued by ``authority`` for `IP:127.0.0.1` unless told otherwise.
public final class TLSDevKafka: Sendable {
    /// How stunnel presents itself.
    public struct Options: Sendable {
        /// Subject alternative names of the broker certificate.
        public var subjectAlternativeNames: [String] = ["IP:127.0.0.1", "DNS:localhost"]
        /// Whether clients must present a certificate signed by ``authority`` (mutual TLS, as Strimzi's `tls` listener).
        public var requireClientCertificate = false

        public init(subjectAlternativeNames: [String] = ["IP:127.0.0.1", "DNS:localhost"], requireClientCertificate: Bool = false) {
            self.subjectAlternativeNames = subjectAlternativeNames
            self.requireClientCertificate = requireClientCertificate
        }
    }

    /// Why TLS tests cannot run here: nil when they can (root, `ip`, `stunnel4`, `socat`, `openssl`).
    public static var unavailableReason: String? {
        if getuid() != 0 { return "network namespaces need root" }
        for tool in ["/usr/sbin/ip", "/usr/bin/ss", "/usr/bin/stunnel4", "/usr/bin/socat", "/usr/bin/openssl"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing (make test installs iproute2, stunnel4, socat, openssl)"
        }
        return nil
    }

    /// The broker, running in the namespace.
    public let kafka: DevKafka
    /// The bootstrap servers clients use: the broker's own advertised addresses, now TLS.
    public var bootstrapServers: String { kafka.bootstrapServers }
    /// The CA of the broker certificate and of client certificates.
    public let authority: TestCertificateAuthority
    public let folder: URL
    private let namespace: String
    private let namespaceAddress: String
    private let hostLink: String
    private let ports: [Int]
    private let forwarders: [Subprocess]
    private let stunnel: Mutex<Subprocess?>
    private let generation = Atomic<Int>(0)

    private init(
        kafka: DevKafka, authority: TestCertificateAuthority, folder: URL, namespace: String, namespaceAddress: String,
        hostLink: String, ports: [Int], forwarders: [Subprocess]
    ) {
        self.hostLink = hostLink
        self.kafka = kafka
        self.authority = authority
        self.folder = folder
        self.namespace = namespace
        self.namespaceAddress = namespaceAddress
        self.ports = ports
        self.forwarders = forwarders
        self.stunnel = Mutex(nil)
    }

    /// Starts a namespace, a broker in it, the forwarders and stunnel.
    public static func start(brokers: Int = 1, topics: [String] = [], options: Options = Options()) async throws -> TLSDevKafka {
        if let reason = unavailableReason { throw ChildProcess.LaunchError(description: "TLS dev broker unavailable: \(reason)") }
        let tag = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        let namespace = "vane-k-\(tag)"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vane-tls-kafka-\(tag)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // A /30 of our own in 10.231.0.0/16, which only these namespaces use.
        let third = Int.random(in: 0...255)
        let base = 4 * Int.random(in: 0...63)
        let hostAddress = "10.231.\(third).\(base + 1)"
        let namespaceAddress = "10.231.\(third).\(base + 2)"
        let hostLink = "vk\(tag)h"
        let namespaceLink = "vk\(tag)n"
        try await ip(["netns", "add", namespace])
        // The namespace goes once the broker in it is gone; the veth pair with it.
        try Subprocess.whenTestProcessEnds("/usr/sbin/ip link del \(hostLink); /usr/sbin/ip netns del \(namespace)")
        do {
            try await ip(["link", "add", hostLink, "type", "veth", "peer", "name", namespaceLink, "netns", namespace])
            try await ip(["addr", "add", "\(hostAddress)/30", "dev", hostLink])
            try await ip(["link", "set", hostLink, "up"])
            try await ip(["netns", "exec", namespace, "/usr/sbin/ip", "addr", "add", "\(namespaceAddress)/30", "dev", namespaceLink])
            try await ip(["netns", "exec", namespace, "/usr/sbin/ip", "link", "set", namespaceLink, "up"])
            try await ip(["netns", "exec", namespace, "/usr/sbin/ip", "link", "set", "lo", "up"])
            // The broker binds port 0 in the namespace, and stunnel must then bind the same port on the host.
            // An ephemeral port of the namespace may be in use on the host (a test's outgoing connection or
            // listener): stunnel then exits on `Address already in use` while the other socket answers, seen
            // in CI as "connecting to a PLAINTEXT broker listener?". Ports above the host's ephemeral range
            // (and above TestPorts' range below it) are used by nothing else on the host.
            if let range = namespacePortRange {
                let setting = "echo '\(range.lowerBound) \(range.upperBound)' > /proc/sys/net/ipv4/ip_local_port_range"
                try await ip(["netns", "exec", namespace, "/bin/sh", "-c", setting])
            }

            let kafka = try await DevKafka.start(
                brokers: brokers, topics: topics, launcher: ["/usr/sbin/ip", "netns", "exec", namespace])
            let ports = kafka.bootstrapServers.split(separator: ",").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            var forwarders: [Subprocess] = []
            for port in ports {
                forwarders.append(
                    try Subprocess(
                        "/usr/sbin/ip",
                        ["netns", "exec", namespace, "/usr/bin/socat", "TCP-LISTEN:\(port),bind=\(namespaceAddress),fork,reuseaddr",
                         "TCP:127.0.0.1:\(port)"],
                        standardError: .file(folder.appendingPathComponent("socat-\(port).log").path)))
            }
            let authority = try TestCertificateAuthority.make(in: folder, name: "kafka-ca")
            let proxy = TLSDevKafka(
                kafka: kafka, authority: authority, folder: folder, namespace: namespace, namespaceAddress: namespaceAddress,
                hostLink: hostLink, ports: ports, forwarders: forwarders)
            try await proxy.restartTLS(options)
            return proxy
        } catch {
            try? await ip(["link", "del", hostLink])
            try? await ip(["netns", "del", namespace])
            throw error
        }
    }

    /// (Re)starts stunnel with a new broker certificate made for `options`.
    public func restartTLS(_ options: Options) async throws {
        if let old = stunnel.withLock({ $0.take() }) { _ = await old.stop(gracePeriod: .seconds(5)) }
        let round = generation.add(1, ordering: .relaxed).newValue
        let broker = try authority.issue("broker-\(round)", commonName: "broker", subjectAlternativeNames: options.subjectAlternativeNames)
        var lines = ["foreground = yes", "pid =", "debug = notice", "syslog = no"]
        for port in ports {
            lines += [
                "[broker-\(port)]", "accept = 127.0.0.1:\(port)", "connect = \(namespaceAddress):\(port)",
                "cert = \(broker.certificate.path)", "key = \(broker.key.path)",
            ]
            if options.requireClientCertificate {
                lines += ["CAfile = \(authority.certificate.path)", "verifyChain = yes", "requireCert = yes"]
            }
        }
        let configuration = folder.appendingPathComponent("stunnel-\(round).conf")
        try (lines.joined(separator: "\n") + "\n").write(to: configuration, atomically: true, encoding: .utf8)
        let process = try Subprocess(
            "/usr/bin/stunnel4", [configuration.path], standardError: .file(stunnelLog.path, append: true))
        stunnel.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(15)
        // Listening by this stunnel, not merely by something: another process on the port would answer the
        // probe while stunnel exits on `Address already in use`.
        while try await !Self.listeners(of: process.pid, on: ports) {
            guard process.isRunning, ContinuousClock.now < deadline else {
                throw ChildProcess.LaunchError(description: "stunnel did not listen on \(ports):\n\(LogTail.of(stunnelLog, lines: 20))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Ephemeral ports for the broker's namespace: above the host's ephemeral range, nil when too few are left.
    private static var namespacePortRange: ClosedRange<Int>? {
        let hostUpper = TestPorts.ephemeralRange.upperBound
        return hostUpper + 1000 <= 65535 ? (hostUpper + 1)...65535 : nil
    }

    /// Whether process `pid` holds a listening TCP socket on 127.0.0.1 for each of `ports` (from `ss`).
    private static func listeners(of pid: pid_t, on ports: [Int]) async throws -> Bool {
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/ss"), ["-Hltnp"])
        let owned = result.standardOutput.split(separator: "\n").filter { $0.contains("pid=\(pid),") }
        return ports.allSatisfy { port in owned.contains { $0.contains("127.0.0.1:\(port) ") } }
    }

    /// stunnel's log (handshake failures, refused client certificates).
    public var stunnelLog: URL { folder.appendingPathComponent("stunnel.log") }

    /// Stops stunnel, the forwarders and the broker, and removes the namespace.
    public func stop() async {
        if let process = stunnel.withLock({ $0.take() }) { _ = await process.stop(gracePeriod: .seconds(5)) }
        for forwarder in forwarders { _ = await forwarder.stop(gracePeriod: .seconds(5)) }
        _ = await kafka.stop()
        try? await Self.ip(["netns", "del", namespace])
        try? await Self.ip(["link", "del", hostLink])
    }

    /// Starts a TLS broker, runs `body`, and stops everything whatever happens.
    public static func with<T>(
        brokers: Int = 1, topics: [String] = [], options: Options = Options(), _ body: (TLSDevKafka) async throws -> T
    ) async throws -> T {
        let kafka = try await start(brokers: brokers, topics: topics, options: options)
        do {
            let result = try await body(kafka)
            await kafka.stop()
            return result
        } catch {
            await kafka.stop()
            throw error
        }
    }

    private static func ip(_ arguments: [String]) async throws {
        let result = try await ChildProcess.run(URL(fileURLWithPath: "/usr/sbin/ip"), arguments)
        guard result.status == 0 else {
            throw ChildProcess.LaunchError(description: "ip \(arguments.joined(separator: " ")) failed: \(result.standardError)")
        }
    }
}
