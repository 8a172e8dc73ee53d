import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Whether PostgreSQL answers: a fast-fail circuit breaker for request handlers.
///
/// While the database is down, PostgresNIO's pool holds each request until its connection attempts
/// give up (tens of seconds), and a query on a connection whose server hangs never returns. So a
/// probe runs `SELECT 1` every ``Settings/interval`` on a connection of its own, outside the pool
/// (a pool that is itself waiting cannot tell), with a deadline of ``Settings/deadline``; one failed
/// probe opens the breaker, and the first probe that succeeds closes it again. Request handlers ask
/// ``isReachable`` before touching the database and answer 503 at once while it is false, and
/// requests already waiting are abandoned when the breaker opens (``run(timeout:_:)``).
public final class DatabaseAvailability: Service, Sendable {
    /// How often and how patiently the database is probed.
    public struct Settings: Sendable {
        /// Time between the end of one probe and the start of the next.
        public var interval: Duration = .milliseconds(500)
        /// A probe that has not answered within this (connecting included) counts as a failure.
        public var deadline: Duration = .seconds(2)

        public init(interval: Duration = .milliseconds(500), deadline: Duration = .seconds(2)) {
            self.interval = interval
            self.deadline = deadline
        }
    }

    private let database: DatabaseSettings
    private let settings: Settings
    private let logger: Logger
    private let reachable = Atomic<Bool>(true)
    /// The probe's own connection, kept between probes; closed (and made again) after a failure.
    private let connection = Mutex<PostgresConnection?>(nil)
    /// Waiters for the breaker to open (see ``waitUntilUnreachable()``).
    private let waiters = Mutex<[Int: CheckedContinuation<Void, Never>]>([:])
    private let nextWaiter = Atomic<Int>(0)

    public init(database: DatabaseSettings, settings: Settings = Settings(), logger: Logger) {
        self.database = database
        self.settings = settings
        self.logger = logger
    }

    /// False from the first failed probe until one succeeds.
    public var isReachable: Bool { reachable.load(ordering: .relaxed) }

    /// Probes until graceful shutdown or cancellation (both end it within one probe deadline).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let failure = await self.probe()
                self.record(failure)
                try? await Task.sleep(for: self.settings.interval)
            }
        }
        // Not awaited: closing a connection to a frozen server waits for an answer that never comes.
        closeConnection()
    }

    /// Records one probe's outcome; logs a change, and wakes the waiters when the breaker opens.
    func record(_ failure: String?) {
        let ok = failure == nil
        let was = reachable.exchange(ok, ordering: .relaxed)
        guard was != ok else { return }
        if ok {
            logger.notice("PostgreSQL is reachable again")
        } else {
            logger.error("PostgreSQL is unreachable; answering 503", metadata: ["error": "\(failure ?? "")"])
            let woken = waiters.withLock { waiting in
                defer { waiting.removeAll() }
                return Array(waiting.values)
            }
            for waiter in woken { waiter.resume() }
        }
    }

    /// nil when `SELECT 1` answered within the deadline, else why not.
    private func probe() async -> String? {
        let outcome = await Deadline.race(settings.deadline) { [self] in
            let current = try await self.openConnection()
            _ = try await current.query("SELECT 1", logger: self.logger)
        }
        switch outcome {
        case .finished:
            return nil
        case .failed(let error):
            closeConnection()
            return database.explain(error).message
        case .timedOut:
            // Closing the channel fails the query still waiting, so the abandoned probe ends too.
            closeConnection()
            return "no answer to SELECT 1 within \(settings.deadline)"
        case .interrupted:
            // The service is stopping; not a verdict on the database.
            return isReachable ? nil : "stopping"
        }
    }

    private func openConnection() async throws -> PostgresConnection {
        if let current = connection.withLock({ $0 }), !current.isClosed { return current }
        var configuration = try database.connectionConfiguration(connectTimeout: settings.deadline)
        configuration.options.additionalStartupParameters.append(("application_name", "vane-availability-probe"))
        let opened = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        let previous = connection.withLock { current in
            defer { current = opened }
            return current
        }
        if let previous { try? await previous.close() }
        return opened
    }

    private func closeConnection() {
        let open = connection.withLock { current in
            defer { current = nil }
            return current
        }
        // The probe does not wait for the close, but the connection is kept until it completed:
        // the abandoned probe may drop its reference first, and a connection must not be
        // deinitialized open.
        if let open { open.close().whenComplete { _ in withExtendedLifetime(open) {} } }
    }

    /// Returns once the breaker opens (at once if it is open), or when the task is cancelled.
    public func waitUntilUnreachable() async {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiters.withLock { waiting in
                    if !isReachable || Task.isCancelled { return true }
                    waiting[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            waiters.withLock { $0.removeValue(forKey: id) }?.resume()
        }
    }

    /// Why a request did not get its database work done.
    public enum Interruption: Error, Sendable, Equatable {
        /// The breaker is (or went) open.
        case unreachable
        /// The work took longer than the request timeout.
        case timedOut(Duration)
    }

    /// Runs `work` unless the breaker is open, and gives up on it when the breaker opens or
    /// `timeout` passes, whichever comes first: the caller gets ``Interruption`` at once, and `work`
    /// is cancelled and left to finish in the background (a query on a connection to a hung server
    /// ends only when that connection is closed).
    public func run<T: Sendable>(timeout: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        guard isReachable else { throw Interruption.unreachable }
        let outcome = await Deadline.race(timeout, interruptedBy: { await self.waitUntilUnreachable() }, work)
        switch outcome {
        case .finished(let value): return value
        case .failed(let error): throw error
        case .timedOut: throw Interruption.timedOut(timeout)
        case .interrupted: throw Interruption.unreachable
        }
    }
}

/// Races a piece of work against a deadline without waiting for the work once it lost: unlike a
/// task group, which awaits every child, the loser is cancelled and abandoned.
enum Deadline {
    enum Outcome<T: Sendable>: Sendable {
        case finished(T)
        case failed(any Error)
        case timedOut
        /// The interruption returned first, or the caller was cancelled.
        case interrupted
    }

    /// The first outcome wins; every task of the race is cancelled then.
    private final class Race<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Outcome<T>, Never>?
            var outcome: Outcome<T>?
            var tasks: [Task<Void, Never>] = []
        }

        private let state = Mutex(State())

        func finish(_ outcome: Outcome<T>) {
            let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<Outcome<T>, Never>?, [Task<Void, Never>]) in
                guard state.outcome == nil else { return (nil, []) }
                state.outcome = outcome
                defer { state.continuation = nil }
                return (state.continuation, state.tasks)
            }
            continuation?.resume(returning: outcome)
            for task in tasks { task.cancel() }
        }

        func wait(starting start: () -> [Task<Void, Never>]) async -> Outcome<T> {
            await withCheckedContinuation { continuation in
                // The caller may have been cancelled already (then the outcome is set).
                let early = state.withLock { state -> Outcome<T>? in
                    if let outcome = state.outcome { return outcome }
                    state.continuation = continuation
                    return nil
                }
                if let early {
                    continuation.resume(returning: early)
                    return
                }
                let tasks = start()
                let finished = state.withLock { state in
                    state.tasks = tasks
                    return state.outcome != nil
                }
                if finished { for task in tasks { task.cancel() } }
            }
        }
    }

    static func race<T: Sendable>(
        _ deadline: Duration, interruptedBy interruption: (@Sendable () async -> Void)? = nil,
        _ work: @escaping @Sendable () async throws -> T
    ) async -> Outcome<T> {
        let race = Race<T>()
        return await withTaskCancellationHandler {
            await race.wait {
                var tasks = [
                    Task {
                        do { race.finish(.finished(try await work())) } catch { race.finish(.failed(error)) }
                    },
                    Task {
                        try? await Task.sleep(for: deadline)
                        if !Task.isCancelled { race.finish(.timedOut) }
                    },
                ]
                if let interruption {
                    tasks.append(Task {
                        await interruption()
                        if !Task.isCancelled { race.finish(.interrupted) }
                    })
                }
                return tasks
            }
        } onCancel: {
            race.finish(.interrupted)
        }
    }
}

extension DatabaseSettings {
    /// One connection's configuration with the pool's TLS and start-up parameters.
    public func connectionConfiguration(connectTimeout: Duration) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: .disable)
        configuration.tls = try connectionTLS()
        configuration.options.connectTimeout = TimeAmount.nanoseconds(
            connectTimeout.components.seconds * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000)
        let pool = clientConfiguration(maximumConnections: 1)
        configuration.options.additionalStartupParameters = pool.options.additionalStartupParameters
        return configuration
    }
}

extension DatabaseSettings {
    /// Whether `error` says that PostgreSQL is unavailable rather than that the request was wrong:
    /// no connection (refused, closed, timed out, the pool's breaker), or SQLSTATE class 08
    /// (connection exception), 57P (shutting down, starting up, crash recovery) or 53300 (too
    /// many connections). Services answer these with 503 instead of 500.
    public static func isUnavailable(_ error: any Error) -> Bool {
        switch error {
        case is DatabaseAvailability.Interruption:
            return true
        case let transaction as PostgresTransactionError:
            return [transaction.beginError, transaction.closureError, transaction.commitError]
                .contains { $0.map(isUnavailable) ?? false }
        case let psql as PSQLError:
            if [.connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed].contains(psql.code) {
                return true
            }
            guard let state = psql.serverInfo?[.sqlState] else { return false }
            return state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300"
        case is ChannelError:
            return true
        default:
            // The pool's error type lives in a module PostgresNIO does not re-export.
            return String(reflecting: type(of: error)).contains("ConnectionPoolError")
        }
    }
}
