import AsyncHTTPClient
import Foundation
import NIOCore

/// One of Vane's service executables run as a subprocess, for integration tests: started with
/// environment variables, awaited on its `/readyz`, stopped with SIGTERM. Its output goes to a log
/// file that failing tests can show.
public final class ServiceProcess: @unchecked Sendable {
    public let name: String
    /// The HTTP port; when it was chosen here, ``waitUntilReady(timeout:)`` may move the service to another one (see
    /// there), so read it (and ``baseURL``) after that.
    public private(set) var port: Int
    public let logFile: URL
    // Changed only by waitUntilReady, before the test uses the service.
    private var process: Subprocess
    private let arguments: [String]
    private let environment: [String: String]
    private let portWasChosen: Bool

    /// The base URL, e.g. `http://127.0.0.1:18080`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts `executable` (a product name like `management-api`) with `environment` added to the
    /// test's own; `VANE_HTTP_PORT` is chosen here unless given.
    public init(_ executable: String, arguments: [String] = [], environment: [String: String], port: Int? = nil) throws {
        name = executable
        portWasChosen = port == nil && environment["VANE_HTTP_PORT"] == nil
        self.port = try port ?? TestPorts.next()
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("vane-\(executable)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        self.arguments = arguments
        self.environment = environment
        process = try Self.launch(executable, arguments, environment, port: self.port, logFile: logFile)
    }

    private static func launch(
        _ executable: String, _ arguments: [String], _ environment: [String: String], port: Int, logFile: URL
    ) throws -> Subprocess {
        var variables = ProcessInfo.processInfo.environment
        variables["VANE_HTTP_HOST"] = "127.0.0.1"
        variables["VANE_HTTP_PORT"] = "\(port)"
        for (key, value) in environment { variables[key] = value }
        return try Subprocess(
            RepositoryPaths.executable(executable).path, arguments, environment: variables,
            standardInput: .null, standardOutput: .file(logFile.path, append: true), standardError: .file(logFile.path, append: true))
    }

    deinit {
        if process.isRunning { _ = stopBlocking() }
    }

    /// Waits until `GET /readyz` answers 200.
    ///
    /// A port chosen here was free when probed, but another program (Chromium's tools, a child of another test) can bind
    /// it before the service does; the service then exits with "Address already in use". It is started again on another
    /// port, up to twice.
    public func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        var restarts = 0
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                let tail = logTail()
                if portWasChosen, restarts < 2, tail.contains("Address already in use") {
                    restarts += 1
                    let taken = port
                    port = try TestPorts.next()
                    let notice = "\(name): port \(taken) was taken before it bound it; starting it on \(port)\n"
                    FileHandle.standardError.write(Data(notice.utf8))
                    _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)  // emptied for the new start
                    process = try Self.launch(name, arguments, environment, port: port, logFile: logFile)
                    continue
                }
                throw ChildProcess.LaunchError(description: "\(name) exited with \(process.terminationStatus ?? -1):\n\(tail)")
            }
            if let response = try? await TestHTTP.request("GET", "\(baseURL)/readyz"), response.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChildProcess.LaunchError(description: "\(name) not ready within \(timeout):\n\(logTail())")
    }

    /// How long a service may take to exit after SIGTERM: above the services' own bound (graceful
    /// shutdown 15 s, then 5 s for cancellation), so only a hung one is forced.
    public static let stopGracePeriod: Duration = .seconds(40)

    /// Sends `signal` (SIGTERM by default) and waits for the exit status without holding a thread.
    /// A service still running after ``stopGracePeriod`` is forced (see `Subprocess.stop`), reported
    /// on standard error with the end of its log, and gives a non-zero status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM) async -> Int32 {
        report(await process.stop(signal: signal, gracePeriod: Self.stopGracePeriod))
    }

    /// ``stop(signal:)`` blocking the calling thread, for a `defer` (which cannot await).
    @discardableResult
    public func stopBlocking(signal: Int32 = SIGTERM) -> Int32 {
        report(process.stopBlocking(signal: signal, gracePeriod: Self.stopGracePeriod))
    }

    private func report(_ outcome: Subprocess.StopOutcome) -> Int32 {
        if outcome.forced { ForcedStop.report(name, pid: process.pid, logFile: logFile, gracePeriod: Self.stopGracePeriod) }
        return outcome.status
    }

    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.pid }

    /// The last lines of the service's output.
    public func logTail(lines: Int = 60) -> String { LogTail.of(logFile, lines: lines) }
}

/// Minimal HTTP for tests, over AsyncHTTPClient's shared client.
public enum TestHTTP {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public var text: String { String(decoding: body, as: UTF8.self) }
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    public static func request(
        _ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Duration = .seconds(30)
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request,
            timeout: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return Response(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: Array(collected.readableBytesView))
    }

    /// A JSON request with `Authorization: Bearer <token>`.
    public static func json(_ method: String, _ url: String, token: String? = nil, json: String? = nil,
        headers: [(String, String)] = []) async throws -> Response {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        if json != nil { all.append(("Content-Type", "application/json")) }
        return try await request(method, url, headers: all, body: json.map { Array($0.utf8) })
    }
}
