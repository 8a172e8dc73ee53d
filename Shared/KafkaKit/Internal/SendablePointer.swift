internal import CRdKafka

/// A C handle that may cross concurrency domains.
///
/// `OpaquePointer` is not `Sendable`. This wrapper is `@unchecked Sendable` and must only hold
/// handles that librdkafka documents as thread-safe: `rd_kafka_t`, `rd_kafka_queue_t` and
/// `rd_kafka_mock_cluster_t` (whose calls are forwarded to the mock cluster's own thread). Never
/// wrap per-message or per-list pointers (`rd_kafka_message_t`, partition lists): those are
/// copied into Swift values on the thread that received them and destroyed there.
struct SendablePointer: @unchecked Sendable {
    let raw: OpaquePointer

    init(_ raw: OpaquePointer) {
        self.raw = raw
    }
}
