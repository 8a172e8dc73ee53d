import Hummingbird
import Logging
import PostgresNIO
import ServiceKit
import ServiceLifecycle
import Synchronization

/// Whether PostgreSQL answers, probed once a second with a short deadline.
///
/// While the database is down, PostgresNIO's pool holds each request until its connection attempts
/// give up, which takes tens of seconds; clients and load balancers are better served by an
/// immediate 503 (and `/readyz` says the same).
final class DatabaseHealth: Service, Sendable {
    private let client: PostgresClient
    private let logger: Logger
    private let interval: Duration
    private let deadline: Duration
    private let reachable = Atomic<Bool>(true)

    init(client: PostgresClient, interval: Duration = .seconds(1), deadline: Duration = .seconds(2), logger: Logger) {
        self.client = client
        self.interval = interval
        self.deadline = deadline
        self.logger = logger
    }

    /// False once a probe failed, until one succeeds.
    var isReachable: Bool { reachable.load(ordering: .relaxed) }

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let ok = await probe()
            let was = reachable.exchange(ok, ordering: .relaxed)
            if was != ok {
                if ok { logger.notice("PostgreSQL is reachable again") } else { logger.error("PostgreSQL is unreachable; answering 503") }
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func probe() async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { [client, logger] in
                (try? await client.query("SELECT 1", logger: logger)) != nil
            }
            group.addTask { [deadline] in
                try? await Task.sleep(for: deadline)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// Answers 503 at once while ``DatabaseHealth`` says PostgreSQL is down, and turns connection
/// failures that happen anyway into 503 rather than 500.
struct DatabaseAvailabilityMiddleware<Context: RequestContext>: RouterMiddleware {
    let health: DatabaseHealth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard health.isReachable else { throw Self.unavailable }
        do {
            return try await next(request, context)
        } catch let error as PSQLError where [.connectionError, .serverClosedConnection, .clientClosedConnection].contains(error.code) {
            throw Self.unavailable
        } catch where String(reflecting: type(of: error)).contains("ConnectionPoolError") {
            // The pool's error type lives in a module PostgresNIO does not re-export.
            throw Self.unavailable
        }
    }

    private static var unavailable: APIError { .serviceUnavailable("PostgreSQL is unreachable; try again shortly", retryAfterSeconds: 5) }
}
