import Foundation
import Logging
import PostgresNIO
import PostgresSupport
import Testing
import TestSupport

/// TLS to the private test server end to end: its certificate names 127.0.0.1 and localhost and is
/// signed by a CA made at start; it also answers on 127.0.0.2, a name its certificate lacks.
@Suite("PostgreSQL over TLS", .serialized)
struct PostgresTLSTests {
    let server: PostgresServer
    let tls: PostgresServer.TLS
    let logger = TestLogger.make("postgres-tls")

    init() throws {
        server = try PostgresServer.start()
        guard let tls = server.tls else {
            throw ChildProcess.LaunchError(description: "VANE_TEST_POSTGRES_URL points at a server without the test CA")
        }
        self.tls = tls
    }

    func url(host: String = "127.0.0.1", user: String = "postgres", _ query: String) -> String {
        "postgres://\(user)@\(host):\(server.port)/postgres?\(query)"
    }

    /// Connects with the pool's own settings and asks the server whether the session is encrypted.
    func sessionIsEncrypted(_ url: String) async throws -> Bool {
        let settings = try DatabaseSettings(url: url)
        try await settings.checkConnection(logger: logger)
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: 1), backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let rows = try await client.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: logger)
            for try await ssl in rows.decode(Bool.self) { return ssl }
            return false
        }
    }

    /// The explanation of a refused connection (nil when it connected).
    func refusal(_ url: String) async throws -> DatabaseConnectionError? {
        do {
            try await DatabaseSettings(url: url).checkConnection(logger: logger)
            return nil
        } catch let error as DatabaseConnectionError {
            return error
        }
    }

    @Test("verify-full connects to a host the certificate names, encrypted")
    func verifyFull() async throws {
        let ca = tls.authority.certificate.path
        #expect(try await sessionIsEncrypted(url("sslmode=verify-full&sslrootcert=\(ca)")))
        #expect(try await sessionIsEncrypted(url(host: "localhost", "sslmode=verify-full&sslrootcert=\(ca)")))
    }

    @Test("verify-full refuses a certificate for another host; verify-ca does not check the name")
    func wrongHost() async throws {
        let ca = tls.authority.certificate.path
        let refused = try await refusal(url(host: "127.0.0.2", "sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(refused?.kind == .certificateRejected)
        #expect(refused?.message.contains("does not name 127.0.0.2") == true, "\(String(describing: refused))")
        #expect(try await sessionIsEncrypted(url(host: "127.0.0.2", "sslmode=verify-ca&sslrootcert=\(ca)")))
    }

    @Test("a certificate from an unknown CA is refused by verify-ca, verify-full and require with sslrootcert")
    func unknownCA() async throws {
        let other = try TestCertificateAuthority.make(in: try temporaryFolder(), name: "other-ca")
        for mode in ["verify-full", "verify-ca", "require"] {
            let refused = try await refusal(url("sslmode=\(mode)&sslrootcert=\(other.certificate.path)"))
            #expect(refused?.kind == .certificateRejected, "\(mode)")
            #expect(
                refused?.message.contains("not signed by the CA certificates in \(other.certificate.path)") == true,
                "\(mode): \(String(describing: refused))")
        }
    }

    @Test("require encrypts without checking the certificate; prefer encrypts when offered; disable does not")
    func weakerModes() async throws {
        #expect(try await sessionIsEncrypted(url("sslmode=require")))
        #expect(try await sessionIsEncrypted(url(host: "127.0.0.2", "sslmode=require")))
        #expect(try await sessionIsEncrypted(url("sslmode=prefer")))
        #expect(try await sessionIsEncrypted(url("")))  // libpq's default is prefer
        #expect(try await sessionIsEncrypted(url("sslmode=disable")) == false)
    }

    @Test("a client certificate (sslcert, sslkey, sslpassword) authenticates the vane_cert role")
    func clientCertificate() async throws {
        let setup = try DatabaseSettings(url: url("sslmode=disable"))
        try await withClient(setup) { client in
            try await client.query(
                "DO $$ BEGIN CREATE ROLE vane_cert LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$", logger: logger)
        }
        let issued = try tls.authority.issue(
            "vane_cert-\(UUID().uuidString.prefix(6))", commonName: "vane_cert", subjectAlternativeNames: [], keyPassword: "k3y")
        let ca = tls.authority.certificate.path
        let withCertificate = url(
            user: "vane_cert",
            "sslmode=verify-full&sslrootcert=\(ca)&sslcert=\(issued.certificate.path)&sslkey=\(issued.key.path)&sslpassword=k3y")
        #expect(try await sessionIsEncrypted(withCertificate))
        let without = try await refusal(url(user: "vane_cert", "sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(without != nil && without?.kind == .other)
        // A wrong passphrase is found when the settings are read, before any connection.
        #expect(throws: DatabaseSettings.URLError.self) {
            let files = "sslcert=\(issued.certificate.path)&sslkey=\(issued.key.path)"
            return try DatabaseSettings(url: url(user: "vane_cert", "sslmode=verify-full&sslrootcert=\(ca)&\(files)&sslpassword=nope"))
        }
    }

    func withClient(_ settings: DatabaseSettings, _ body: (PostgresClient) async throws -> Void) async throws {
        let client = PostgresClient(configuration: settings.clientConfiguration(maximumConnections: 1), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}
