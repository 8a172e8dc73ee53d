import Logging
import PostgresNIO
import PostgresSupport

/// A PostgreSQL connection of finalization's own, outside the pool, for reads that run alongside the statements of
/// its transaction (the final goal rows are loaded here while the final exposures load on the transaction's
/// connection).
///
/// Why not a second pooled connection: finalization holds the correlation lock while it would wait for one, and the
/// pool's other connections can all be held by transactions that wait for that lock (a rewind holds the commit lock
/// and waits for the correlation lock, a chunk commit waits behind the rewind, pruning waits for the correlation lock):
/// a deadlock PostgreSQL cannot see. This connection is used only by the holder of the correlation lock, so it is
/// never waited for by anything else.
///
/// It is opened on first use and dropped (closed) after any error, so the next round opens a new one. Reads on it are
/// not part of finalization's transaction; they run after the transaction took the correlation lock, so they see
/// every change to final rows committed before (final rows change under that lock alone). `lock_timeout` bounds the
/// one wait PostgreSQL could not resolve: a schema migration queued for `ACCESS EXCLUSIVE` on a table this connection
/// reads while it also waits for finalization's transaction (a deadlock across the two connections, invisible to
/// PostgreSQL's detector); the round then fails and is retried, instead of hanging.
actor FinalizationConnection {
    private let database: DatabaseSettings
    private let logger: Logger
    private var connection: PostgresConnection?
    private var closed = false

    /// The connection was closed for good (the processor is stopping).
    struct Closed: Error {}

    /// Session settings of the connection: no JIT (like finalization's transaction: its history loads are index
    /// probes whose estimated costs cross `jit_above_cost`), and the lock wait bound explained above.
    static let sessionSettings: PostgresQuery =
        "SELECT set_config('jit', 'off', false), set_config('lock_timeout', '10s', false)"

    init(database: DatabaseSettings, logger: Logger) {
        self.database = database
        self.logger = logger
    }

    /// Runs `body` on the connection, opening it first if needed; after an error the connection is closed, so that a
    /// broken connection is replaced by the next call.
    func run<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let connection = try await open()
        do {
            return try await body(connection)
        } catch {
            if self.connection === connection { self.connection = nil }
            try? await connection.close()
            throw error
        }
    }

    /// Closes the connection, if open; later calls of ``run(_:)`` fail.
    func close() async {
        closed = true
        if let connection {
            self.connection = nil
            try? await connection.close()
        }
    }

    private func open() async throws -> PostgresConnection {
        guard !closed else { throw Closed() }
        if let connection, !connection.isClosed { return connection }
        if let stale = connection {
            connection = nil
            try? await stale.close()
        }
        let configuration = try database.connectionConfiguration(connectTimeout: .seconds(10))
        let opened = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
        do {
            try await opened.query(Self.sessionSettings, logger: logger)
        } catch {
            try? await opened.close()
            throw error
        }
        // Another call may have opened one meanwhile (the actor is reentrant across these awaits), or close() run.
        if closed || (connection.map { !$0.isClosed } ?? false) {
            try? await opened.close()
            if closed { throw Closed() }
            return connection!
        }
        connection = opened
        return opened
    }
}
