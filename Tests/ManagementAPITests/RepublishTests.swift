import Foundation
import ModelsCore
import Testing
import TestSupport

@Suite("management-api: a fresh broker gets the full state", .serialized, .timeLimit(.minutes(3)))
struct RepublishTests {
    @Test("started against an empty topic, management-api republishes everything")
    func republishToFreshBroker() async throws {
        try await withHarness { api in
            try await api.expect(201, "POST", "/projects", #"{"key":"p","name":"P"}"#)
            try await api.expect(201, "POST", "/projects/p/flags", #"{"key":"f","name":"F","variations":[{"value":1},{"value":2}]}"#)
            try await api.expect(201, "PUT", "/projects/p/environments/test/segments/s", "{}")

            // The broker's data is lost: management-api restarts on the same database against a
            // brand-new broker, and must refill it (each item once, as the only publisher).
            #expect(await api.stack.managementAPI.stop() == 0)
            let fresh = try await DevKafka.start(brokers: 1, topics: ["vane.config:3"])
            let second = try ServiceProcess("management-api", environment: [
                "VANE_DATABASE_URL": api.stack.databaseURL, "VANE_KAFKA_BROKERS": fresh.bootstrapServers,
            ])
            try await second.waitUntilReady()
            let deadline = ContinuousClock.now + .seconds(30)
            var kinds: [String] = []
            while ContinuousClock.now < deadline {
                let records = try await readConfigTopic(brokers: fresh.bootstrapServers)
                kinds = records.map { "\($0.kind.rawValue)/\($0.key)" }.sorted()
                if kinds.count >= 5 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            // Two environments, the flag in both, and the segment.
            #expect(kinds == ["environment/production", "environment/test", "flag/f", "flag/f", "segment/s"], "\(second.logTail())")
            await second.stop()
            _ = await fresh.stop()
        }
    }
}
