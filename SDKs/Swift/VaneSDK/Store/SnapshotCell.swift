import Synchronization

/// The current value of something readers take very often and writers replace rarely (the flag
/// snapshot), read-copy-update style: a reader does one atomic load of an unretained reference
/// and uses the object in place, with no lock, no reference counting and no actor hop; a writer
/// swaps in a new object.
///
/// A replaced object cannot be released at once, since a reader may have just loaded it. It is
/// retired and released only once it has been retired for `gracePeriod` (60 s): an evaluation
/// takes microseconds, so a reader would have to be descheduled inside one for a minute to see a
/// released object. Retired objects are released when a later value is published (and on deinit),
/// so memory holds at most the snapshots published within one grace period.
final class SnapshotCell<Value: AnyObject & Sendable>: @unchecked Sendable {
    // @unchecked: `Unmanaged` is not Sendable; the cell owns one retain of `current` and of every
    // retired object, and only `publish` (serialized by `retired`'s lock) changes either.
    private let current: Atomic<Unmanaged<Value>>
    private let retired = Mutex<[(object: Unmanaged<Value>, since: ContinuousClock.Instant)]>([])
    private let gracePeriod: Duration

    init(_ initial: Value, gracePeriod: Duration = .seconds(60)) {
        current = Atomic(Unmanaged.passRetained(initial))
        self.gracePeriod = gracePeriod
    }

    deinit {
        current.load(ordering: .acquiring).release()
        retired.withLock { list in
            for entry in list { entry.object.release() }
        }
    }

    /// Runs `body` with the current value: one acquiring atomic load, no retain.
    @inline(__always)
    func withCurrent<Result>(_ body: (Value) throws -> Result) rethrows -> Result {
        try current.load(ordering: .acquiring)._withUnsafeGuaranteedRef(body)
    }

    /// The current value, retained (for writers and slow paths).
    var value: Value { current.load(ordering: .acquiring).takeUnretainedValue() }

    /// Makes `value` current and retires the previous one.
    func publish(_ value: Value) {
        let now = ContinuousClock.now
        retired.withLock { list in
            let old = current.exchange(Unmanaged.passRetained(value), ordering: .acquiringAndReleasing)
            list.append((old, now))
            while let first = list.first, now - first.since >= gracePeriod {
                first.object.release()
                list.removeFirst()
            }
        }
    }

    /// Retired values not yet released (for tests).
    var retiredCount: Int { retired.withLock { $0.count } }
}
