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

    @Test("a service whose port is in use while Kafka is unreachable exits with an error, not a crash", .timeLimit(.minutes(1)))
    func portInUseWithoutBroker() async throws {
        // The HTTP server fails at once and the service group cancels the rest, among it the config feed still waiting
        // for the topic's metadata. That wait used to ignore cancellation, and service-lifecycle ended the process with
        // SIGILL after 5 s ("Cancellation took longer than allowed").
        let port = try TestPorts.next()
        guard let squatter = TestPorts.occupy(port) else {
            Issue.record("could not occupy port \(port)")
            return
        }
        defer { close(squatter) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("vane-ingest-port-\(port).log")
        defer { try? FileManager.default.removeItem(at: log) }
        var environment = ProcessInfo.processInfo.environment
        environment["VANE_HTTP_PORT"] = "\(port)"
        environment["VANE_HTTP_HOST"] = "127.0.0.1"
        environment["VANE_KAFKA_BROKERS"] = "127.0.0.1:1"
        environment["SWIFT_BACKTRACE"] = "enable=no"
        let process = try Subprocess(
            RepositoryPaths.executable("events-ingest").path, [], environment: environment,
            standardOutput: .null, standardError: .file(log.path))
        let status = await process.wait(timeout: .seconds(45))
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(status == 1, "exit status \(status.map(String.init) ?? "none") (128 + 4 is SIGILL); standard error:\n\(output.suffix(2000))")
        #expect(output.contains("Address already in use"), "standard error says why: \(output.suffix(2000))")
        #expect(!output.contains("Cancellation took longer"))
    }
}
