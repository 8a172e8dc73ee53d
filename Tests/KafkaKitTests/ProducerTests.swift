import KafkaKit
import Logging
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import TestSupport
import Testing

extension KafkaIntegrationTests {
    @Suite("Producer", .serialized)
    struct ProducerTests {
        let logger = TestLogger.make("kafkakit.test.producer")

        func producerConfiguration(_ kafka: DevKafka) -> KafkaProducerConfiguration {
            var configuration = KafkaProducerConfiguration(bootstrapServers: [kafka.bootstrapServers])
            configuration.messageTimeout = .seconds(20)
            return configuration
        }

        @Test("records keep their order within a partition", .timeLimit(.minutes(1)))
        func orderWithinPartition() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 3)
                let producer = try KafkaProducer(configuration: self.producerConfiguration(kafka), logger: self.logger)

                // Single sends, one after another, keyed: all land on the key's partition.
                var singleReports: [KafkaDeliveryReport] = []
                for index in 0..<50 {
                    singleReports.append(
                        try await producer.send(
                            topic: topic, key: Array("same-key".utf8), value: Array("single-\(index)".utf8),
                            headers: [KafkaHeader(key: "index", value: "\(index)")]))
                }
                #expect(Set(singleReports.map(\.partition)).count == 1)
                #expect(singleReports.map(\.offset) == Array(0..<50).map(Int64.init))

                // A batch to an explicit partition.
                let records = (0..<1000).map { KafkaRecord(topic: topic, partition: 2, key: nil, value: "batch-\($0)") }
                let results = await producer.send(records)
                let reports = try results.map { try $0.get() }
                #expect(reports.allSatisfy { $0.partition == 2 })

                let messages = try await readAll(kafka, topic: topic, logger: self.logger)
                let singlePartition = singleReports[0].partition
                let keyed = messages.filter { $0.partition == singlePartition && $0.valueString.hasPrefix("single-") }
                #expect(keyed.map(\.valueString) == (0..<50).map { "single-\($0)" })
                #expect(keyed.first?.headers == [KafkaHeader(key: "index", value: "0")])
                #expect(keyed.first?.key == Array("same-key".utf8))
                let batched = messages.filter { $0.partition == 2 && $0.valueString.hasPrefix("batch-") }
                #expect(batched.map(\.valueString) == (0..<1000).map { "batch-\($0)" })
                #expect(zip(batched, batched.dropFirst()).allSatisfy { $0.offset < $1.offset })
            }
        }

        @Test("a batch larger than librdkafka's queue waits for space and keeps its order", .timeLimit(.minutes(1)))
        func batchLargerThanQueue() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 1)
                var configuration = self.producerConfiguration(kafka)
                configuration.additionalProperties["queue.buffering.max.messages"] = "50"
                let producer = try KafkaProducer(configuration: configuration, logger: self.logger)
                let records = (0..<2000).map { KafkaRecord(topic: topic, key: "k\($0 % 7)", value: "v\($0)") }
                let reports = try await producer.send(records).map { try $0.get() }
                #expect(reports.map(\.offset) == Array(0..<2000).map(Int64.init))
                let values = try await readAll(kafka, topic: topic, logger: self.logger).map(\.valueString)
                #expect(values == (0..<2000).map { "v\($0)" })
            }
        }

        @Test("the idempotent producer delivers exactly once under injected Produce errors", .timeLimit(.minutes(1)))
        func idempotentUnderInjectedErrors() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 2)
                var configuration = self.producerConfiguration(kafka)
                configuration.linger = .milliseconds(2)
                let producer = try KafkaProducer(configuration: configuration, logger: self.logger)
                try await producer.send(topic: topic, partition: 0, value: Array("warm-up".utf8))

                // Each pushed error fails one ProduceRequest; librdkafka must retry without
                // duplicating or reordering. _TRANSPORT makes the broker drop the connection.
                try await kafka.pushErrors(apiKey: 0, [
                    "NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT", "NOT_ENOUGH_REPLICAS", "_TRANSPORT",
                    "NOT_ENOUGH_REPLICAS_AFTER_APPEND", "LEADER_NOT_AVAILABLE", "REQUEST_TIMED_OUT", "_TRANSPORT",
                ])
                let count = 2000
                var sent: [String] = []
                // Several concurrent batches plus concurrent single sends, so requests are in flight
                // while the errors hit.
                let batchResults = await withTaskGroup(of: [Result<KafkaDeliveryReport, KafkaError>].self) { group in
                    for chunk in 0..<4 {
                        let records = (0..<(count / 4)).map { index in
                            KafkaRecord(topic: topic, partition: Int32(chunk % 2), key: nil, value: "m-\(chunk)-\(index)")
                        }
                        group.addTask { await producer.send(records) }
                    }
                    var all: [Result<KafkaDeliveryReport, KafkaError>] = []
                    for await results in group { all += results }
                    return all
                }
                for chunk in 0..<4 { for index in 0..<(count / 4) { sent.append("m-\(chunk)-\(index)") } }
                let failures = batchResults.compactMap { result -> KafkaError? in
                    if case .failure(let error) = result { return error }
                    return nil
                }
                #expect(failures.isEmpty, "failures: \(failures.prefix(3))")

                let messages = try await readAll(kafka, topic: topic, logger: self.logger).filter { $0.valueString != "warm-up" }
                let values = messages.map(\.valueString)
                #expect(values.count == count, "no duplicates, no losses")
                #expect(Set(values) == Set(sent))
                // No gaps: offsets are contiguous in each partition.
                for partition in Int32(0)...1 {
                    let offsets = messages.filter { $0.partition == partition }.map(\.offset)
                    #expect(offsets == Array(offsets.first!...offsets.last!), "partition \(partition) has gaps")
                    // And each chunk's records stay in send order.
                    for chunk in stride(from: Int(partition), to: 4, by: 2) {
                        let chunkValues = messages.filter { $0.partition == partition && $0.valueString.hasPrefix("m-\(chunk)-") }
                        #expect(chunkValues.map(\.valueString) == (0..<(count / 4)).map { "m-\(chunk)-\($0)" })
                    }
                }
            }
        }

        @Test("with all brokers down a send fails after message.timeout.ms and works once they return", .timeLimit(.minutes(1)))
        func brokersDownAndBack() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 1)
                var configuration = self.producerConfiguration(kafka)
                configuration.messageTimeout = .milliseconds(1500)
                // Keep reconnect attempts frequent so recovery is quick once the brokers return.
                configuration.additionalProperties["reconnect.backoff.max.ms"] = "500"
                let producer = try KafkaProducer(configuration: configuration, logger: self.logger)
                try await producer.send(topic: topic, value: Array("before".utf8))

                try await kafka.brokerDown(.all)
                let clock = ContinuousClock()
                let start = clock.now
                do {
                    try await producer.send(topic: topic, value: Array("while-down".utf8))
                    Issue.record("send succeeded with all brokers down")
                } catch let error as KafkaError {
                    let elapsed = clock.now - start
                    #expect(error.code == .messageTimedOut)
                    #expect(error.isRetriable && !error.isFatal)
                    #expect(error.message.contains(topic))
                    #expect(elapsed >= .milliseconds(1000) && elapsed < .seconds(10), "failed after \(elapsed)")
                }

                try await kafka.brokerUp(.all)
                var delivered: KafkaDeliveryReport?
                for _ in 0..<10 where delivered == nil {
                    delivered = try? await producer.send(topic: topic, value: Array("after".utf8))
                }
                #expect(delivered != nil)
                let values = try await readAll(kafka, topic: topic, logger: self.logger).map(\.valueString)
                #expect(values.first == "before")
                #expect(values.contains("after"))
            }
        }

        @Test("graceful shutdown drains: no acknowledged record is lost, later sends fail", .timeLimit(.minutes(1)))
        func gracefulShutdownLosesNothing() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 3)
                var configuration = self.producerConfiguration(kafka)
                configuration.linger = .milliseconds(50)  // keep records in flight when shutdown hits
                let producer = try KafkaProducer(configuration: configuration, logger: self.logger)
                let acknowledged = Locked<[String]>([])
                let rejected = Locked<[KafkaError]>([])

                try await testGracefulShutdown { trigger in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await producer.run() }
                        for worker in 0..<8 {
                            group.addTask {
                                for index in 0..<10_000 {
                                    let value = "w\(worker)-\(index)"
                                    do {
                                        try await producer.send(topic: topic, value: Array(value.utf8))
                                        acknowledged.withLock { $0.append(value) }
                                    } catch let error as KafkaError {
                                        rejected.withLock { $0.append(error) }
                                        return
                                    }
                                }
                            }
                        }
                        while acknowledged.withLock({ $0.count }) < 500 { try await Task.sleep(for: .milliseconds(5)) }
                        trigger.triggerGracefulShutdown()
                        try await group.waitForAll()
                    }
                }

                let acked = acknowledged.withLock { $0 }
                let errors = rejected.withLock { $0 }
                #expect(errors.count == 8, "every worker stops with an error once shutdown began")
                #expect(errors.allSatisfy { $0.code == .shutdown }, "\(errors.prefix(2))")
                let stored = Set(try await readAll(kafka, topic: topic, logger: self.logger).map(\.valueString))
                let lost = acked.filter { !stored.contains($0) }
                #expect(lost.isEmpty, "acknowledged but missing: \(lost.prefix(5))")
                #expect(stored.count == acked.count, "nothing stored that was not acknowledged")
            }
        }

        @Test("sends still pending at the drain deadline fail with drainTimedOut", .timeLimit(.minutes(1)))
        func drainDeadlineFailsPendingSends() async throws {
            try await DevKafka.with { kafka in
                let topic = freshTopic()
                try await kafka.createTopic(topic, partitions: 1)
                var configuration = self.producerConfiguration(kafka)
                configuration.shutdownDrainTimeout = .milliseconds(500)
                configuration.messageTimeout = .seconds(30)
                let producer = try KafkaProducer(configuration: configuration, logger: self.logger)
                try await producer.send(topic: topic, value: Array("ok".utf8))
                try await kafka.brokerDown(.all)

                try await testGracefulShutdown { trigger in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await producer.run() }
                        let clock = ContinuousClock()
                        let start = clock.now
                        async let pending = producer.send((0..<10).map { KafkaRecord(topic: topic, key: nil, value: "p\($0)") })
                        try await Task.sleep(for: .milliseconds(200))
                        trigger.triggerGracefulShutdown()
                        let results = await pending
                        #expect(clock.now - start < .seconds(10))
                        for result in results {
                            #expect(throws: KafkaError.self) { try result.get() }
                            if case .failure(let error) = result { #expect(error.code == .drainTimedOut) }
                        }
                        try await group.waitForAll()
                    }
                }
                do {
                    try await producer.send(topic: topic, value: Array("late".utf8))
                    Issue.record("send after shutdown succeeded")
                } catch let error as KafkaError {
                    #expect(error.code == .shutdown)
                }
            }
        }
    }
}
