import Foundation
import PostgresNIO
import ServiceKit

/// PostgreSQL connection settings from a libpq connection URI,
/// `postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=ca.pem`
/// (`VANE_DATABASE_URL`; management-api and events-processor share one database).
///
/// The TLS parameters mean what they mean to libpq (and `psql`), so a URL that works there works
/// here with the same security: ``SSLMode`` says what each mode checks. Parameters this client
/// cannot honour (`sslcrl`, `sslsni=0`, `channel_binding=require`, …) and unknown parameters are
/// errors, never ignored: a setting that silently did nothing could leave a connection unverified
/// while the operator believes it is checked.
public struct DatabaseSettings: Sendable, CustomStringConvertible {
    /// libpq's `sslmode`.
    public enum SSLMode: String, Sendable, CaseIterable, Comparable {
        /// Never TLS.
        case disable
        /// TLS if the server insists. This client tries TLS first (as `prefer` does) and falls back to
        /// plaintext when the server does not offer it: it connects in every case `allow` does, and
        /// encrypts whenever it can.
        case allow
        /// TLS when the server offers it, else plaintext (libpq's default). Not a security setting.
        case prefer
        /// TLS or no connection. The certificate is not checked, unless a root certificate is
        /// given (`sslrootcert`, or `~/.postgresql/root.crt` exists): then it must chain to it,
        /// as with `verify-ca` (libpq's behaviour).
        case require
        /// TLS, and the server's certificate must chain to `sslrootcert`. Any host name.
        case verifyCA = "verify-ca"
        /// TLS, the certificate must chain to `sslrootcert` and name the host connected to.
        case verifyFull = "verify-full"

        public static func < (lhs: SSLMode, rhs: SSLMode) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }

        /// Whether a connection without TLS is refused.
        public var requiresTLS: Bool { self >= .require }
    }

    /// What the server's certificate must chain to.
    public enum RootCertificate: Sendable, Hashable {
        /// A PEM file of CA certificates.
        case file(String)
        /// The system's trusted roots (`sslrootcert=system`, libpq 16).
        case system
    }

    /// A URL that cannot be used; the message names the part or parameter at fault.
    public struct URLError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// nil: the certificate chain is not checked (only possible below `verify-ca`).
    public var rootCertificate: RootCertificate?
    /// The client certificate and key (`sslcert`, `sslkey`), for servers that authenticate clients by certificate.
    public var clientCertificate: String?
    public var clientKey: String?
    public var minimumTLSVersion: TLSVersion
    public var maximumTLSVersion: TLSVersion?
    /// `application_name`, shown in `pg_stat_activity`.
    public var applicationName: String?
    /// `options`, sent to the server at start (e.g. `-c statement_timeout=5s`).
    public var serverOptions: String?
    /// `connect_timeout`; nil: ``defaultConnectTimeout``.
    public var connectTimeout: Duration?
    /// How long a connection attempt may take when the URL has no `connect_timeout`.
    public static let defaultConnectTimeout: Duration = .seconds(5)
    /// The TLS configuration, with every certificate and key already loaded (nil for `disable`).
    private let tlsConfiguration: TLSConfiguration?

    /// Whether connections are refused unless encrypted.
    public var requireTLS: Bool { sslMode.requiresTLS }

    /// The libpq parameters this client reads from the URL's query, with the environment variable
    /// libpq reads as their default (for the security ones: a `PGSSLMODE=verify-full` next to a URL
    /// without `sslmode` still verifies).
    public static let supportedParameters: [String: String?] = [
        "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
        "sslpassword": nil, "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
        "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "sslsni": "PGSSLSNI", "sslcrl": "PGSSLCRL",
        "sslcrldir": "PGSSLCRLDIR", "sslnegotiation": "PGSSLNEGOTIATION", "sslcompression": "PGSSLCOMPRESSION",
        "channel_binding": "PGCHANNELBINDING", "gssencmode": "PGGSSENCMODE",
        "target_session_attrs": "PGTARGETSESSIONATTRS", "application_name": nil, "fallback_application_name": nil,
        "connect_timeout": nil, "options": nil, "user": nil, "password": nil, "dbname": nil, "host": nil, "port": nil,
    ]

    /// Parses and checks a URL; `environment` supplies libpq's `PGSSL…` defaults and `HOME` (for
    /// `~/.postgresql/root.crt`). Certificate and key files are loaded here, so a missing or
    /// unreadable file fails now rather than at the first connection.
    public init(url text: String, environment: [String: String] = [:]) throws(URLError) {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? "") else {
            throw URLError(message: "must look like postgres://user:password@host:5432/database")
        }
        var parameters: [String: String] = [:]
        for item in url.queryItems ?? [] {
            guard Self.supportedParameters[item.name] != nil else {
                let known = Self.supportedParameters.keys.sorted().joined(separator: ", ")
                throw URLError(message: "unknown or unsupported parameter \"\(item.name)\" (supported: \(known))")
            }
            guard parameters[item.name] == nil else { throw URLError(message: "parameter \(item.name) is given twice") }
            parameters[item.name] = item.value ?? ""
        }
        func parameter(_ name: String) -> String? {
            if let value = parameters[name] { return value }
            guard let variable = Self.supportedParameters[name] ?? nil, let value = environment[variable], !value.isEmpty else {
                return nil
            }
            return value
        }

        host = parameters["host"] ?? url.host ?? ""
        guard !host.isEmpty else { throw URLError(message: "has no host") }
        guard !host.hasPrefix("/") else { throw URLError(message: "Unix-domain socket hosts (\(host)) are not supported; use TCP") }
        if let portText = parameters["port"] {
            guard let value = Int(portText), (1...65535).contains(value) else { throw URLError(message: "port must be 1...65535") }
            port = value
        } else {
            port = url.port ?? 5432
        }
        username = parameters["user"] ?? url.user ?? "postgres"
        password = parameters["password"] ?? url.password
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = parameters["dbname"] ?? (path.isEmpty ? username : path)
        applicationName = parameters["application_name"] ?? parameters["fallback_application_name"]
        serverOptions = parameters["options"]
        if let timeout = parameters["connect_timeout"] {
            guard let seconds = Int(timeout), seconds >= 0 else { throw URLError(message: "connect_timeout must be whole seconds") }
            // libpq: 0 waits forever, and less than 2 s means 2 s.
            connectTimeout = seconds == 0 ? nil : .seconds(max(2, seconds))
        }

        let modeText = parameter("sslmode") ?? "prefer"
        guard let mode = SSLMode(rawValue: modeText) else {
            let modes = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
            throw URLError(message: "sslmode must be one of \(modes), got \"\(modeText)\"")
        }
        sslMode = mode
        try Self.checkUnsupported(parameter)
        minimumTLSVersion = try Self.tlsVersion(parameter("ssl_min_protocol_version"), name: "ssl_min_protocol_version") ?? .tlsv12
        maximumTLSVersion = try Self.tlsVersion(parameter("ssl_max_protocol_version"), name: "ssl_max_protocol_version")

        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        rootCertificate = try Self.rootCertificate(parameter("sslrootcert"), mode: mode, home: home)
        clientCertificate = parameter("sslcert")
        clientKey = parameter("sslkey")
        if clientCertificate == nil, clientKey == nil, let home, mode != .disable {
            // libpq sends ~/.postgresql/postgresql.crt (with its .key) when it exists.
            let defaultCertificate = home + "/.postgresql/postgresql.crt"
            if FileManager.default.fileExists(atPath: defaultCertificate) {
                clientCertificate = defaultCertificate
                clientKey = home + "/.postgresql/postgresql.key"
            }
        }
        if (clientCertificate == nil) != (clientKey == nil) {
            throw URLError(message: clientCertificate == nil ? "sslkey needs sslcert" : "sslcert needs sslkey")
        }
        if mode == .disable, rootCertificate != nil || clientCertificate != nil {
            throw URLError(message: "sslmode=disable turns TLS off, but sslrootcert or sslcert is set: choose verify-full, or remove them")
        }
        tlsConfiguration = try Self.makeTLSConfiguration(
            mode: mode, root: rootCertificate, certificate: clientCertificate, key: clientKey, keyPassword: parameters["sslpassword"],
            minimum: minimumTLSVersion, maximum: maximumTLSVersion)
    }

    /// Rejects the libpq parameters whose non-default values this client cannot honour.
    private static func checkUnsupported(_ parameter: (String) -> String?) throws(URLError) {
        let accepted: [(name: String, values: Set<String>, why: String)] = [
            ("sslcrl", [], "certificate revocation lists are not supported"),
            ("sslcrldir", [], "certificate revocation lists are not supported"),
            ("sslsni", ["1"], "Server Name Indication is always sent for host names"),
            ("sslnegotiation", ["postgres"], "only the PostgreSQL SSLRequest negotiation is supported"),
            ("sslcompression", ["0"], "TLS compression is not supported"),
            ("channel_binding", ["disable", "prefer"], "SCRAM channel binding is not supported"),
            ("gssencmode", ["disable", "prefer"], "GSSAPI encryption is not supported"),
            ("target_session_attrs", ["any"], "only one host is supported, whatever its role"),
        ]
        for rule in accepted {
            guard let value = parameter(rule.name) else { continue }
            if !rule.values.contains(value) {
                let allowed = rule.values.isEmpty ? "" : " (accepted: \(rule.values.sorted().joined(separator: ", ")))"
                throw URLError(message: "\(rule.name)=\(value) is not supported: \(rule.why)\(allowed)")
            }
        }
    }

    private static func tlsVersion(_ text: String?, name: String) throws(URLError) -> TLSVersion? {
        guard let text else { return nil }
        switch text {
        case "TLSv1": return .tlsv1
        case "TLSv1.1": return .tlsv11
        case "TLSv1.2": return .tlsv12
        case "TLSv1.3": return .tlsv13
        default: throw URLError(message: "\(name) must be TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3, got \"\(text)\"")
        }
    }

    /// libpq's choice of root certificate: `sslrootcert`, else `~/.postgresql/root.crt` if it
    /// exists; required from `verify-ca` on. `system` only with `verify-full`, as in libpq 16.
    private static func rootCertificate(_ explicit: String?, mode: SSLMode, home: String?) throws(URLError) -> RootCertificate? {
        if explicit == "system" {
            guard mode == .verifyFull else {
                throw URLError(message: "sslrootcert=system needs sslmode=verify-full (public CAs sign certificates for any host)")
            }
            return .system
        }
        if let explicit {
            guard FileManager.default.isReadableFile(atPath: explicit) else {
                throw URLError(message: "sslrootcert \"\(explicit)\" does not exist or is not readable")
            }
            return .file(explicit)
        }
        guard mode != .disable else { return nil }
        if let home, FileManager.default.isReadableFile(atPath: home + "/.postgresql/root.crt") {
            return .file(home + "/.postgresql/root.crt")
        }
        if mode >= .verifyCA {
            throw URLError(
                message: "sslmode=\(mode.rawValue) needs sslrootcert=<CA file> (or sslrootcert=system for the system's trusted roots);"
                    + " ~/.postgresql/root.crt does not exist")
        }
        return nil
    }

    private static func makeTLSConfiguration(
        mode: SSLMode, root: RootCertificate?, certificate: String?, key: String?, keyPassword: String?,
        minimum: TLSVersion, maximum: TLSVersion?
    ) throws(URLError) -> TLSConfiguration? {
        guard mode != .disable else { return nil }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = minimum
        tls.maximumTLSVersion = maximum
        switch root {
        case nil:
            tls.certificateVerification = .none
        case .system:
            tls.trustRoots = .default
            tls.certificateVerification = .fullVerification
        case .file(let path):
            do {
                let certificates = try NIOSSLCertificate.fromPEMFile(path)
                guard !certificates.isEmpty else { throw URLError(message: "sslrootcert \"\(path)\" holds no PEM certificate") }
                tls.trustRoots = .certificates(certificates)
            } catch let error as URLError {
                throw error
            } catch {
                throw URLError(message: "sslrootcert \"\(path)\" cannot be read as PEM certificates: \(error)")
            }
            tls.certificateVerification = mode == .verifyFull ? .fullVerification : .noHostnameVerification
        }
        if let certificate, let key {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) }
            } catch {
                throw URLError(message: "sslcert \"\(certificate)\" cannot be read as PEM certificates: \(error)")
            }
            do {
                let privateKey: NIOSSLPrivateKey
                if let keyPassword {
                    privateKey = try NIOSSLPrivateKey(file: key, format: .pem) { (setPassphrase: NIOSSLPassphraseSetter<[UInt8]>) in
                        setPassphrase(Array(keyPassword.utf8))
                    }
                } else {
                    privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
                }
                tls.privateKey = .privateKey(privateKey)
            } catch {
                throw URLError(message: "sslkey \"\(key)\" cannot be read as a PEM private key (wrong sslpassword?): \(error)")
            }
        }
        return tls
    }

    /// The client configuration for a pool of at most `maximumConnections`, keeping
    /// `minimumConnections` open (so that the first requests after a quiet period do not pay for
    /// connecting).
    public func clientConfiguration(maximumConnections: Int, minimumConnections: Int = 1) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch tlsNegotiation {
            case .disable: .disable
            case .prefer(let configuration): .prefer(configuration)
            case .require(let configuration): .require(configuration)
            }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(minimumConnections, maximumConnections)
        // libpq waits forever by default; a server that accepts but never answers must not hold a
        // pool slot that long.
        configuration.options.connectTimeout = connectTimeout ?? Self.defaultConnectTimeout
        if let applicationName { configuration.options.additionalStartupParameters.append(("application_name", applicationName)) }
        if let serverOptions { configuration.options.additionalStartupParameters.append(("options", serverOptions)) }
        return configuration
    }

    /// How a connection negotiates TLS: never, if the server offers it, or always.
    enum TLSNegotiation {
        case disable
        case prefer(TLSConfiguration)
        case require(TLSConfiguration)
    }

    var tlsNegotiation: TLSNegotiation {
        switch (sslMode, tlsConfiguration) {
        case (.disable, _), (_, nil): .disable
        case (.allow, let configuration?), (.prefer, let configuration?): .prefer(configuration)
        case (_, let configuration?): .require(configuration)
        }
    }

    /// What TLS does for this connection, in words, for the start-up log.
    public var tlsDescription: String {
        let root: String =
            switch rootCertificate {
            case nil: "certificate not checked"
            case .system: "certificate checked against the system's roots"
            case .file(let path): "certificate checked against \(path)"
            }
        switch sslMode {
        case .disable: return "disable (no TLS)"
        case .allow, .prefer: return "\(sslMode.rawValue) (TLS if offered, else plaintext; \(root))"
        case .require: return "require (TLS; \(root))"
        case .verifyCA: return "verify-ca (TLS; \(root); any host name)"
        case .verifyFull: return "verify-full (TLS; \(root); must name \(host))"
        }
    }

    /// The URL without the password, with the TLS mode, for logs.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database) sslmode=\(tlsDescription)"
            + (clientCertificate.map { " client certificate \($0)" } ?? "")
    }
}

extension ServiceEnvironment {
    /// `VANE_DATABASE_URL` (required; or `VANE_DATABASE_URL_FILE`). A missing or unusable URL is
    /// reported as a problem naming the variable, and a placeholder is returned, so that every other
    /// setting is still checked before start fails.
    public mutating func databaseSettings() -> DatabaseSettings {
        let hint = "postgres://user:password@host:5432/database"
        let url = secret("VANE_DATABASE_URL")
        if url == nil && !isSet("VANE_DATABASE_URL_FILE") {
            report("VANE_DATABASE_URL", "is required (\(hint))")
        }
        if let url {
            do {
                return try DatabaseSettings(url: url, environment: allVariables)
            } catch {
                report(isSet("VANE_DATABASE_URL") ? "VANE_DATABASE_URL" : "VANE_DATABASE_URL_FILE", error.message)
            }
        }
        return try! DatabaseSettings(url: "postgres://invalid@localhost/invalid?sslmode=disable")
    }
}
