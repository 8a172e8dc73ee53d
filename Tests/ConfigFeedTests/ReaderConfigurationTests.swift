@testable import ConfigFeed
@testable import KafkaKit
import ServiceKit
import Testing

@Suite("Config feed reader configuration")
struct ReaderConfigurationTests {
    private func properties(_ variables: [String: String]) -> [String: String] {
        var environment = ServiceEnvironment(["VANE_KAFKA_BROKERS": "127.0.0.1:9092"].merging(variables) { $1 })
        let configuration = ConfigFeed.readerConfiguration(
            kafka: environment.kafkaSettings(), topic: "vane.config", maximumFetchWait: .milliseconds(20))
        return configuration.librdkafkaProperties()
    }

    @Test("the feed's fetch wait applies unless the operator set fetch.wait.max.ms, which then wins")
    func fetchWait() {
        #expect(properties([:])["fetch.wait.max.ms"] == "20")
        #expect(properties(["VANE_KAFKA_PROPERTY_fetch_wait_max_ms": "1"])["fetch.wait.max.ms"] == "1")
        #expect(properties(["VANE_KAFKA_PROPERTY_fetch_wait_max_ms": "1"])["bootstrap.servers"] == "127.0.0.1:9092")
    }
}
