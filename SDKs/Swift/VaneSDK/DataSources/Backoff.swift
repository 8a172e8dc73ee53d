/// Reconnect delays as LaunchDarkly's SDKs compute them: the n-th consecutive failure waits
/// `min(initial × 2^(n-1), maximum)` minus a random jitter of up to half of it; a connection that
/// stayed healthy for `resetInterval` starts over from `initial`.
struct Backoff: Sendable {
    let initial: Duration
    let maximum: Duration
    let resetInterval: Duration
    private(set) var failures = 0
    private var healthySince: ContinuousClock.Instant?

    init(initial: Duration, maximum: Duration, resetInterval: Duration) {
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.resetInterval = resetInterval
    }

    /// A connection succeeded at `now`.
    mutating func connected(at now: ContinuousClock.Instant) { healthySince = now }

    /// The delay before the next attempt after a failure at `now`; `jitter` in [0, 1).
    mutating func nextDelay(at now: ContinuousClock.Instant, jitter: Double) -> Duration {
        if let since = healthySince, now - since >= resetInterval { failures = 0 }
        healthySince = nil
        failures += 1
        var base = initial
        for _ in 1..<failures {
            base = base * 2
            if base >= maximum {
                base = maximum
                break
            }
        }
        return base - base * (min(max(jitter, 0), 0.999_999) / 2)
    }

    /// The delay with a random jitter.
    mutating func nextDelay(at now: ContinuousClock.Instant = .now) -> Duration {
        nextDelay(at: now, jitter: Double.random(in: 0..<1))
    }
}
