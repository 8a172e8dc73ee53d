import Foundation
import Logging
import PostgresNIO

/// Why one connection to PostgreSQL failed, in words an operator can act on.
///
/// PostgresNIO deliberately prints every `PSQLError` as a generic sentence, and its pool reports
/// repeated failures only as a tripped circuit breaker, so a refused certificate would otherwise
/// show up as "PSQLError – Generic description…" or not at all.
public struct DatabaseConnectionError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The server's certificate did not pass the checks `sslmode` asks for. Retrying cannot help.
        case certificateRejected
        /// The server does not offer TLS, and `sslmode` requires it. Retrying cannot help.
        case tlsUnavailable
        /// Anything else: unreachable, authentication, a timeout.
        case other
    }

    public var kind: Kind
    public var message: String
    public var description: String { message }

    /// Whether the failure comes from the TLS settings (or the server's certificate) and will not
    /// go away by retrying.
    public var isPermanent: Bool { kind != .other }
}

extension DatabaseSettings {
    /// Opens one connection with exactly the pool's settings, runs `SELECT 1`, and closes it.
    ///
    /// - Throws: ``DatabaseConnectionError`` explaining the failure (the host name a certificate
    ///   does not carry, the CA it does not chain to, the TLS the server lacks).
    public func checkConnection(logger: Logger, timeout: Duration = .seconds(10)) async throws(DatabaseConnectionError) {
        do {
            let configuration = try connectionConfiguration(connectTimeout: timeout)
            let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
            do {
                _ = try await connection.query("SELECT 1", logger: logger)
                try await connection.close()
            } catch {
                try? await connection.close()
                throw error
            }
        } catch {
            throw explain(error)
        }
    }

    /// The connection-level TLS setting matching the pool's.
    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch tlsNegotiation {
        case .disable: return .disable
        case .prefer(let tls): return .prefer(try NIOSSLContext(configuration: tls))
        case .require(let tls): return .require(try NIOSSLContext(configuration: tls))
        }
    }

    /// Turns PostgresNIO's and NIOSSL's errors into a ``DatabaseConnectionError``.
    public func explain(_ error: any Error) -> DatabaseConnectionError {
        let details = String(reflecting: error)
        let target = "\(host):\(port)"
        if details.contains("failedToValidateHostname") {
            return DatabaseConnectionError(
                kind: .certificateRejected,
                message: "PostgreSQL at \(target): the server's TLS certificate does not name \(host)"
                    + " (sslmode=verify-full checks the host name; connect by a name the certificate carries)")
        }
        if details.contains("CERTIFICATE_VERIFY_FAILED") || details.contains("certificate verify failed") {
            let root: String =
                switch rootCertificate {
                case .file(let path): "the CA certificates in \(path)"
                case .system: "the system's trusted CAs"
                case nil: "the configured CA"
                }
            return DatabaseConnectionError(
                kind: .certificateRejected,
                message: "PostgreSQL at \(target): the server's TLS certificate is not signed by \(root)"
                    + " (sslmode=\(sslMode.rawValue)) or is not valid now")
        }
        if let psql = error as? PSQLError, psql.code == .sslUnsupported {
            return DatabaseConnectionError(
                kind: .tlsUnavailable,
                message: "PostgreSQL at \(target) does not offer TLS, and sslmode=\(sslMode.rawValue) requires it")
        }
        if details.contains("handshakeFailed") {
            return DatabaseConnectionError(
                kind: .certificateRejected, message: "PostgreSQL at \(target): the TLS handshake failed: \(details)")
        }
        return DatabaseConnectionError(kind: .other, message: "PostgreSQL at \(target): \(details)")
    }
}

extension DatabaseSettings {
    /// The start-up check of management-api and events-processor: one connection with the pool's
    /// settings. A certificate the TLS settings reject (or TLS the server lacks) stops the start
    /// with a clear message: retrying cannot fix it, and running on would only show a database
    /// that is "unreachable". Any other failure (the database still starting, a network blip) is
    /// logged and left to the pool, which keeps retrying.
    public func checkAtStart(logger: Logger) async throws(DatabaseConnectionError) {
        do {
            try await checkConnection(logger: logger, timeout: .seconds(5))
            logger.info("PostgreSQL connection checked", metadata: ["database": "\(self)"])
        } catch where error.isPermanent {
            logger.critical("cannot use PostgreSQL", metadata: ["error": "\(error.message)"])
            throw error
        } catch {
            logger.warning("PostgreSQL is not reachable yet; continuing, the pool keeps retrying", metadata: ["error": "\(error.message)"])
        }
    }
}
