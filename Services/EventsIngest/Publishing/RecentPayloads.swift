import Synchronization

/// The payload ids this instance published recently, so that an SDK retrying a batch whose 202 it
/// never saw (same `X-LaunchDarkly-Payload-ID`) gets 202 without a second record.
///
/// A retry that arrives while the first attempt is still waiting for Kafka waits for that attempt:
/// if it was accepted the retry is a duplicate, otherwise the retry publishes. The events-processor
/// still deduplicates (retries can reach another instance, or come after the window); this only
/// keeps duplicates off the topic in the common case. Bounded by `capacity` and `window`.
final class RecentPayloads: Sendable {
    /// What a request should do with its batch.
    enum Claim: Sendable, Equatable {
        /// Publish it, then call ``finish(_:accepted:now:)``.
        case publish
        /// An earlier request with the same id was accepted: answer 202, publish nothing.
        case duplicate
    }

    private enum Entry {
        case inFlight([CheckedContinuation<Bool, Never>])
        case accepted(at: Int)
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Accepted ids in acceptance order (a ring: `head` is the oldest).
        var order: [(key: String, at: Int)] = []
        var head = 0

        var acceptedCount: Int { order.count - head }

        mutating func evict(now: Int, window: Int, capacity: Int) {
            while head < order.count, acceptedCount > capacity || order[head].at <= now - window {
                let oldest = order[head]
                if case .accepted(let at)? = entries[oldest.key], at == oldest.at { entries[oldest.key] = nil }
                head += 1
            }
            // Compact once the dead prefix dominates, so memory follows the live entries.
            if head > 1024, head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
        }
    }

    let capacity: Int
    /// How long an accepted id is remembered, in milliseconds.
    let window: Int
    private let state = Mutex(State())

    init(capacity: Int, windowMilliseconds: Int) {
        self.capacity = capacity
        self.window = windowMilliseconds
    }

    /// Decides whether the batch `key` (environment and payload id) must be published; may wait for
    /// an attempt with the same key that is in flight.
    func claim(_ key: String, now: Int) async -> Claim {
        enum Step { case publish, duplicate, wait }
        while true {
            let step: Step = state.withLock { state in
                state.evict(now: now, window: window, capacity: capacity)
                switch state.entries[key] {
                case nil:
                    state.entries[key] = .inFlight([])
                    return .publish
                case .accepted?: return .duplicate
                case .inFlight?: return .wait
                }
            }
            switch step {
            case .publish: return .publish
            case .duplicate: return .duplicate
            case .wait:
                let firstAccepted = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let settled: Bool? = state.withLock { state in
                        switch state.entries[key] {
                        case .inFlight(var waiters)?:
                            waiters.append(continuation)
                            state.entries[key] = .inFlight(waiters)
                            return nil
                        case .accepted?: return true
                        case nil: return false
                        }
                    }
                    if let settled { continuation.resume(returning: settled) }
                }
                if firstAccepted { return .duplicate }
            }
        }
    }

    /// Ends a ``Claim/publish``: remembers the id if Kafka accepted the batch, forgets it otherwise
    /// (so a retry publishes), and releases requests waiting for the outcome.
    func finish(_ key: String, accepted: Bool, now: Int) {
        let waiters: [CheckedContinuation<Bool, Never>] = state.withLock { state in
            guard case .inFlight(let waiters)? = state.entries[key] else { return [] }
            if accepted {
                state.entries[key] = .accepted(at: now)
                state.order.append((key, now))
                state.evict(now: now, window: window, capacity: capacity)
            } else {
                state.entries[key] = nil
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: accepted) }
    }

    /// Ids currently remembered as accepted.
    var acceptedCount: Int { state.withLock { $0.acceptedCount } }
}
