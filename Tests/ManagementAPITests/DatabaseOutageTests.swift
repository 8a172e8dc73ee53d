import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL going away under a running management-api (and events-processor): requests get a
/// JSON 503 within 5 s, the service recovers by itself when the database returns, and a SIGTERM
/// while the database is unreachable stops the process cleanly (exit 0). Each test has a server of
/// its own (``PostgresServer/startPrivate()``), since it stops or freezes it.
@Suite("PostgreSQL outage", .serialized)
struct DatabaseOutageTests {
    struct Running {
        let postgres: PostgresServer
        let kafka: DevKafka
        let api: ServiceProcess
        let token: String

        func get(_ path: String = "/projects") async throws -> (response: TestHTTP.Response, elapsed: Duration) {
            let start = ContinuousClock.now
            let response = try await TestHTTP.json("GET", "\(api.baseURL)/api/v1\(path)", token: token)
            return (response, ContinuousClock.now - start)
        }

        /// Polls until a request succeeds again; returns how long that took.
        func waitForRecovery(within bound: Duration) async throws -> Duration {
            let start = ContinuousClock.now
            while ContinuousClock.now - start < bound {
                if let (response, _) = try? await get(), response.status == 200 { return ContinuousClock.now - start }
                try await Task.sleep(for: .milliseconds(200))
            }
            Issue.record("no recovery within \(bound):\n\(api.logTail())")
            return bound
        }
    }

    static func start() async throws -> Running {
        let postgres = try PostgresServer.startPrivate()
        let databaseURL = try await postgres.createDatabase(prefix: "outage")
        let kafka = try await DevKafka.start(brokers: 1, topics: ["vane.config:3"])
        let token = "test-admin-\(UUID().uuidString.lowercased())"
        let api = try ServiceProcess("management-api", environment: [
            "VANE_DATABASE_URL": databaseURL, "VANE_KAFKA_BROKERS": kafka.bootstrapServers, "VANE_ADMIN_TOKEN": token,
            "VANE_LOG_LEVEL": "info", "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
        ])
        try await api.waitUntilReady()
        return Running(postgres: postgres, kafka: kafka, api: api, token: token)
    }

    /// The JSON error shape with the `unavailable` code.
    static func expectUnavailable(_ response: TestHTTP.Response, _ elapsed: Duration, _ what: String, log: String) {
        #expect(response.status == 503, "\(what): \(response.status) \(response.text)\n\(log)")
        #expect(response.header("content-type")?.hasPrefix("application/json") == true, "\(what)")
        #expect(response.text.contains(#""code":"unavailable""#), "\(what): \(response.text)")
        #expect(elapsed < .seconds(5), "\(what) took \(elapsed)")
        print("\(what): \(response.status) after \(elapsed)")
    }

    @Test("PostgreSQL stopped: 503 within 5 s, recovery when it returns, SIGTERM while it is down exits 0")
    func stopped() async throws {
        let running = try await Self.start()
        defer { _ = running.api.stopBlocking() }
        #expect(try await running.get().response.status == 200)

        try await running.postgres.stop()
        for attempt in 0..<3 {
            let (response, elapsed) = try await running.get()
            Self.expectUnavailable(response, elapsed, "request \(attempt) with PostgreSQL stopped", log: running.api.logTail())
        }
        let ready = try await TestHTTP.request("GET", "\(running.api.baseURL)/readyz")
        #expect(ready.status == 503)
        #expect(try await TestHTTP.request("GET", "\(running.api.baseURL)/healthz").status == 200, "liveness does not depend on PostgreSQL")

        try await running.postgres.restart()
        let recovery = try await running.waitForRecovery(within: .seconds(30))
        print("management-api recovered \(recovery) after PostgreSQL restarted")

        try await running.postgres.stop()
        // Let the breaker open and the pool start failing, as in a real outage.
        try await Task.sleep(for: .seconds(2))
        let start = ContinuousClock.now
        let status = await running.api.stop()
        let took = ContinuousClock.now - start
        #expect(status == 0, "exit status \(status) after SIGTERM with PostgreSQL down:\n\(running.api.logTail())")
        #expect(took < .seconds(10), "SIGTERM took \(took)")
        #expect(!running.api.logTail().contains("Fatal error"))
        print("management-api stopped in \(took) with PostgreSQL down")
        _ = await running.kafka.stop()
    }

    @Test("PostgreSQL frozen (SIGSTOP): a request in flight and new ones get 503 within 5 s; it recovers after SIGCONT")
    func frozen() async throws {
        let running = try await Self.start()
        defer { _ = running.api.stopBlocking() }
        #expect(try await running.get().response.status == 200)

        try await running.postgres.signalAll(SIGSTOP)
        var resumed = false
        defer { if !resumed { Task { try? await running.postgres.signalAll(SIGCONT) } } }
        // Issued at once: these were waiting on the database when the breaker opened.
        async let first = running.get()
        async let second = running.get("/audit")
        let (firstResponse, firstElapsed) = try await first
        let (secondResponse, secondElapsed) = try await second
        Self.expectUnavailable(firstResponse, firstElapsed, "a request in flight with PostgreSQL frozen", log: running.api.logTail())
        Self.expectUnavailable(secondResponse, secondElapsed, "an audit request in flight with PostgreSQL frozen",
            log: running.api.logTail())
        let (response, elapsed) = try await running.get()
        Self.expectUnavailable(response, elapsed, "request after the breaker opened", log: running.api.logTail())

        try await running.postgres.signalAll(SIGCONT)
        resumed = true
        let recovery = try await running.waitForRecovery(within: .seconds(30))
        print("management-api recovered \(recovery) after PostgreSQL resumed")

        // SIGTERM while frozen: the process still exits 0 in bounded time.
        try await running.postgres.signalAll(SIGSTOP)
        resumed = false
        try await Task.sleep(for: .seconds(3))
        let start = ContinuousClock.now
        let status = await running.api.stop()
        let took = ContinuousClock.now - start
        try await running.postgres.signalAll(SIGCONT)
        resumed = true
        #expect(status == 0, "exit status \(status) after SIGTERM with PostgreSQL frozen:\n\(running.api.logTail())")
        #expect(took < .seconds(15), "SIGTERM took \(took)")
        print("management-api stopped in \(took) with PostgreSQL frozen")
        _ = await running.kafka.stop()
    }

    @Test("events-processor: SIGTERM while PostgreSQL is down exits 0")
    func processorStops() async throws {
        let postgres = try PostgresServer.startPrivate()
        let databaseURL = try await postgres.createDatabase(prefix: "outage")
        let kafka = try await DevKafka.start(brokers: 1, topics: ["vane.events.raw:3"])
        let processor = try ServiceProcess("events-processor", environment: [
            "VANE_DATABASE_URL": databaseURL, "VANE_KAFKA_BROKERS": kafka.bootstrapServers, "VANE_LOG_LEVEL": "info",
            "VANE_KAFKA_SESSION_TIMEOUT_SECONDS": "6",
        ])
        defer { _ = processor.stopBlocking() }
        try await processor.waitUntilReady()
        try await postgres.stop()
        // /readyz follows the probe, not the pool (which would wait).
        let deadline = ContinuousClock.now + .seconds(5)
        var ready = 200
        while ContinuousClock.now < deadline {
            ready = try await TestHTTP.request("GET", "\(processor.baseURL)/readyz", timeout: .seconds(5)).status
            if ready == 503 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(ready == 503)
        try await Task.sleep(for: .seconds(2))
        let start = ContinuousClock.now
        let status = await processor.stop()
        let took = ContinuousClock.now - start
        #expect(status == 0, "exit status \(status) after SIGTERM with PostgreSQL down:\n\(processor.logTail())")
        #expect(took < .seconds(25), "SIGTERM took \(took)")
        print("events-processor stopped in \(took) with PostgreSQL down")
        _ = await kafka.stop()
    }
}
