import Foundation
import Testing
import TestSupport

/// The services themselves at start: PostgreSQL verify-full against the TLS test server, Kafka
/// security settings validated (exit 78 naming the variable) and logged with secrets redacted.
@Suite("Services start with TLS and security settings", .serialized, .timeLimit(.minutes(4)))
struct ServiceStartTests {
    /// Waits for `process` to exit by itself; its status, or nil if it is still running after `timeout`.
    func exitStatus(_ process: ServiceProcess, within timeout: Duration = .seconds(30)) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
        return await process.stop()
    }

    /// Waits until the service's log contains `text`.
    func waitForLog(_ process: ServiceProcess, _ text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let log = (try? String(contentsOf: process.logFile, encoding: .utf8)) ?? ""
            if log.contains(text) || ContinuousClock.now >= deadline { return log }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test("management-api and events-processor connect with verify-full and refuse a certificate for another host")
    func postgresVerifyFull() async throws {
        let postgres = try PostgresServer.start()
        let ca = try #require(postgres.tls).authority.certificate.path
        let database = try await postgres.createDatabase(prefix: "verifyfull")
        try await DevKafka.with(brokers: 1, topics: ["vane.config:1", "vane.events.raw:1"]) { kafka in
            let good = database + "?sslmode=verify-full&sslrootcert=\(ca)"
            let api = try ServiceProcess(
                "management-api", environment: ["VANE_DATABASE_URL": good, "VANE_KAFKA_BROKERS": kafka.bootstrapServers])
            defer { api.stopBlocking() }
            try await api.waitUntilReady()
            #expect(api.logTail(lines: 200).contains("PostgreSQL connection checked"))

            // The same server reached as 127.0.0.2, a name its certificate does not carry.
            let wrongHost = good.replacingOccurrences(of: "@127.0.0.1:", with: "@127.0.0.2:")
            for service in ["management-api", "events-processor"] {
                let process = try ServiceProcess(
                    service, environment: ["VANE_DATABASE_URL": wrongHost, "VANE_KAFKA_BROKERS": kafka.bootstrapServers])
                let status = try await exitStatus(process)
                let log = process.logTail(lines: 80)
                #expect(status != nil && status != 0, "\(service) must stop: \(log)")
                #expect(log.contains("does not name 127.0.0.2"), "\(service): \(log)")
            }

            // An unknown CA, with verify-ca (which does not check names).
            let other = try TestCertificateAuthority.make(in: try temporaryFolder(), name: "other")
            let process = try ServiceProcess(
                "events-processor",
                environment: [
                    "VANE_DATABASE_URL": database + "?sslmode=verify-ca&sslrootcert=\(other.certificate.path)",
                    "VANE_KAFKA_BROKERS": kafka.bootstrapServers,
                ])
            let status = try await exitStatus(process)
            #expect(status != nil && status != 0)
            #expect(process.logTail(lines: 80).contains("is not signed by the CA certificates in \(other.certificate.path)"))
        }
    }

    @Test("the effective Kafka configuration is logged at start with secrets redacted")
    func maskedKafkaConfiguration() async throws {
        let folder = try temporaryFolder()
        let password = folder.appendingPathComponent("password")
        try "file-secret-77\n".write(to: password, atomically: true, encoding: .utf8)
        let relay = try ServiceProcess(
            "relay-streamer",
            environment: [
                "VANE_KAFKA_BROKERS": "127.0.0.1:1", "VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
                "VANE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
                "VANE_KAFKA_SASL_USERNAME": "vane-relay", "VANE_KAFKA_SASL_PASSWORD_FILE": password.path,
                "VANE_KAFKA_PROPERTY_ssl_keystore_password": "env-secret-88", "VANE_LOG_LEVEL": "debug",
            ])
        defer { relay.stopBlocking() }
        let log = try await waitForLog(relay, "starting relay-streamer")
        #expect(log.contains("security.protocol=sasl_ssl"), "\(log)")
        #expect(log.contains("sasl.mechanisms=SCRAM-SHA-256"))
        #expect(log.contains("sasl.password=[redacted]"))
        #expect(log.contains("ssl.keystore.password=[redacted]"))
        try await Task.sleep(for: .seconds(2))  // librdkafka's own connection attempts are logged too
        let later = (try? String(contentsOf: relay.logFile, encoding: .utf8)) ?? ""
        #expect(!later.contains("file-secret-77"))
        #expect(!later.contains("env-secret-88"))
    }

    @Test("a wrong Kafka security setting stops every service at start (status 78), naming the variable")
    func invalidSettingsFailTheStart() async throws {
        let common = [
            "VANE_KAFKA_BROKERS": "127.0.0.1:1", "VANE_DATABASE_URL": "postgres://u@127.0.0.1:1/d",
            "VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-1",
            "VANE_KAFKA_SASL_USERNAME": "u", "VANE_KAFKA_SASL_PASSWORD": "never-print-me",
        ]
        for service in ["management-api", "relay-streamer", "events-ingest", "events-processor"] {
            let process = try ServiceProcess(service, environment: common)
            let status = try await exitStatus(process)
            let log = process.logTail(lines: 40)
            #expect(status == 78, "\(service): \(log)")
            let expected = "VANE_KAFKA_SASL_MECHANISM: must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"
            #expect(log.contains(expected), "\(service): \(log)")
            #expect(!log.contains("never-print-me"))
        }
        // vanectl reads the same settings the same way.
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in common { environment[name] = value }
        let check = try await ChildProcess.run(RepositoryPaths.executable("vanectl"), ["kafka-check"], environment: environment)
        #expect(check.status == 78)
        #expect(check.standardError.contains("VANE_KAFKA_SASL_MECHANISM: must be one of"))
    }
}
