import Synchronization

/// Matches librdkafka delivery reports to the sends waiting for them.
///
/// Each produced message carries a 64-bit opaque. A single send uses a sequence number below
/// 2^63. A message of a batch send sets the top bit and packs the batch id and the message's index
/// in the batch, so a batch of thousands of records needs one table entry and one continuation,
/// not one per record.
///
/// Delivery reports are applied on librdkafka's background thread (see `KafkaProducer`). One lock
/// acquisition covers all reports of one event; continuations are resumed after unlocking.
final class DeliveryTracker: Sendable {
    typealias Outcome = Result<KafkaDeliveryReport, KafkaError>

    /// What librdkafka told us about one message, before it is matched to a topic name.
    struct RawReport {
        var opaque: UInt64
        var error: KafkaError?
        var partition: Int32
        var offset: Int64
        var timestamp: KafkaTimestamp?
    }

    static let batchFlag: UInt64 = 1 << 63
    static let batchIndexBits: UInt64 = 24
    static let maximumBatchCount = 1 << 24

    private enum SingleState {
        case awaiting(UnsafeContinuation<Outcome, Never>?)
        case completed(Outcome)
    }

    private struct Single {
        var topic: String
        var state: SingleState
    }

    private struct Batch {
        /// The caller's records (shared, not copied), for the topic names of reports.
        var records: [KafkaRecord]
        /// Pre-filled so the finished array is handed over without another pass; `filled` tells
        /// which entries are real.
        var results: [Outcome]
        var filled: [Bool]
        var remaining: Int
        var continuation: UnsafeContinuation<[Outcome], Never>?
    }

    // A small-string message: copying the placeholder into thousands of slots must not retain.
    private static let placeholder: Outcome = .failure(KafkaError(code: .unknown, message: "no report"))

    private struct State {
        var nextSingleID: UInt64 = 1
        var nextBatchID: UInt64 = 1
        var singles: [UInt64: Single] = [:]
        var batches: [UInt64: Batch] = [:]
        var isAcceptingSends = true
    }

    private let state = Mutex(State())
    /// Delivery-report events taken from librdkafka but not yet applied (see `beginDelivery`).
    private let deliveriesInProgress = Atomic<Int>(0)

    // MARK: Single sends

    /// Reserves an opaque for a single send; `nil` once the producer stopped accepting sends.
    func registerSingle(topic: String) -> UInt64? {
        self.state.withLock { state in
            guard state.isAcceptingSends else { return nil }
            let id = state.nextSingleID
            state.nextSingleID += 1
            state.singles[id] = Single(topic: topic, state: .awaiting(nil))
            return id
        }
    }

    /// Waits for the report of a message that was enqueued with `id`. The report may already be
    /// there: librdkafka can deliver before `produceva` returns.
    func awaitSingle(_ id: UInt64) async -> Outcome {
        await withUnsafeContinuation { continuation in
            let ready: Outcome? = self.state.withLock { state in
                guard let single = state.singles[id] else {
                    return .failure(KafkaError(code: .shutdown, message: "delivery state lost"))
                }
                if case .completed(let outcome) = single.state {
                    state.singles[id] = nil
                    return outcome
                }
                state.singles[id]!.state = .awaiting(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Forgets a send whose message never reached librdkafka.
    func cancelSingle(_ id: UInt64) {
        _ = self.state.withLock { $0.singles.removeValue(forKey: id) }
    }

    // MARK: Batch sends

    /// Reserves a batch; `nil` once the producer stopped accepting sends.
    func registerBatch(_ records: [KafkaRecord]) -> UInt64? {
        precondition(records.count < Self.maximumBatchCount)
        return self.state.withLock { state in
            guard state.isAcceptingSends else { return nil }
            let id = state.nextBatchID
            state.nextBatchID += 1
            state.batches[id] = Batch(
                records: records, results: Array(repeating: Self.placeholder, count: records.count),
                filled: Array(repeating: false, count: records.count), remaining: records.count)
            return id
        }
    }

    static func opaque(batch: UInt64, index: Int) -> UInt64 {
        Self.batchFlag | (batch << Self.batchIndexBits) | UInt64(index)
    }

    /// Records the outcome of one batch message that failed before reaching librdkafka.
    func failBatchEntry(batch: UInt64, index: Int, error: KafkaError) {
        let resume = self.state.withLock { state in
            Self.complete(&state, batch: batch, index: index, outcome: .failure(error))
        }
        resume?()
    }

    /// Waits until every message of the batch has a report.
    func awaitBatch(_ id: UInt64) async -> [Outcome] {
        await withUnsafeContinuation { continuation in
            let ready: [Outcome]? = self.state.withLock { state in
                guard let batch = state.batches[id] else { return [] }
                if batch.remaining == 0 {
                    state.batches[id] = nil
                    return batch.results
                }
                state.batches[id]!.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private static func complete(_ state: inout State, batch: UInt64, index: Int, outcome: Outcome) -> (() -> Void)? {
        guard var entry = state.batches.removeValue(forKey: batch) else { return nil }
        if !entry.filled[index] {
            entry.filled[index] = true
            entry.results[index] = outcome
            entry.remaining -= 1
        }
        if entry.remaining == 0, let continuation = entry.continuation {
            return { continuation.resume(returning: entry.results) }
        }
        state.batches[batch] = entry
        return nil
    }

    // MARK: Delivery reports

    /// Called by the event callback before it destroys a delivery-report event. librdkafka stops
    /// counting the event's messages as outstanding once the event is destroyed, so `flush` can
    /// return while their reports are still being applied; the drain waits for this count.
    func beginDelivery() {
        self.deliveriesInProgress.add(1, ordering: .sequentiallyConsistent)
    }

    /// Applies the reports of one event and ends the `beginDelivery` bracket.
    func deliverAndEnd(_ reports: [RawReport]) {
        self.deliver(reports)
        self.deliveriesInProgress.subtract(1, ordering: .sequentiallyConsistent)
    }

    /// Waits until reports of already-destroyed events are applied.
    func waitForDeliveriesInProgress() async {
        while self.deliveriesInProgress.load(ordering: .sequentiallyConsistent) > 0 {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Applies the reports of one librdkafka event.
    ///
    /// An event's reports usually belong to one batch, so the batch is taken out of the table once
    /// and updated locally, instead of several hash lookups per report.
    func deliver(_ reports: [RawReport]) {
        var singlesToResume: [(UnsafeContinuation<Outcome, Never>, Outcome)] = []
        var batchesToResume: [(UnsafeContinuation<[Outcome], Never>, [Outcome])] = []
        self.state.withLock { state in
            var currentID: UInt64 = 0
            var current: Batch?
            for report in reports {
                if report.opaque & Self.batchFlag != 0 {
                    let id = (report.opaque & ~Self.batchFlag) >> Self.batchIndexBits
                    let index = Int(report.opaque & ((1 << Self.batchIndexBits) - 1))
                    if current == nil || id != currentID {
                        if let previous = current {
                            Self.store(previous, id: currentID, in: &state, resuming: &batchesToResume)
                        }
                        currentID = id
                        current = state.batches.removeValue(forKey: id)
                    }
                    guard current != nil, index < current!.results.count, !current!.filled[index] else { continue }
                    current!.filled[index] = true
                    current!.results[index] = Self.outcome(report, topic: current!.records[index].topic)
                    current!.remaining -= 1
                } else {
                    guard let single = state.singles[report.opaque] else { continue }
                    let outcome = Self.outcome(report, topic: single.topic)
                    if case .awaiting(let continuation?) = single.state {
                        state.singles[report.opaque] = nil
                        singlesToResume.append((continuation, outcome))
                    } else {
                        state.singles[report.opaque]!.state = .completed(outcome)
                    }
                }
            }
            if let previous = current {
                Self.store(previous, id: currentID, in: &state, resuming: &batchesToResume)
            }
        }
        for (continuation, outcome) in singlesToResume { continuation.resume(returning: outcome) }
        for (continuation, results) in batchesToResume { continuation.resume(returning: results) }
    }

    /// Puts a batch back into the table, or hands it to its waiter when complete.
    private static func store(
        _ batch: Batch, id: UInt64, in state: inout State,
        resuming: inout [(UnsafeContinuation<[Outcome], Never>, [Outcome])]
    ) {
        if batch.remaining == 0, let continuation = batch.continuation {
            resuming.append((continuation, batch.results))
        } else {
            state.batches[id] = batch
        }
    }

    private static func outcome(_ report: RawReport, topic: String) -> Outcome {
        if let error = report.error { return .failure(error) }
        return .success(
            KafkaDeliveryReport(
                topic: topic, partition: report.partition, offset: report.offset, timestamp: report.timestamp))
    }

    // MARK: Shutdown

    /// Makes every later send fail with ``KafkaError/Code/shutdown``.
    func stopAcceptingSends() {
        self.state.withLock { $0.isAcceptingSends = false }
    }

    var isAcceptingSends: Bool {
        self.state.withLock { $0.isAcceptingSends }
    }

    /// Fails everything still waiting; used after the drain deadline and its purge.
    func failAll(_ error: KafkaError) {
        var resumes: [() -> Void] = []
        self.state.withLock { state in
            for (id, single) in state.singles {
                if case .awaiting(let continuation?) = single.state {
                    resumes.append { continuation.resume(returning: .failure(error)) }
                    state.singles[id] = nil
                } else if case .awaiting(nil) = single.state {
                    state.singles[id]!.state = .completed(.failure(error))
                }
            }
            for (id, batch) in state.batches {
                var results = batch.results
                for index in results.indices where !batch.filled[index] { results[index] = .failure(error) }
                state.batches[id]!.results = results
                state.batches[id]!.filled = Array(repeating: true, count: results.count)
                state.batches[id]!.remaining = 0
                if let continuation = batch.continuation {
                    state.batches[id] = nil
                    resumes.append { continuation.resume(returning: results) }
                }
            }
        }
        for resume in resumes { resume() }
    }
}
