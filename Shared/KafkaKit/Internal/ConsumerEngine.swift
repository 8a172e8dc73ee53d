import Dispatch
import Logging
import ServiceLifecycle
import Synchronization

/// The polling core shared by ``KafkaConsumer`` and ``KafkaTopicReader``.
///
/// Pull-based: a message is fetched from librdkafka only when the iterating task asks for one.
/// Each trip runs `rd_kafka_consumer_poll` on the consumer's own serial `DispatchQueue` (so the
/// blocking wait never occupies a cooperative-pool thread) and brings back up to `batchSize`
/// messages, which are then handed out one by one without further hops. librdkafka's prefetch
/// queue is the only buffer, and it is bounded.
///
/// All calls that can run rebalance callbacks (`poll`, `assign`, `close`) go through the serial
/// polling queue, so librdkafka never sees them concurrently.
final class ConsumerEngine: Sendable {
    private struct State {
        var buffer: [KafkaConsumerMessage] = []
        var bufferIndex = 0
        var isPolling = false
        var isClosing = false
        var isClosed = false
    }

    let client: RDKafkaClient
    private let pollQueue: DispatchQueue
    private let batchSize: Int
    private let pollTimeout: Duration
    private let rebalanceHandler: KafkaRebalanceHandler?
    private let recorder: RebalanceRecorder?
    private let prepare: (@Sendable (ConsumerEngine) async throws(KafkaError) -> Void)?
    private let state = Mutex(State())
    private let closeResult = Mutex<Result<Void, KafkaError>?>(nil)

    init(
        client: RDKafkaClient, label: String, batchSize: Int, pollTimeout: Duration,
        recorder: RebalanceRecorder?, rebalanceHandler: KafkaRebalanceHandler?,
        prepare: (@Sendable (ConsumerEngine) async throws(KafkaError) -> Void)? = nil
    ) {
        self.prepare = prepare
        self.client = client
        self.pollQueue = DispatchQueue(label: "kafkakit.consumer.\(label)")
        self.batchSize = max(1, batchSize)
        self.pollTimeout = pollTimeout
        self.recorder = recorder
        self.rebalanceHandler = rebalanceHandler
    }

    private enum Buffered {
        case message(KafkaConsumerMessage)
        case closed
        case empty
        case concurrent
    }

    /// The next message; `nil` once closed or cancelled.
    func next() async throws(KafkaError) -> KafkaConsumerMessage? {
        while true {
            let buffered: Buffered = self.state.withLock { state in
                if state.isClosing || state.isClosed { return .closed }
                if state.bufferIndex < state.buffer.count {
                    defer { state.bufferIndex += 1 }
                    return .message(state.buffer[state.bufferIndex])
                }
                if state.isPolling { return .concurrent }
                state.isPolling = true
                return .empty
            }
            switch buffered {
            case .message(let message): return message
            case .closed: return nil
            case .concurrent:
                throw KafkaError(code: .concurrentIteration, message: "a consumer's messages were iterated from two tasks")
            case .empty: break
            }
            defer { self.state.withLock { $0.isPolling = false } }
            // Inside a ServiceGroup, the iterating service ends its loop on graceful shutdown, so
            // that the consumer service (started earlier, stopped later) can then commit and close.
            if Task.isCancelled || Task.isShuttingDownGracefully { return nil }
            // Readers assign their partitions lazily, on the first poll, unless started explicitly.
            try await self.prepare?(self)

            let client = self.client
            let batchSize = self.batchSize
            let timeout = self.pollTimeout.clampedMilliseconds
            let outcome = await withTaskCancellationHandler {
                await BlockingCall.run(on: self.pollQueue) { () -> PollOutcome in
                    guard !self.state.withLock({ $0.isClosed }) else { return PollOutcome() }
                    return client.pollBlocking(maximum: batchSize, timeoutMilliseconds: timeout)
                }
            } onCancel: {
                client.wakeConsumer()
            }

            try await self.applyRebalanceEvents()
            if let fatal = outcome.fatalError { throw fatal }
            if !outcome.messages.isEmpty {
                self.state.withLock { state in
                    state.buffer = outcome.messages
                    state.bufferIndex = 0
                }
            }
        }
    }

    /// Runs the application's hooks for recorded rebalances and applies deferred assignments.
    private func applyRebalanceEvents() async throws(KafkaError) {
        guard let recorder = self.recorder else { return }
        var events = recorder.take()
        while !events.isEmpty {
            let event = events.removeFirst()
            switch event {
            case .assign(let partitions, let incremental):
                var startOffsets: [KafkaTopicPartition: KafkaOffset] = [:]
                if let handler = self.rebalanceHandler, !partitions.isEmpty {
                    do {
                        startOffsets = try await handler.onAssign(partitions)
                    } catch {
                        // Keep the assignment pending: close() still applies it, so librdkafka's
                        // group state machine can finish the rebalance and leave cleanly.
                        recorder.putBack([event] + events)
                        throw KafkaError(code: .rebalanceHandlerFailed, message: "onAssign failed: \(error)")
                    }
                }
                let entries = partitions.map { ($0, (startOffsets[$0] ?? .committed).rawValue) }
                let client = self.client
                let result = await BlockingCall.run(on: self.pollQueue) { () -> Result<Void, KafkaError> in
                    Result { () throws(KafkaError) in try client.assign(entries, incremental: incremental) }
                }
                try result.get()
            case .revoke(let partitions, _):
                // Buffered messages of revoked partitions belong to the next owner now.
                let revoked = Set(partitions)
                self.dropBuffered { revoked.contains($0.topicPartition) }
                await self.rebalanceHandler?.onRevoke(partitions)
            }
        }
    }

    /// Removes not-yet-returned buffered messages that match `predicate` (after seeks and
    /// revocations, which make them stale).
    func dropBuffered(where predicate: (KafkaConsumerMessage) -> Bool) {
        self.state.withLock { state in
            guard state.bufferIndex < state.buffer.count else { return }
            let remaining = state.buffer[state.bufferIndex...].filter { !predicate($0) }
            state.buffer = Array(remaining)
            state.bufferIndex = 0
        }
    }

    /// Runs `body` on the polling queue (for assign-like calls that must not race with polls).
    func onPollQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await BlockingCall.run(on: self.pollQueue, body)
    }

    /// Like ``onPollQueue(_:)``; `body` receives a flag raised when the calling task is cancelled.
    func onPollQueueCancellable<T: Sendable>(_ body: @escaping @Sendable (CancellationFlag) -> T) async -> T {
        await BlockingCall.runCancellable(on: self.pollQueue, body)
    }

    var isClosed: Bool {
        self.state.withLock { $0.isClosing || $0.isClosed }
    }

    /// Stops iteration and closes the consumer; later calls return the first call's result.
    func close() async throws(KafkaError) {
        let first = self.state.withLock { state in
            defer { state.isClosing = true }
            return !state.isClosing
        }
        if !first {
            // Another caller is closing; wait for its result rather than closing twice.
            while true {
                if let result = self.closeResult.withLock({ $0 }) { return try result.get() }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        self.client.wakeConsumer()
        let client = self.client
        let recorder = self.recorder
        let logger = client.logger
        let result = await BlockingCall.run(on: self.pollQueue) { () -> Result<Void, KafkaError> in
            // A pending (deferred) assignment must be applied, or the group state machine would
            // wait for it while we try to leave.
            for case .assign(let partitions, let incremental) in recorder?.take() ?? [] {
                do {
                    try client.assign(partitions.map { ($0, KafkaOffset.committed.rawValue) }, incremental: incremental)
                } catch {
                    logger.warning("applying pending assignment before close failed", metadata: ["error": "\(error)"])
                }
            }
            let error = client.closeConsumerBlocking()
            self.state.withLock { $0.isClosed = true }
            return error.map { .failure($0) } ?? .success(())
        }
        // Revocations recorded during close: tell the application (offsets are already committed).
        for case .revoke(let partitions, _) in recorder?.take() ?? [] {
            await self.rebalanceHandler?.onRevoke(partitions)
        }
        self.closeResult.withLock { $0 = result }
        try result.get()
    }
}
