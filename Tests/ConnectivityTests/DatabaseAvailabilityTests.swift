import Foundation
import Logging
import NIOCore
import PostgresNIO
@testable import PostgresSupport
import Testing
import TestSupport

/// The breaker and the request deadline of ``DatabaseAvailability`` on their own (no service
/// process), and which PostgreSQL errors count as "unavailable".
@Suite("Database availability")
struct DatabaseAvailabilityTests {
    static let logger = TestLogger.make("database-availability")

    /// A database nobody listens on: nothing here connects to it unless a test runs the probe.
    static func availability() throws -> DatabaseAvailability {
        DatabaseAvailability(
            database: try DatabaseSettings(url: "postgres://postgres@127.0.0.1:\(try TestPorts.next())/none?sslmode=disable"),
            settings: .init(interval: .milliseconds(100), deadline: .milliseconds(500)), logger: logger)
    }

    @Test("work that ignores cancellation is abandoned at the request timeout")
    func timeout() async throws {
        let availability = try Self.availability()
        let start = ContinuousClock.now
        await #expect(throws: DatabaseAvailability.Interruption.timedOut(.milliseconds(300))) {
            try await availability.run(timeout: .milliseconds(300)) {
                // Like a query on a connection to a frozen server: cancellation does not end it.
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().asyncAfter(deadline: .now() + 30) { continuation.resume() }
                }
            }
        }
        // Well before the work would have ended (generous: other suites may keep the cooperative pool busy).
        #expect(ContinuousClock.now - start < .seconds(15))
    }

    @Test("the breaker opening interrupts work in flight, and new work fails at once while it is open")
    func breaker() async throws {
        let availability = try Self.availability()
        #expect(try await availability.run(timeout: .seconds(5)) { 42 } == 42)
        let start = ContinuousClock.now
        let waiting = Task {
            try await availability.run(timeout: .seconds(30)) {
                try await Task.sleep(for: .seconds(30))
                return 1
            }
        }
        try await Task.sleep(for: .milliseconds(200))
        availability.record("down")
        await #expect(throws: DatabaseAvailability.Interruption.unreachable) { _ = try await waiting.value }
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(!availability.isReachable)
        await #expect(throws: DatabaseAvailability.Interruption.unreachable) { try await availability.run(timeout: .seconds(5)) { 1 } }
        availability.record(nil)
        #expect(try await availability.run(timeout: .seconds(5)) { 7 } == 7)
    }

    @Test("the probe opens the breaker for a port nobody listens on, and closes it when PostgreSQL answers")
    func probe() async throws {
        let down = try Self.availability()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await down.run() }
            // Generous: under a full parallel run the probe task may wait seconds for a thread of the cooperative pool.
            let deadline = ContinuousClock.now + .seconds(30)
            while down.isReachable && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!down.isReachable)
            group.cancelAll()
        }

        let server = try PostgresServer.start()
        let url = try await server.createDatabase(prefix: "probe")
        let up = DatabaseAvailability(
            database: try DatabaseSettings(url: url + "?sslmode=disable"),
            settings: .init(interval: .milliseconds(100), deadline: .seconds(2)),
            logger: Self.logger)
        up.record("pretend it was down")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await up.run() }
            let deadline = ContinuousClock.now + .seconds(30)
            while !up.isReachable && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(up.isReachable)
            group.cancelAll()
        }
    }

    @Test("connection failures, SQLSTATE 08/57P and the pool's breaker are 'unavailable'; a bad query is not")
    func classification() async throws {
        #expect(DatabaseSettings.isUnavailable(DatabaseAvailability.Interruption.unreachable))
        #expect(DatabaseSettings.isUnavailable(ChannelError.ioOnClosedChannel))
        #expect(!DatabaseSettings.isUnavailable(CancellationError()))

        // Nobody listens: a connection error.
        let nowhere = try DatabaseSettings(url: "postgres://postgres@127.0.0.1:\(try TestPorts.next())/none?sslmode=disable")
        do {
            _ = try await PostgresConnection.connect(
                configuration: try nowhere.connectionConfiguration(connectTimeout: .seconds(2)), id: 1, logger: Self.logger)
            Issue.record("connected to a port nobody listens on")
        } catch {
            #expect(DatabaseSettings.isUnavailable(error), "\(String(reflecting: error))")
        }

        let server = try PostgresServer.start()
        let settings = try DatabaseSettings(url: try await server.createDatabase(prefix: "classify") + "?sslmode=disable")
        let connection = try await PostgresConnection.connect(
            configuration: try settings.connectionConfiguration(connectTimeout: .seconds(5)), id: 2, logger: Self.logger)
        do {
            _ = try await connection.query("SELECT * FROM no_such_table", logger: Self.logger)
            Issue.record("the query succeeded")
        } catch {
            #expect(!DatabaseSettings.isUnavailable(error), "\(String(reflecting: error))")
        }
        // The server ends the session: SQLSTATE 57P01 (admin_shutdown), or the closed connection.
        // Bounded: PostgresNIO never answers a query written after the connection closed.
        let outcome = await Deadline.race(.seconds(5)) {
            _ = try await connection.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: Self.logger)
            _ = try await connection.query("SELECT 1", logger: Self.logger)
        }
        switch outcome {
        case .failed(let error): #expect(DatabaseSettings.isUnavailable(error), "\(String(reflecting: error))")
        case .timedOut: #expect(connection.isClosed, "no answer, yet the connection is open")
        case .finished, .interrupted: Issue.record("the terminated session still answered")
        }
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }
}
