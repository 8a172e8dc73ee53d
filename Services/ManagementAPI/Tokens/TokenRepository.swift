import Foundation
import Synchronization

/// Why a token repository refused: its own errors, which ``TokensController`` answers as HTTP.
enum TokenRepositoryError: Error, Sendable, Equatable {
    /// No token has this id.
    case notFound(UUID)
}

/// Where API tokens live. Secrets are generated here and only their SHA-256 is kept; every mutation is audited.
protocol TokenRepository: Sendable {
    /// Creates a token for `draft`, recorded as created by `actor`; the answer carries the secret, once.
    func create(_ draft: TokenDraft, actor: Identity) async throws -> CreatedToken
    /// Every token, oldest first (by creation, then name).
    func list() async throws -> [APIToken]
    /// Revokes a token; ``TokenRepositoryError/notFound(_:)`` if there is none.
    func delete(id: UUID, actor: Identity) async throws
}

/// Tokens in memory, for fast tests of the routes and validation (no audit log: that is the SQL repository's job).
final class InMemoryTokenRepository: TokenRepository {
    private struct State {
        var tokens: [APIToken] = []
        var clock = InMemoryClock()
    }

    private let state = Mutex(State())

    init() {}

    func create(_ draft: TokenDraft, actor: Identity) async throws -> CreatedToken {
        state.withLock { state in
            let createdAt = state.clock.next()
            let token = APIToken(
                id: UUID().uuidString.lowercased(), name: draft.name, role: draft.role, createdAt: createdAt, createdBy: actor.actor)
            state.tokens.append(token)
            return CreatedToken(token: token, secret: Identifiers.apiToken())
        }
    }

    func list() async throws -> [APIToken] {
        state.withLock { $0.tokens.sorted { ($0.createdAt, $0.name) < ($1.createdAt, $1.name) } }
    }

    func delete(id: UUID, actor: Identity) async throws {
        try state.withLock { state throws(TokenRepositoryError) in
            let text = id.uuidString.lowercased()
            guard let index = state.tokens.firstIndex(where: { $0.id == text }) else { throw .notFound(id) }
            state.tokens.remove(at: index)
        }
    }
}

extension ISO8601DateFormatter {
    /// `2026-11-22T00:27:09.828Z`, the API's time format.
    static var vaneMilliseconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter
    }
}
