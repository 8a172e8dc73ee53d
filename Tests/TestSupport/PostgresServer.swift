import Foundation
import Synchronization

/// A private PostgreSQL server for tests: Debian's server binaries, `initdb` in a temporary folder,
/// a free port on 127.0.0.1, trust authentication. One server per test process (started on first
/// use); each suite creates its own database. A watchdog stops the server and removes its folder
/// when the test process exits, however it exits.
///
/// `VANE_TEST_POSTGRES_URL` (`postgres://user@host:port`) points tests at an existing server instead.
public final class PostgresServer: Sendable {
    public let host: String
    public let port: Int
    public let user: String

    private static let shared = Mutex<PostgresServer?>(nil)
    private static let counter = Atomic<Int>(0)

    private init(host: String, port: Int, user: String) {
        self.host = host
        self.port = port
        self.user = user
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vane-pg-\(UUID().uuidString.prefix(8))")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot {
            // initdb refuses to run as root: the server runs as Debian's `postgres` user, on a folder it owns.
            _ = try ChildProcess.run(URL(fileURLWithPath: "/bin/chown"), ["postgres:postgres", directory.path])
        }
        func run(_ tool: String, _ arguments: [String]) throws -> ChildProcess.Result {
            if asRoot {
                return try ChildProcess.run(URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "postgres", "--", binary(tool).path] + arguments)
            }
            return try ChildProcess.run(binary(tool), arguments)
        }
        let initdb = try run("initdb", ["-D", data.path, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"])
        guard initdb.status == 0 else { throw ChildProcess.LaunchError(description: "initdb failed: \(initdb.standardError)") }
        let port = try TestPorts.next()
        let options = "-p \(port) -k \(directory.path) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        let start = try run("pg_ctl", ["-D", data.path, "-o", options, "-l", data.appendingPathComponent("server.log").path, "-w", "start"])
        guard start.status == 0 else { throw ChildProcess.LaunchError(description: "pg_ctl start failed: \(start.standardError)\(start.standardOutput)") }
        try startWatchdog(data: data, directory: directory, asRoot: asRoot)
        return PostgresServer(host: "127.0.0.1", port: port, user: "postgres")
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
