import Dispatch

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
}
