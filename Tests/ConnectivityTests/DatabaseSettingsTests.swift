import Foundation
import PostgresSupport
import ServiceKit
import Testing
import TestSupport

/// Reading `VANE_DATABASE_URL` as libpq reads a connection URI: every sslmode, the certificate
/// parameters, and refusals for whatever this client cannot honour.
@Suite("PostgreSQL URL and TLS settings")
struct DatabaseSettingsTests {
    /// A CA file for the parameters that must name an existing one.
    static let folder: URL = try! temporaryFolder("DatabaseSettingsTests")
    static let ca: TestCertificateAuthority = try! TestCertificateAuthority.make(in: folder, name: "ca")

    func settings(_ url: String, _ environment: [String: String] = [:]) throws -> DatabaseSettings {
        try DatabaseSettings(url: url, environment: environment)
    }

    func error(_ url: String, _ environment: [String: String] = [:]) -> String {
        do {
            _ = try DatabaseSettings(url: url, environment: environment)
            return "no error"
        } catch {
            return error.message
        }
    }

    @Test("the parts of the URL, and libpq's default sslmode prefer")
    func parts() throws {
        let plain = try settings("postgres://vane:p%40ss@db.internal:6432/vane_db")
        #expect(plain.host == "db.internal" && plain.port == 6432 && plain.username == "vane" && plain.password == "p@ss")
        #expect(plain.database == "vane_db")
        #expect(plain.sslMode == .prefer && plain.rootCertificate == nil && !plain.requireTLS)
        #expect(!"\(plain)".contains("p@ss"))
        let overridden = try settings(
            "postgresql://x@h/d?user=u&password=pw&dbname=other&port=7000&application_name=vane-test&connect_timeout=1")
        #expect(overridden.username == "u" && overridden.password == "pw" && overridden.database == "other" && overridden.port == 7000)
        #expect(overridden.applicationName == "vane-test" && overridden.connectTimeout == .seconds(2))
        let configuration = overridden.clientConfiguration(maximumConnections: 3)
        #expect(configuration.options.additionalStartupParameters.contains { $0 == ("application_name", "vane-test") })
    }

    @Test("each sslmode, as libpq means it")
    func modes() throws {
        let ca = Self.ca.certificate.path
        #expect(try settings("postgres://u@h/d?sslmode=disable").sslMode == .disable)
        #expect(try settings("postgres://u@h/d?sslmode=allow").sslMode == .allow)
        let require = try settings("postgres://u@h/d?sslmode=require")
        #expect(require.requireTLS && require.rootCertificate == nil)
        // libpq: require with a root certificate checks the chain, as verify-ca does.
        #expect(try settings("postgres://u@h/d?sslmode=require&sslrootcert=\(ca)").rootCertificate == .file(ca))
        #expect(try settings("postgres://u@h/d?sslmode=verify-ca&sslrootcert=\(ca)").sslMode == .verifyCA)
        let full = try settings("postgres://u@h/d?sslmode=verify-full&sslrootcert=\(ca)")
        #expect(full.sslMode == .verifyFull && full.rootCertificate == .file(ca))
        #expect("\(full)".contains("verify-full"))
        #expect(try settings("postgres://u@h/d?sslmode=verify-full&sslrootcert=system").rootCertificate == .system)
        // libpq's environment defaults apply to a URL that does not say.
        let fromEnvironment = try settings("postgres://u@h/d", ["PGSSLMODE": "verify-full", "PGSSLROOTCERT": ca])
        #expect(fromEnvironment.sslMode == .verifyFull && fromEnvironment.rootCertificate == .file(ca))
        #expect(try settings("postgres://u@h/d?sslmode=disable", ["PGSSLMODE": "verify-full"]).sslMode == .disable)
    }

    @Test("what cannot be honoured fails, never weakens")
    func refusals() {
        let ca = Self.ca.certificate.path
        let cases: [(String, [String: String], String)] = [
            ("postgres://u@h/d?sslmode=verify_full", [:], "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full"),
            ("postgres://u@h/d?sslmode=verify-full", ["HOME": "/nonexistent"], "sslmode=verify-full needs sslrootcert"),
            ("postgres://u@h/d?sslmode=verify-ca", [:], "sslmode=verify-ca needs sslrootcert"),
            ("postgres://u@h/d?sslmode=require&sslrootcert=system", [:], "sslrootcert=system needs sslmode=verify-full"),
            ("postgres://u@h/d?sslmode=verify-full&sslrootcert=/no/such/ca.pem", [:], "sslrootcert \"/no/such/ca.pem\" does not exist"),
            ("postgres://u@h/d?sslmode=verify-full&sslrootcert=/etc/hostname", [:], "sslrootcert \"/etc/hostname\""),
            ("postgres://u@h/d?sslmode=disable&sslrootcert=\(ca)", [:], "sslmode=disable turns TLS off"),
            ("postgres://u@h/d?sslmode=verify-full&sslrootcert=\(ca)&sslcrl=/crl.pem", [:], "sslcrl=/crl.pem is not supported"),
            ("postgres://u@h/d?sslmode=verify-full&sslrootcert=\(ca)", ["PGSSLCRL": "/crl.pem"], "sslcrl=/crl.pem is not supported"),
            ("postgres://u@h/d?sslsni=0", [:], "sslsni=0 is not supported"),
            ("postgres://u@h/d?channel_binding=require", [:], "channel_binding=require is not supported"),
            ("postgres://u@h/d?gssencmode=require", [:], "gssencmode=require is not supported"),
            ("postgres://u@h/d?target_session_attrs=read-write", [:], "target_session_attrs=read-write is not supported"),
            ("postgres://u@h/d?ssl_min_protocol_version=TLSv9", [:], "ssl_min_protocol_version must be"),
            ("postgres://u@h/d?sslmode=require&sslcert=/etc/hostname", [:], "sslcert needs sslkey"),
            ("postgres://u@h/d?sslmod=require", [:], "unknown or unsupported parameter \"sslmod\""),
            ("postgres://u@h/d?keepalives=1", [:], "unknown or unsupported parameter \"keepalives\""),
            ("postgres://u@h/d?sslmode=require&sslmode=disable", [:], "parameter sslmode is given twice"),
            ("mysql://u@h/d", [:], "must look like postgres://"),
        ]
        for (url, environment, expected) in cases {
            let message = error(url, environment)
            #expect(message.contains(expected), "\(url): \(message)")
        }
    }

    @Test("VANE_DATABASE_URL problems name the variable; the URL may come from a file")
    func environment() throws {
        var bad = ServiceEnvironment(["VANE_DATABASE_URL": "postgres://u:secret-pw@h/d?sslmode=verify-full"])
        _ = bad.databaseSettings()
        #expect(throws: ServiceEnvironment.Problems.self) { try bad.validate() }
        do { try bad.validate() } catch {
            #expect(error.description.contains("VANE_DATABASE_URL: sslmode=verify-full needs sslrootcert"))
            #expect(!error.description.contains("secret-pw"))
        }
        let file = Self.folder.appendingPathComponent("database-url")
        try "postgres://u:pw@db:5432/vane?sslmode=verify-full&sslrootcert=\(Self.ca.certificate.path)\n"
            .write(to: file, atomically: true, encoding: .utf8)
        var fromFile = ServiceEnvironment(["VANE_DATABASE_URL_FILE": file.path])
        let settings = fromFile.databaseSettings()
        try fromFile.validate()
        #expect(settings.host == "db" && settings.password == "pw" && settings.sslMode == .verifyFull)
        var missing = ServiceEnvironment([:])
        _ = missing.databaseSettings()
        do { try missing.validate() } catch { #expect(error.description.contains("VANE_DATABASE_URL: is required")) }
    }
}
