import Logging
import ModelsCore
import NIOCore
import ServiceLifecycle
import Synchronization
import TestSupport

@testable import RelayStreamer

/// The relay's HTTP server and fan-out running in the test process, fed records directly instead
/// of from Kafka, with readiness under the test's control.
final class InProcessRelay: Sendable {
    let core: RelayCore
    let port: Int
    private let ready: ReadyBox

    private init(core: RelayCore, port: Int, ready: ReadyBox) {
        self.core = core
        self.port = port
        self.ready = ready
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Runs a relay with `settings` added to test defaults, calls `body`, then shuts the relay down
    /// gracefully (and returns after it stopped).
    static func with<T: Sendable>(
        settings: [String: String] = [:], ready: Bool = true, records: [ConfigRecord] = [Fixtures.environment()],
        _ body: @Sendable (InProcessRelay) async throws -> T
    ) async throws -> T {
        var variables = ["VANE_KAFKA_BROKERS": "127.0.0.1:1", "VANE_HTTP_HOST": "127.0.0.1", "VANE_HTTP_PORT": "0"]
        for (key, value) in settings { variables[key] = value }
        let core = RelayCore(settings: try RelaySettings(environment: variables), logger: TestLogger.make("relay"))
        for record in records { core.store.apply(record) }
        let boundPort = Mutex<Int?>(nil)
        let flagBox = ReadyBox(ready)
        let app = core.makeApplication(
            isReady: { flagBox.isReady }, notReadyReason: { flagBox.isReady ? nil : "test says not ready" }, services: [core.broadcaster],
            onServerRunning: { channel in boundPort.withLock { $0 = channel.localAddress?.port } })
        let group = ServiceGroup(services: [app], logger: TestLogger.make("relay-group"))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Binding is quick, but a full `make test` runs many suites at once on two cores.
            let deadline = ContinuousClock.now + .seconds(30)
            while boundPort.withLock({ $0 }) == nil {
                guard ContinuousClock.now < deadline else { throw RawConnection.Timeout(description: "relay did not start") }
                try await Task.sleep(for: .milliseconds(10))
            }
            let relay = InProcessRelay(core: core, port: boundPort.withLock { $0 }!, ready: flagBox)
            do {
                let result = try await body(relay)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    /// Makes the SDK endpoints answer (or answer 503).
    func setReady(_ value: Bool) { ready.flag.store(value, ordering: .releasing) }

    /// Applies a record as the feed would.
    func apply(_ record: ConfigRecord) { core.store.apply(record) }

    /// Open streams.
    var streamCount: Int { core.broadcaster.streamCount }

    /// The value of an unlabelled metric in the `/metrics` exposition (0 when absent).
    func metric(_ name: String) -> Double {
        let text = String(decoding: core.metrics.exposition(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.dropFirst(name.count + 1)) ?? 0
        }
        return 0
    }
}

/// Shares the readiness flag between the relay's closures and the test.
private final class ReadyBox: Sendable {
    let flag: Atomic<Bool>
    init(_ ready: Bool) { flag = Atomic(ready) }
    var isReady: Bool { flag.load(ordering: .acquiring) }
}
