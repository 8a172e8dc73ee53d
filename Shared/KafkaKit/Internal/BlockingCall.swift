import Dispatch
import Synchronization

/// Runs blocking librdkafka calls (metadata, watermark queries, synchronous commits, flush,
/// consumer close, `rd_kafka_destroy`) off Swift's cooperative pool, which has only as many
/// threads as cores (two on CI). A blocked cooperative thread would stall every other task.
///
/// The queue is concurrent: libdispatch adds threads while blocks are parked in C calls.
enum BlockingCall {
    static let queue = DispatchQueue(label: "kafkakit.blocking", attributes: .concurrent)

    /// Runs `body` on `queue` and resumes with its result.
    static func run<T: Sendable>(on queue: DispatchQueue = Self.queue, _ body: @escaping @Sendable () -> T) async -> T {
        await withUnsafeContinuation { continuation in
            queue.async {
                continuation.resume(returning: body())
            }
        }
    }

    /// Runs `body` on `queue` like ``run(on:_:)``; cancelling the calling task raises the flag `body` receives.
    ///
    /// A blocking C call cannot be interrupted, so a long blocking loop (retrying metadata until a deadline) checks the
    /// flag between short steps and returns early. Without this, a service whose group is cancelled while Kafka is
    /// unreachable keeps its task waiting out the whole timeout, and service-lifecycle ends the process (SIGILL) when
    /// cancellation takes longer than it allows.
    static func runCancellable<T: Sendable>(
        on queue: DispatchQueue = Self.queue, _ body: @escaping @Sendable (CancellationFlag) -> T
    ) async -> T {
        let flag = CancellationFlag()
        return await withTaskCancellationHandler {
            await run(on: queue) { body(flag) }
        } onCancel: {
            flag.cancel()
        }
    }
}

/// Set when the task that waits for a blocking call is cancelled; read by the blocking call between steps.
final class CancellationFlag: Sendable {
    private let raised = Atomic<Bool>(false)

    var isCancelled: Bool { self.raised.load(ordering: .acquiring) }

    func cancel() { self.raised.store(true, ordering: .releasing) }

    /// Throws ``KafkaError/Code/cancelled`` once the flag is raised.
    func check(_ what: @autoclosure () -> String) throws(KafkaError) {
        if self.isCancelled { throw KafkaError(code: .cancelled, message: "\(what()) was cancelled") }
    }
}
