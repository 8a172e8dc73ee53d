import Foundation
import PostgresNIO
import ServiceKit

/// PostgreSQL connection settings from a `postgres://user:password@host:port/database` URL
/// (`VANE_DATABASE_URL`; management-api and events-processor share one database).
public struct DatabaseSettings: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var requireTLS: Bool

    /// Parses the URL; `sslmode=require` asks for TLS. `nil` when it is not a PostgreSQL URL.
    public init?(url text: String) {
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

    /// The client configuration for a pool of at most `maximumConnections`, keeping
    /// `minimumConnections` open (so that the first requests after a quiet period do not pay for
    /// connecting).
    public func clientConfiguration(maximumConnections: Int, minimumConnections: Int = 1) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(minimumConnections, maximumConnections)
        return configuration
    }

    /// The URL without the password, for logs.
    public var description: String { "postgres://\(username)@\(host):\(port)/\(database)" }
}

extension ServiceEnvironment {
    /// `VANE_DATABASE_URL` (required). A missing or malformed URL is reported as a problem and a
    /// placeholder is returned, so that every other setting is still checked before start fails.
    public mutating func databaseSettings() -> DatabaseSettings {
        let hint = "postgres://user:password@host:5432/database"
        let url = requiredString("VANE_DATABASE_URL", hint: hint)
        if let settings = DatabaseSettings(url: url) { return settings }
        if !url.isEmpty { report("VANE_DATABASE_URL", "must look like \(hint)") }
        return DatabaseSettings(url: "postgres://invalid@localhost/invalid")!
    }
}
