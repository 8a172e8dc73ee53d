import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceKit
import Synchronization

/// Resolves `Authorization: Bearer <token>` to an ``Identity``. Tokens are stored as SHA-256
/// hashes; resolved hashes are cached briefly so that authentication is not a query per request.
final class TokenAuthenticator: Sendable {
    private struct CachedIdentity {
        var identity: Identity?
        var expires: ContinuousClock.Instant
    }

    private let client: PostgresClient
    private let cache = Mutex<[String: CachedIdentity]>([:])
    /// How long a lookup is trusted. A token deleted through another replica stops working within
    /// this time; deletions through this replica take effect at once.
    private let cacheLifetime: Duration
    private let logger: Logger

    init(client: PostgresClient, cacheLifetime: Duration = .seconds(2), logger: Logger) {
        self.client = client
        self.cacheLifetime = cacheLifetime
        self.logger = logger
    }

    /// The identity of the request's bearer token; 401 when missing or unknown.
    func authenticate(_ request: Request) async throws -> Identity {
        guard let header = request.headers[.authorization] else { throw APIError.unauthorized() }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw APIError.unauthorized("use Authorization: Bearer <token>")
        }
        let hash = Credentials.hash(String(parts[1]))
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[hash] }), cached.expires > now {
            guard let identity = cached.identity else { throw APIError.unauthorized("unknown or revoked token") }
            return identity
        }
        let identity = try await lookup(hash: hash)
        cache.withLock { cache in
            if cache.count > 10_000 { cache.removeAll() }  // bounded: unknown tokens are cached too
            cache[hash] = CachedIdentity(identity: identity, expires: now + cacheLifetime)
        }
        guard let identity else { throw APIError.unauthorized("unknown or revoked token") }
        return identity
    }

    /// Forgets every cached lookup (after a token is deleted).
    func invalidate() {
        cache.withLock { $0.removeAll() }
    }

    private func lookup(hash: String) async throws -> Identity? {
        let rows = try await client.query(
            "SELECT id::text, name, role FROM api_tokens WHERE secret_sha256 = \(hash)", logger: logger)
        for try await (id, name, role) in rows.decode((String, String, String).self) {
            guard let role = Role(rawValue: role) else { return nil }
            return Identity(tokenID: id, name: name, role: role)
        }
        return nil
    }
}
