internal import CRdKafka
import Synchronization

/// A rebalance that librdkafka announced and the Swift side still has to act on.
enum RebalanceEvent: Sendable {
    /// Partitions to assign. Not yet assigned: `ConsumerEngine` assigns them after running the
    /// application's `onAssign` hook, so no message is fetched from a position the hook overrides.
    case assign([KafkaTopicPartition], incremental: Bool)
    /// Partitions that were revoked (already committed and unassigned in the callback).
    case revoke([KafkaTopicPartition], lost: Bool)
}

/// Collects rebalance events from `rebalance_cb`, which runs inside `rd_kafka_consumer_poll` and
/// `rd_kafka_consumer_close` on the consumer's polling thread.
final class RebalanceRecorder: Sendable {
    private let events = Mutex<[RebalanceEvent]>([])

    func record(_ event: RebalanceEvent) {
        self.events.withLock { $0.append(event) }
    }

    func take() -> [RebalanceEvent] {
        self.events.withLock { events in
            defer { events.removeAll() }
            return events
        }
    }

    func putBack(_ pending: [RebalanceEvent]) {
        self.events.withLock { $0.insert(contentsOf: pending, at: 0) }
    }
}

/// librdkafka's rebalance callback for consumer-group members.
///
/// Assignment is deferred to the Swift side (see ``RebalanceEvent/assign(_:incremental:)``);
/// librdkafka supports calling `rd_kafka_assign`/`rd_kafka_incremental_assign` after the callback
/// returned and simply waits for it. Revocation is handled here, synchronously: stored offsets are
/// committed before the partitions go, so the next owner resumes exactly after the last message
/// this member marked processed.
func rdKafkaRebalanceCallback(
    _ rk: OpaquePointer?, _ err: rd_kafka_resp_err_t,
    _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, _ opaque: UnsafeMutableRawPointer?
) {
    guard let rk, let opaque else { return }
    let context = RDKafkaClientContext.from(opaque)
    let incremental = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
    let topicPartitions = RDKafkaTopicPartitionList.partitions(of: partitions)
    let logger = context.logger

    switch err {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        logger.info("partitions assigned", metadata: ["partitions": "\(topicPartitions)", "incremental": "\(incremental)"])
        context.receivedAssignment.store(true, ordering: .releasing)
        context.rebalanceRecorder?.record(.assign(topicPartitions, incremental: incremental))
        // Return from the poll at once so the assignment is applied without waiting out the poll
        // timeout.
        rd_kafka_yield(rk)

    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        let lost = rd_kafka_assignment_lost(rk) != 0
        logger.info("partitions revoked", metadata: ["partitions": "\(topicPartitions)", "lost": "\(lost)"])
        if !lost {
            let commitError = rd_kafka_commit(rk, nil, 0)
            if commitError != RD_KAFKA_RESP_ERR_NO_ERROR && commitError != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warning(
                    "commit on revocation failed",
                    metadata: ["error": "\(KafkaError(commitError))"])
            }
        }
        if incremental {
            if let error = rd_kafka_incremental_unassign(rk, partitions) {
                logger.warning("incremental unassign failed", metadata: ["error": "\(KafkaError(consuming: error))"])
            }
        } else {
            _ = rd_kafka_assign(rk, nil)
        }
        context.rebalanceRecorder?.record(.revoke(topicPartitions, lost: lost))

    default:
        // librdkafka's contract: on any other rebalance error, clear the assignment to resync.
        logger.error("rebalance error", metadata: ["error": "\(KafkaError(err))"])
        _ = rd_kafka_assign(rk, nil)
    }
}
