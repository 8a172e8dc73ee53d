import ConfigFeed
import KafkaKit
import Logging
import ModelsCore
import ServiceKit
import ServiceLifecycle
import Testing
import TestSupport

@Suite("Config feed against dev-kafka", .serialized, .timeLimit(.minutes(2)))
struct ConfigFeedIntegrationTests {
    final class Recorder: ConfigRecordSink {
        let records = Mutex<[ConfigRecord]>([])
        func apply(_ record: ConfigRecord) { records.withLock { $0.append(record) } }
    }

    @Test("reads existing records, becomes ready after catching up, then follows new ones")
    func catchUpAndFollow() async throws {
        let logger = TestLogger.make("config-feed")
        try await DevKafka.with(brokers: 1, topics: ["vane.config:3"]) { kafka in
            let producer = try KafkaProducer(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await producer.run() }
                func publish(_ record: ConfigRecord) async throws {
                    _ = try await producer.send(KafkaRecord(
                        topic: "vane.config", partition: ConfigRecord.partition(environmentID: record.environmentID, partitionCount: 3),
                        key: Array(record.recordKey.utf8), value: record.jsonBytes))
                }
                for version in 1...5 {
                    try await publish(ConfigRecord(kind: .flag, environmentID: "e1", key: "f", version: version, data: ["key": "f"]))
                }
                try await publish(ConfigRecord(kind: .segment, environmentID: "e2", key: "s", version: 1, data: nil))

                let recorder = Recorder()
                let feed = ConfigFeed(brokers: [kafka.bootstrapServers], topic: "vane.config", sink: recorder,
                    metrics: ServiceMetrics(), logger: logger)
                group.addTask { try await feed.run() }
                try await eventually { feed.currentStatus.isCaughtUp }
                #expect(recorder.records.withLock { $0.count } == 6)
                #expect(recorder.records.withLock { $0.filter { $0.environmentID == "e1" }.map(\.version) } == [1, 2, 3, 4, 5])

                try await publish(ConfigRecord(kind: .flag, environmentID: "e1", key: "f", version: 6, data: ["key": "f"]))
                try await eventually { recorder.records.withLock { $0.count } == 7 }
                group.cancelAll()
            }
        }
    }

    private func eventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within \(timeout)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

import Synchronization
