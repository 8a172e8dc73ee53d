import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc  // close
#endif

/// The test harness's service processes (`TestSupport/ServiceProcess.swift`), exercised with events-ingest, which needs only a
/// broker.
@Suite("Test support: service processes")
struct ServiceProcessTests {
    @Test("a service whose chosen port is taken before it binds it is started again on another port")
    func portTakenBeforeBind() async throws {
        try await DevKafka.with(brokers: 1, topics: ["vane.config:3", "vane.events.raw:3"]) { kafka in
            // The squatter must bind between the port's probe and the service's bind: a few tries, in case the service wins.
            for _ in 0..<3 {
                let ingest = try ServiceProcess("events-ingest", environment: [
                    "VANE_KAFKA_BROKERS": kafka.bootstrapServers, "VANE_CONFIG_TOPIC": "vane.config", "VANE_LOG_LEVEL": "info",
                ])
                let chosen = ingest.port
                let squatter = TestPorts.occupy(chosen)
                defer { if let squatter { close(squatter) } }
                try await ingest.waitUntilReady()
                await ingest.stop()
                guard squatter != nil else { continue }
                #expect(ingest.port != chosen)
                return
            }
            Issue.record("the service bound its port before the test could, three times")
        }
    }
}
