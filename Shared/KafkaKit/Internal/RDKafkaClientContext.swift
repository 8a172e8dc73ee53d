internal import CRdKafka
import Logging
import Synchronization

/// The object librdkafka's C callbacks reach through the client's `opaque` pointer.
///
/// librdkafka has a single opaque slot per client, so this one object multiplexes everything the
/// callbacks need: the logger for `log_cb`, the delivery tracker for the producer's background
/// event callback, the rebalance recorder for the consumer's `rebalance_cb`.
///
/// Lifetime: ``RDKafkaClient`` passes it *unretained* and keeps a strong reference itself,
/// destroying the `rd_kafka_t` before releasing it, so no callback can outlive it.
final class RDKafkaClientContext: Sendable {
    let logger: Logger
    let deliveryTracker: DeliveryTracker?
    let rebalanceRecorder: RebalanceRecorder?
    /// Set by `rebalance_cb` on the first assignment (see ``RDKafkaClient`` on why it matters).
    let receivedAssignment = Atomic<Bool>(false)
    /// Set when the client is left allocated instead of destroyed: its librdkafka threads live on
    /// (retrying brokers that may be gone), and their log lines would only be noise.
    let silenced = Atomic<Bool>(false)

    init(logger: Logger, deliveryTracker: DeliveryTracker? = nil, rebalanceRecorder: RebalanceRecorder? = nil) {
        self.logger = logger
        self.deliveryTracker = deliveryTracker
        self.rebalanceRecorder = rebalanceRecorder
    }

    static func from(_ opaque: UnsafeMutableRawPointer) -> RDKafkaClientContext {
        Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// Routes librdkafka's log lines to the client's swift-log `Logger`.
///
/// Called from librdkafka's internal threads; `Logger` is thread-safe.
func rdKafkaLogCallback(
    _ rk: OpaquePointer?, _ level: Int32, _ facility: UnsafePointer<CChar>?, _ buffer: UnsafePointer<CChar>?
) {
    guard let rk, let opaque = rd_kafka_opaque(rk), let buffer else { return }
    let context = RDKafkaClientContext.from(opaque)
    guard !context.silenced.load(ordering: .relaxed) else { return }
    let logLevel: Logger.Level =
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5: .notice
        case 6: .info
        default: .debug
        }
    guard context.logger.logLevel <= logLevel else { return }
    let facilityName = facility.map { String(cString: $0) } ?? "-"
    context.logger.log(
        level: logLevel, "\(String(cString: buffer))",
        metadata: ["rdkafka.facility": "\(facilityName)", "rdkafka.client": "\(String(cString: rd_kafka_name(rk)))"])
}
