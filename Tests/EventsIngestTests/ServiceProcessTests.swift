import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
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
                let squatter = Self.listen(on: chosen)
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

    /// A socket listening on 127.0.0.1:`port`, or nil when the port is taken.
    private static func listen(on port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 1) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }
}
