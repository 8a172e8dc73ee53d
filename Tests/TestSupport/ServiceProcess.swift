import AsyncHTTPClient
import Foundation
import NIOCore

/// One of Vane's service executables run as a subprocess, for integration tests: started with
/// environment variables, awaited on its `/readyz`, stopped with SIGTERM. Its output goes to a log
/// file that failing tests can show.
public final class ServiceProcess: @unchecked Sendable {
    public let name: String
    public let port: Int
    public let logFile: URL
    private let process: Subprocess

    /// The base URL, e.g. `http://127.0.0.1:18080`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts `executable` (a product name like `management-api`) with `environment` added to the
    /// test's own; `VANE_HTTP_PORT` is chosen here unless given.
    public init(_ executable: String, arguments: [String] = [], environment: [String: String], port: Int? = nil) throws {
        name = executable
        self.port = try port ?? TestPorts.next()
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("vane-\(executable)-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        var variables = ProcessInfo.processInfo.environment
        variables["VANE_HTTP_HOST"] = "127.0.0.1"
        variables["VANE_HTTP_PORT"] = "\(self.port)"
        for (key, value) in environment { variables[key] = value }
        process = try Subprocess(
            RepositoryPaths.executable(executable).path, arguments, environment: variables,
            standardInput: .null, standardOutput: .file(logFile.path, append: true), standardError: .file(logFile.path, append: true))
    }

    deinit {
        if process.isRunning { _ = stopBlocking() }
    }

    /// Waits until `GET /readyz` answers 200.
    public func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                throw ChildProcess.LaunchError(description: "\(name) exited with \(process.terminationStatus ?? -1):\n\(logTail())")
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
