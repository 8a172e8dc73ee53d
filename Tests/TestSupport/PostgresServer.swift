import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL server for tests: Debian's server binaries, `initdb` in a temporary folder,
/// a free port on 127.0.0.1, trust authentication. One server per test process (started on first
/// use); each suite creates its own database. A watchdog stops the server and removes its folder
/// when the test process exits, however it exits.
///
/// TLS is on (`ssl=on`) with a certificate for `127.0.0.1` and `localhost` signed by a CA made at
/// start (``tls``); plain connections are accepted as well. The server also listens on 127.0.0.2,
/// a loopback address its certificate does not name, and authenticates the role `vane_cert` only
/// by client certificate (`hostssl … cert`).
///
/// `VANE_TEST_POSTGRES_URL` (`postgres://user@host:port`) points tests at an existing server instead
/// (then ``tls`` is nil).
public final class PostgresServer: Sendable {
    /// The server's TLS material.
    public struct TLS: Sendable {
        /// The CA that signed the server's certificate; tests issue client certificates with it.
        public let authority: TestCertificateAuthority
        /// The server's certificate (names `IP:127.0.0.1` and `DNS:localhost`).
        public let serverCertificate: URL
    }

    public let host: String
    public let port: Int
    public let user: String
    public let tls: TLS?
    /// How to stop and start this server again (nil for `VANE_TEST_POSTGRES_URL`).
    private let control: Control?

    /// The data folder and the options the server was started with.
    private struct Control: Sendable {
        let data: URL
        let options: String
        let asRoot: Bool
    }

    private static let shared = Mutex<PostgresServer?>(nil)
    private static let counter = Atomic<Int>(0)

    private init(host: String, port: Int, user: String, tls: TLS? = nil, control: Control? = nil) {
        self.host = host
        self.port = port
        self.user = user
        self.tls = tls
        self.control = control
    }

    /// A server of the caller's own, for tests that stop, hang or restart it (the shared one of
    /// ``start()`` serves every other suite). Stopped by the same watchdog at the test process's end.
    public static func startPrivate() throws -> PostgresServer {
        guard ProcessInfo.processInfo.environment["VANE_TEST_POSTGRES_URL"] == nil else {
            throw ChildProcess.LaunchError(description: "a private PostgreSQL cannot be started while VANE_TEST_POSTGRES_URL is set")
        }
        return try launch()
    }

    /// `pg_ctl stop -m <mode>`. `fast` (the default) ends every session (SQLSTATE 57P01) and
    /// refuses new connections; `immediate` drops them without a checkpoint. The test server runs
    /// with `fsync=off` and `synchronous_commit=off`, so after `immediate` recent commits may be
    /// lost, as after a crash.
    public func stop(mode: String = "fast") async throws {
        let result = try await pgCtl(["-m", mode, "-w", "stop"])
        guard result.status == 0 else { throw ChildProcess.LaunchError(description: "pg_ctl stop failed: \(result.standardError)") }
    }

    /// Starts the server again after ``stop(mode:)``, on the same port.
    public func restart() async throws {
        guard let control else { throw ChildProcess.LaunchError(description: "not a private server") }
        let result = try await pgCtl(["-o", control.options, "-l", control.data.appendingPathComponent("server.log").path, "-w", "start"])
        guard result.status == 0 else { throw ChildProcess.LaunchError(description: "pg_ctl start failed: \(result.standardError)") }
    }

    /// SIGSTOP (or SIGCONT) to the postmaster and every backend: the server hangs, connections
    /// stay open and unanswered, as with a frozen host or a network partition.
    public func signalAll(_ signal: Int32) async throws {
        guard let control else { throw ChildProcess.LaunchError(description: "not a private server") }
        let pidFile = try String(contentsOf: control.data.appendingPathComponent("postmaster.pid"), encoding: .utf8)
        guard let pid = pidFile.split(separator: "\n").first.flatMap({ Int32($0) }) else {
            throw ChildProcess.LaunchError(description: "no pid in postmaster.pid")
        }
        let children = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/pgrep"), ["-P", "\(pid)"])
        let pids = [pid] + children.standardOutput.split(separator: "\n").compactMap { Int32($0) }
        for target in pids { kill(target, signal) }
    }

    private func pgCtl(_ arguments: [String]) async throws -> ChildProcess.Result {
        guard let control else { throw ChildProcess.LaunchError(description: "not a private server") }
        if control.asRoot {
            return try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "postgres", "--", Self.binary("pg_ctl").path, "-D",
                    control.data.path] + arguments,
                in: URL(fileURLWithPath: "/"))
        }
        return try await ChildProcess.run(Self.binary("pg_ctl"), ["-D", control.data.path] + arguments)
    }

    /// The server of this test process.
    public static func start() throws -> PostgresServer {
        try shared.withLock { server in
            if let server { return server }
            let started = try launch()
            server = started
            return started
        }
    }

    /// A new, empty database; returns its `postgres://` URL.
    public func createDatabase(prefix: String = "test") async throws -> String {
        let name = "\(prefix)_\(ProcessInfo.processInfo.processIdentifier)_\(Self.counter.add(1, ordering: .relaxed).newValue)"
        let result = try await ChildProcess.run(
            Self.binary("psql"), ["-h", host, "-p", "\(port)", "-U", user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
                                  "-c", "CREATE DATABASE \(name)"])
        guard result.status == 0 else { throw ChildProcess.LaunchError(description: "createdb failed: \(result.standardError)") }
        return "postgres://\(user)@\(host):\(port)/\(name)"
    }

    private static func launch() throws -> PostgresServer {
        if let url = ProcessInfo.processInfo.environment["VANE_TEST_POSTGRES_URL"], let components = URLComponents(string: url) {
            return PostgresServer(host: components.host ?? "127.0.0.1", port: components.port ?? 5432, user: components.user ?? "postgres")
        }
        let asRoot = getuid() == 0
        let directory = try serverFolderBase(asRoot: asRoot).appendingPathComponent("vane-pg-\(UUID().uuidString.prefix(8))")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if asRoot {
            // initdb refuses to run as root: the server runs as Debian's `postgres` user, on a folder it owns.
            _ = try ChildProcess.run(URL(fileURLWithPath: "/bin/chown"), ["postgres:postgres", directory.path])
        }
        func run(_ tool: String, _ arguments: [String]) throws -> ChildProcess.Result {
            if asRoot {
                // From /: the test's folder (the clone) may be one `postgres` cannot enter.
                return try ChildProcess.run(
                    URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "postgres", "--", binary(tool).path] + arguments,
                    in: URL(fileURLWithPath: "/"))
            }
            return try ChildProcess.run(binary(tool), arguments)
        }
        let initdb = try run("initdb", ["-D", data.path, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        guard initdb.status == 0 else { throw ChildProcess.LaunchError(description: "initdb failed: \(initdb.standardError)") }
        let tls = try makeTLS(directory: directory, data: data, asRoot: asRoot)
        let port = try TestPorts.next()
        let tlsOptions = "-c ssl=on -c ssl_cert_file=\(tls.serverCertificate.path) -c ssl_key_file=\(directory.path)/tls/server.key"
            + " -c ssl_ca_file=\(tls.authority.certificate.path)"
        let options = "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1,127.0.0.2 -c fsync=off -c synchronous_commit=off"
            + " -c full_page_writes=off -c max_connections=300 \(tlsOptions)"
        let start = try run("pg_ctl", ["-D", data.path, "-o", options, "-l", data.appendingPathComponent("server.log").path, "-w", "start"])
        guard start.status == 0 else {
            throw ChildProcess.LaunchError(description: "pg_ctl start failed: \(start.standardError)\(start.standardOutput)")
        }
        try startWatchdog(data: data, directory: directory, asRoot: asRoot)
        return PostgresServer(host: "127.0.0.1", port: port, user: "postgres", tls: tls,
                              control: Control(data: data, options: options, asRoot: asRoot))
    }

    /// Where the server's folder goes: the temporary folder, unless (as root) the `postgres` user
    /// cannot enter it, e.g. a `TMPDIR` inside root's 0700 home; then /var/tmp, which it can.
    private static func serverFolderBase(asRoot: Bool) throws -> URL {
        let temporary = FileManager.default.temporaryDirectory
        guard asRoot else { return temporary }
        let check = try ChildProcess.run(URL(fileURLWithPath: "/usr/sbin/runuser"),
            ["-u", "postgres", "--", "/usr/bin/test", "-x", temporary.path])
        return check.status == 0 ? temporary : URL(fileURLWithPath: "/var/tmp")
    }

    /// Makes the CA and the server certificate, and lets `vane_cert` in only by client certificate.
    private static func makeTLS(directory: URL, data: URL, asRoot: Bool) throws -> TLS {
        let folder = directory.appendingPathComponent("tls")
        let authority = try TestCertificateAuthority.make(in: folder, name: "vane-test-postgres-ca")
        let server = try authority.issue("server", commonName: "localhost", subjectAlternativeNames: ["IP:127.0.0.1", "DNS:localhost"])
        if asRoot {
            // The server reads its key as `postgres`, and refuses a key others can read.
            _ = try ChildProcess.run(URL(fileURLWithPath: "/bin/chown"), ["-R", "postgres:postgres", folder.path])
        }
        let hba = data.appendingPathComponent("pg_hba.conf")
        let rules = """
            hostssl all vane_cert 127.0.0.0/8 cert
            host    all vane_cert 127.0.0.0/8 reject
            host    all all       127.0.0.0/8 trust

            """
        try (rules + (try String(contentsOf: hba, encoding: .utf8))).write(to: hba, atomically: false, encoding: .utf8)
        return TLS(authority: authority, serverCertificate: server.certificate)
    }

    /// Stops the server once this process is gone, even after a crash.
    private static func startWatchdog(data: URL, directory: URL, asRoot: Bool) throws {
        let stop = (asRoot ? "runuser -u postgres -- " : "") + "\(binary("pg_ctl").path) -D '\(data.path)' -m immediate stop"
        try Subprocess.whenTestProcessEnds("\(stop) >/dev/null 2>&1; rm -rf '\(directory.path)'")
    }

    /// A PostgreSQL server binary from Debian's versioned folder (the newest version installed).
    public static func binary(_ name: String) -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap(Int.init).sorted()
        if let newest = versions.last {
            return root.appendingPathComponent("\(newest)/bin/\(name)")
        }
        return URL(fileURLWithPath: "/usr/bin/\(name)")
    }
}
