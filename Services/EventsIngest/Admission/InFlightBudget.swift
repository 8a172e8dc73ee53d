import Synchronization

/// Bounds the batches held in memory between reading a body and Kafka's acknowledgement: a request
/// reserves its size before its body is read and releases it once answered. When the budget is
/// spent (Kafka slower than the arrival rate), new batches are refused at once with 503 instead of
/// queueing without bound — this is the "producer queue full" condition of the service.
final class InFlightBudget: Sendable {
    struct Usage: Sendable, Equatable {
        var batches = 0
        var bytes = 0
    }

    let maximumBatches: Int
    let maximumBytes: Int
    private let usage = Mutex(Usage())

    init(maximumBatches: Int, maximumBytes: Int) {
        self.maximumBatches = maximumBatches
        self.maximumBytes = maximumBytes
    }

    /// Reserves one batch of `bytes`; false when that would exceed the budget.
    func reserve(bytes: Int) -> Bool {
        usage.withLock { usage in
            guard usage.batches < maximumBatches, usage.bytes + bytes <= maximumBytes else { return false }
            usage.batches += 1
            usage.bytes += bytes
            return true
        }
    }

    /// Changes a reservation of `from` bytes to `to` bytes (once the body's real size is known); false,
    /// leaving the reservation as it was, when growing it would exceed the budget.
    func resize(from: Int, to: Int) -> Bool {
        usage.withLock { usage in
            guard to <= from || usage.bytes - from + to <= maximumBytes else { return false }
            usage.bytes += to - from
            return true
        }
    }

    /// Returns a reservation of `bytes`.
    func release(bytes: Int) {
        usage.withLock { usage in
            usage.batches -= 1
            usage.bytes -= bytes
        }
    }

    var current: Usage { usage.withLock { $0 } }
}
