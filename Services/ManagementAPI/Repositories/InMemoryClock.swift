import Foundation

/// Timestamps for the in-memory repositories: each ``next()`` is one millisecond after the previous one, from
/// 2026-01-01T00:00:00Z. Router tests then see distinct, ordered `createdAt`/`updatedAt`/`at` values, so that
/// anything ordered by time (lists, the audit log) is deterministic, however fast the test runs.
struct InMemoryClock: Sendable {
    /// 2026-01-01T00:00:00Z in seconds since 1970.
    private static let epoch: TimeInterval = 1_767_225_600
    private var ticks = 0

    /// The next timestamp, in the API's format (RFC 3339 with milliseconds).
    mutating func next() -> String {
        ticks += 1
        return ISO8601DateFormatter.vaneMilliseconds.string(from: Date(timeIntervalSince1970: Self.epoch + Double(ticks) / 1000))
    }
}
