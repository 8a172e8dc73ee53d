import Synchronization

/// A token bucket per environment: at most `batchesPerSecond` batches on average, with bursts of
/// `burst`. Off by default (see `IngestSettings`); a refused batch is answered 429, which SDKs
/// treat as recoverable (retry once, keep sending later).
final class EnvironmentRateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedAt: ContinuousClock.Instant
    }

    let batchesPerSecond: Double
    let burst: Double
    private let buckets = Mutex<[String: Bucket]>([:])

    /// - Parameters:
    ///   - batchesPerSecond: Sustained rate per environment; must be positive.
    ///   - burst: Bucket capacity (batches accepted at once after an idle period); at least 1.
    init(batchesPerSecond: Double, burst: Int) {
        precondition(batchesPerSecond > 0 && burst >= 1)
        self.batchesPerSecond = batchesPerSecond
        self.burst = Double(burst)
    }

    /// Takes one token for `environmentID`; nil when allowed, else the seconds until a token is
    /// available (for `Retry-After`, at least 1).
    func acquire(environmentID: String, now: ContinuousClock.Instant = .now) -> Int? {
        buckets.withLock { buckets in
            var bucket = buckets[environmentID] ?? Bucket(tokens: burst, updatedAt: now)
            let elapsed = now - bucket.updatedAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * batchesPerSecond)
            bucket.updatedAt = now
            defer { buckets[environmentID] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / batchesPerSecond).rounded(.up)))
        }
    }
}
