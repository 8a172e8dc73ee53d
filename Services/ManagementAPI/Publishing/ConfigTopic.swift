import KafkaKit
import Logging
import ModelsCore

/// The `vane.config` topic as the outbox publisher uses it: ensure it exists (compacted), learn its
/// partitions, tell whether it is empty, and send records with broker acknowledgement.
struct ConfigTopic: Sendable {
    let name: String
    let partitions: Int32
    let replicationFactor: Int32
    let admin: KafkaAdmin

    /// The topic's state after making sure it exists.
    struct State: Sendable {
        var partitionCount: Int
        var isEmpty: Bool
    }

    /// Creates the topic if missing (compacted: one record per item survives) and describes it.
    func ensure() async throws -> State {
        _ = try await admin.createTopic(KafkaTopicSpecification(
            name: name, partitions: partitions, replicationFactor: replicationFactor,
            configs: ["cleanup.policy": "compact", "min.compaction.lag.ms": "0"]))
        let description = try await admin.describeTopic(name)
        return State(
            partitionCount: max(1, description.partitions.count),
            isEmpty: description.partitions.allSatisfy { $0.highWatermark == 0 })
    }
}
