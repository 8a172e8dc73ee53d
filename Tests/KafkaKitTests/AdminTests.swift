import KafkaKit
import Logging
import TestSupport
import Testing

extension KafkaIntegrationTests {
    @Suite("Admin", .serialized)
    struct AdminTests {
        let logger = TestLogger.make("kafkakit.test.admin")

        @Test("create-topic is idempotent and describe reports partitions, leaders and watermarks", .timeLimit(.minutes(1)))
        func createIsIdempotentAndDescribes() async throws {
            try await DevKafka.with { kafka in
                // The mock cluster has no controller, so a plain CreateTopics fails fast and clearly.
                let strict = try KafkaAdmin(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: self.logger)
                let clock = ContinuousClock()
                let start = clock.now
                do {
                    try await strict.createTopic(.init(name: freshTopic(), partitions: 3))
                    Issue.record("CreateTopics unexpectedly worked on the mock cluster")
                } catch let error as KafkaError {
                    #expect(error.code == .noController)
                    #expect(error.message.contains("dev-kafka"))
                }
                #expect(clock.now - start < .seconds(10))

                // An existing topic is success, without needing a controller.
                let explicit = freshTopic()
                try await kafka.createTopic(explicit, partitions: 6)
                let spec = KafkaTopicSpecification(
                    name: explicit, partitions: 6, replicationFactor: 3, configs: ["cleanup.policy": "compact"])
                #expect(try await strict.createTopic(spec) == .alreadyExists(partitions: 6))
                #expect(try await strict.createTopic(spec) == .alreadyExists(partitions: 6))

                // With the development fallback the broker auto-creates it (its default: 4 partitions).
                var fallbackConfiguration = KafkaAdminConfiguration(bootstrapServers: [kafka.bootstrapServers])
                fallbackConfiguration.autoCreateWithoutController = true
                let admin = try KafkaAdmin(configuration: fallbackConfiguration, logger: self.logger)
                let auto = freshTopic()
                #expect(try await admin.createTopic(.init(name: auto, partitions: 3)) == .autoCreated(partitions: 4))
                #expect(try await admin.createTopic(.init(name: auto, partitions: 3)) == .alreadyExists(partitions: 4))
                #expect(try await admin.listTopics().contains(auto))

                let producer = try KafkaProducer(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: self.logger)
                for result in await producer.send((0..<10).map { KafkaRecord(topic: explicit, partition: 1, key: nil, value: "v\($0)") }) {
                    _ = try result.get()
                }
                let description = try await admin.describeTopic(explicit)
                #expect(description.partitions.map(\.id) == Array(0..<6))
                #expect(description.partitions.allSatisfy { (1...3).contains($0.leader) })
                #expect(description.partitions.allSatisfy { $0.replicas.count == 3 })
                #expect(description.partitions[1].lowWatermark == 0)
                #expect(description.partitions[1].highWatermark == 10)
                #expect(description.partitions[0].highWatermark == 0)

                try await kafka.setLeader(topic: explicit, partition: 0, broker: 2)
                #expect(try await admin.describeTopic(explicit).partitions[0].leader == 2)

                do {
                    _ = try await admin.describeTopic("does-not-exist")
                    Issue.record("described a missing topic")
                } catch let error as KafkaError {
                    #expect(error.code == .topicNotFound)
                }
            }
        }

        @Test("close destroys the client: later calls fail with destroyed, closing twice is harmless", .timeLimit(.minutes(1)))
        func closeDestroys() async throws {
            try await DevKafka.with { kafka in
                let admin = try KafkaAdmin(configuration: .init(bootstrapServers: [kafka.bootstrapServers]), logger: self.logger)
                _ = try await admin.listTopics()
                await admin.close()
                await admin.close()
                do {
                    _ = try await admin.listTopics()
                    Issue.record("listed topics after close")
                } catch let error as KafkaError {
                    #expect(error.code == .destroyed)
                }
            }
        }
    }
}
