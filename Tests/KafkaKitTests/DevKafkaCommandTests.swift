import TestSupport
import Testing

extension KafkaIntegrationTests {
    @Suite("vanectl dev-kafka", .serialized)
    struct DevKafkaCommandTests {
        @Test("answers control commands and exits 0 on SIGTERM", .timeLimit(.minutes(1)))
        func controlAndCleanExit() async throws {
            let kafka = try await DevKafka.start(brokers: 2, topics: ["preset:5"])
            #expect(kafka.bootstrapServers.split(separator: ",").count == 2)
            #expect(kafka.bootstrapServers.hasPrefix("127.0.0.1:"))
            try await kafka.control("ping")
            try await kafka.brokerDown(.id(2))
            try await kafka.brokerUp(.all)
            try await kafka.pushErrors(apiKey: 0, ["NOT_LEADER_FOR_PARTITION", "REQUEST_TIMED_OUT"])
            try await kafka.control("clear-errors 0")
            try await kafka.createTopic("made", partitions: 2)
            await #expect(throws: DevKafka.ControlError.self) { try await kafka.createTopic("made", partitions: 2) }
            await #expect(throws: DevKafka.ControlError.self) { try await kafka.pushErrors(apiKey: 0, ["NO_SUCH_ERROR"]) }
            await #expect(throws: DevKafka.ControlError.self) { try await kafka.control("frobnicate") }
            #expect(await kafka.stop() == 0)
        }
    }
}
