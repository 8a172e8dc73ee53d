import Foundation
import PostgresNIO

/// PostgreSQL connection settings from a `postgres://user:password@host:port/database` URL
/// (the same format as management-api's `VANE_DATABASE_URL`; both use one database).
struct DatabaseSettings: Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String
    var requireTLS: Bool

    /// Parses `VANE_DATABASE_URL`; `sslmode=require` asks for TLS.
    init?(url text: String) {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
            let host = url.host, !host.isEmpty
        else { return nil }
        self.host = host
        port = url.port ?? 5432
        username = url.user ?? "postgres"
        password = url.password
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? username : path
        requireTLS = url.queryItems?.contains { $0.name == "sslmode" && $0.value == "require" } ?? false
    }

    func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = 1
        return configuration
    }

    /// The URL without the password, for logs.
    var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}
