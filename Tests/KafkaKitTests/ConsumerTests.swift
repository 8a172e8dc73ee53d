import KafkaKit
import Logging
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

extension KafkaIntegrationTests {
    @Suite("Consumer", .serialized)
    struct ConsumerTests {
        let logger = TestLogger.make("kafkakit.test.consumer")

        func produce(_ kafka: DevKafka, topic: String, partitions: Int32, perPartition: Int) async throws {
            let producer = try KafkaProducer(
                configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: self.logger)
            let records = (0..<partitions).flatMap { partition in
                (0..<perPartition).map { KafkaRecord(topic: topic, partition: partition, key: nil, value: "p\(partition)-\($0)") }
            }
            for result in await producer.send(records) { _ = try result.get() }
        }

        @Test("a new group member resumes right after the last committed offset", .timeLimit(.minutes(2)))
        func groupHandOver() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 3)
                try await self.produce(kafka, topic: topic, partitions: 3, perPartition: 10)
                let group = freshGroupID()

                // Member A processes 12 messages: stores each offset, commits one explicitly, and
                // relies on close() for the rest.
                let first = try KafkaConsumer(
                    configuration: testConsumerConfiguration(kafka, group: group, topics: [topic]), logger: self.logger)
                var processedByA: [KafkaConsumerMessage] = []
                for try await message in first.messages {
                    processedByA.append(message)
                    if processedByA.count == 5 {
                        try await first.commit(message)
                    } else {
                        try first.storeOffset(for: message)
                    }
                    if processedByA.count == 12 { break }
                }
                try await first.close()

                let partitions = (0..<3).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
                // Member B starts where A's commits left off.
                let second = try KafkaConsumer(
                    configuration: testConsumerConfiguration(kafka, group: group, topics: [topic]), logger: self.logger)
                let committed = try await second.committedOffsets(for: partitions)
                for partition in partitions {
                    let lastByA = processedByA.filter { $0.topicPartition == partition }.map(\.offset).max()
                    #expect(committed[partition] == lastByA.map { $0 + 1 }, "\(partition)")
                }
                var processedByB: [KafkaConsumerMessage] = []
                for try await message in second.messages {
                    processedByB.append(message)
                    try second.storeOffset(for: message)
                    if processedByA.count + processedByB.count >= 30 { break }
                }
                try await second.close()

                let all = Set((processedByA + processedByB).map(\.valueString))
                #expect(all.count == 30, "every message exactly once across the hand-over")
                #expect(processedByA.count + processedByB.count == 30)
                for partition in partitions {
                    let firstOfB = processedByB.filter { $0.topicPartition == partition }.map(\.offset).min()
                    let lastOfA = processedByA.filter { $0.topicPartition == partition }.map(\.offset).max()
                    if let firstOfB { #expect(firstOfB == (lastOfA ?? -1) + 1, "\(partition)") }
                }
            }
        }

        @Test("onAssign chooses start offsets before any message of the partition is fetched", .timeLimit(.minutes(1)))
        func onAssignSetsStartOffsets() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 2)
                try await self.produce(kafka, topic: topic, partitions: 2, perPartition: 10)
                let assigned = Locked<[KafkaTopicPartition]>([])
                let revoked = Locked<[KafkaTopicPartition]>([])
                // As if read from PostgreSQL: partition 0 resumes at 7, partition 1 at 3.
                let stored: [Int32: Int64] = [0: 7, 1: 3]
                let handler = KafkaRebalanceHandler(
                    onAssign: { partitions in
                        assigned.withLock { $0 += partitions }
                        try await Task.sleep(for: .milliseconds(50))  // an async lookup
                        var start: [KafkaTopicPartition: KafkaOffset] = [:]
                        for partition in partitions { start[partition] = .offset(stored[partition.partition]!) }
                        return start
                    },
                    onRevoke: { partitions in revoked.withLock { $0 += partitions } })
                let consumer = try KafkaConsumer(
                    configuration: testConsumerConfiguration(kafka, group: freshGroupID(), topics: [topic]),
                    rebalanceHandler: handler, logger: self.logger)
                var received: [KafkaConsumerMessage] = []
                for try await message in consumer.messages {
                    received.append(message)
                    if received.count == 10 { break }
                }
                #expect(Set(assigned.withLock { $0 }.map(\.partition)) == [0, 1])
                #expect(received.filter { $0.partition == 0 }.map(\.offset) == Array(7..<10))
                #expect(received.filter { $0.partition == 1 }.map(\.offset) == Array(3..<10))
                #expect(Set(try consumer.assignment().map(\.partition)) == [0, 1])

                // seek() rewinds an assigned partition and drops already-fetched messages of it.
                try await consumer.seek(KafkaTopicPartition(topic: topic, partition: 1), to: .offset(8))
                var afterSeek: [KafkaConsumerMessage] = []
                for try await message in consumer.messages {
                    afterSeek.append(message)
                    if afterSeek.count == 2 { break }
                }
                #expect(afterSeek.map(\.offset) == [8, 9])
                try await consumer.close()
                #expect(Set(revoked.withLock { $0 }.map(\.partition)) == [0, 1], "close revokes and reports")
            }
        }

        @Test("a consumer ends its message sequence on graceful shutdown", .timeLimit(.minutes(1)))
        func consumerStopsOnGracefulShutdown() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 1)
                try await self.produce(kafka, topic: topic, partitions: 1, perPartition: 3)
                let group = freshGroupID()
                let consumer = try KafkaConsumer(
                    configuration: testConsumerConfiguration(kafka, group: group, topics: [topic]), logger: self.logger)
                let seen = Locked(0)
                let processor = ClosureService {
                    for try await message in consumer.messages {
                        try consumer.storeOffset(for: message)
                        seen.withLock { $0 += 1 }
                    }
                }
                let serviceGroup = ServiceGroup(
                    configuration: .init(services: [consumer, processor], logger: self.logger))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await serviceGroup.run() }
                    while seen.withLock({ $0 }) < 3 { try await Task.sleep(for: .milliseconds(20)) }
                    await serviceGroup.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                // close() on shutdown committed the stored offsets.
                let check = try KafkaConsumer(
                    configuration: testConsumerConfiguration(kafka, group: group, topics: [topic]), logger: self.logger)
                let committed = try await check.committedOffsets(for: [KafkaTopicPartition(topic: topic, partition: 0)])
                #expect(committed[KafkaTopicPartition(topic: topic, partition: 0)] == 3)
                try await check.close()
            }
        }

        /// librdkafka before 2.3.0 aborts the process when a cooperative-sticky member that joined a
        /// group but never got an assignment is destroyed (confluentinc/librdkafka#4312); this
        /// took the whole test runner down in CI. A failure here is that abort.
        @Test("a consumer closed during its first rebalance is released without aborting the process", .timeLimit(.minutes(1)))
        func closeBeforeFirstAssignment() async throws {
            try await DevKafka.with(brokers: 1) { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 2)
                // Every SyncGroup fails: the member joins (the assignor is chosen) and never gets an
                // assignment.
                let syncGroup = 14
                try await kafka.pushErrors(apiKey: syncGroup, Array(repeating: "REBALANCE_IN_PROGRESS", count: 200))
                for _ in 0..<2 {
                    var consumer: KafkaConsumer? = try KafkaConsumer(
                        configuration: testConsumerConfiguration(kafka, group: freshGroupID(), topics: [topic]), logger: self.logger)
                    // Past the broker's 3 s initial rebalance delay: JoinGroup has answered.
                    try await Task.sleep(for: .milliseconds(4500))
                    try await consumer?.close()
                    consumer = nil
                }
                // rd_kafka_destroy runs on a dispatch queue after the last reference goes; give it
                // time to abort if it is going to.
                try await Task.sleep(for: .seconds(2))
            }
        }

        @Test("a group-less reader from earliest reaches the high watermarks seen at start", .timeLimit(.minutes(1)))
        func readerCatchesUp() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 4)
                try await self.produce(kafka, topic: topic, partitions: 3, perPartition: 25)  // partition 3 stays empty

                let reader = try KafkaTopicReader(
                    configuration: .init(bootstrapServers: [kafka.bootstrapServers], topic: topic), logger: self.logger)
                var catchUp = try await reader.start()
                #expect(catchUp.targets == [0: 25, 1: 25, 2: 25, 3: 0])
                #expect(try await reader.highWatermarks() == [0: 25, 1: 25, 2: 25, 3: 0])

                // Produced after start: not part of the catch-up target.
                try await self.produce(kafka, topic: topic, partitions: 1, perPartition: 5)
                var count = 0
                var caughtUpAt: Int?
                for try await message in reader.messages {
                    count += 1
                    if catchUp.observe(message) { caughtUpAt = count }
                    if count == 80 { break }
                }
                #expect(caughtUpAt != nil && caughtUpAt! >= 75 && caughtUpAt! <= 80)
                let positions = try reader.positions()
                #expect(positions[1] == 25 && positions[2] == 25)
                try await reader.close()

                let latest = try KafkaTopicReader(
                    configuration: .init(bootstrapServers: [kafka.bootstrapServers], topic: topic, startPosition: .latest),
                    logger: self.logger)
                #expect(try await latest.start().isCaughtUp)
                try await latest.close()
            }
        }

        @Test("a reader fails with topicNotFound when the topic's metadata does not arrive in time", .timeLimit(.minutes(1)))
        func readerMissingTopic() async throws {
            // Against the mock cluster a metadata request auto-creates any topic, so use a broker
            // address where nothing listens.
            var configuration = KafkaTopicReaderConfiguration(bootstrapServers: ["127.0.0.1:1"], topic: "missing")
            configuration.metadataTimeout = .seconds(1)
            let reader = try KafkaTopicReader(configuration: configuration, logger: self.logger)
            do {
                try await reader.start()
                Issue.record("start succeeded without a broker")
            } catch {
                #expect(error.code == .topicNotFound)
            }
        }

        @Test("a reader still starting against an unreachable broker answers cancellation, not the metadata timeout",
              .timeLimit(.minutes(1)))
        func readerStartIsCancellable() async throws {
            // service-lifecycle ends the process when a cancelled service takes longer than it allows (5 s by
            // default): events-ingest did, with its HTTP port in use and no broker. The timeout here is far longer than
            // that, so an uncancellable start would fail with topicNotFound after 30 s instead of `cancelled`.
            var configuration = KafkaTopicReaderConfiguration(bootstrapServers: ["127.0.0.1:1"], topic: "missing")
            configuration.metadataTimeout = .seconds(30)
            let reader = try KafkaTopicReader(configuration: configuration, logger: self.logger)
            // Cancelled before it starts, then while it waits in the metadata loop (a start that was cancelled leaves
            // nothing half-done, so the same reader can start again).
            for delay in [Duration.zero, .milliseconds(300)] {
                let started = Task { () async throws -> KafkaCatchUpTracker in
                    if delay > .zero { try? await Task.sleep(for: delay) }
                    return try await reader.start()
                }
                if delay > .zero { try await Task.sleep(for: delay * 2) }
                started.cancel()
                let result = await started.result
                #expect(throws: KafkaError.self) { try result.get() }
                if case .failure(let error) = result { #expect((error as? KafkaError)?.code == .cancelled, "after \(delay)") }
            }
            try await reader.close()
        }
    }
}

/// A service from a closure, for tests.
struct ClosureService: Service {
    let body: @Sendable () async throws -> Void
    init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }
    func run() async throws { try await self.body() }
}
