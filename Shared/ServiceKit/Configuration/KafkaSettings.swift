import Foundation
import KafkaKit
import Logging

/// How a service (or `vanectl`) reaches Kafka: the bootstrap servers and the security settings,
/// read once from the environment and mapped into every KafkaKit client configuration.
///
/// Build client configurations through ``producer(clientID:)``, ``consumer(clientID:groupID:topics:)``,
/// ``topicReader(clientID:topic:startPosition:)`` and ``admin(clientID:)`` so that no client is
/// created without the security settings.
public struct KafkaSettings: Sendable, CustomStringConvertible {
    public var brokers: [String]
    public var security: KafkaSecurity

    public init(brokers: [String], security: KafkaSecurity = .plaintext) {
        self.brokers = brokers
        self.security = security
    }

    public func producer(clientID: String) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: brokers)
        configuration.clientID = clientID
        configuration.security = security
        return configuration
    }

    public func consumer(clientID: String, groupID: String, topics: [String]) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(bootstrapServers: brokers, groupID: groupID, topics: topics)
        configuration.clientID = clientID
        configuration.security = security
        return configuration
    }

    public func topicReader(
        clientID: String, topic: String, startPosition: KafkaTopicReaderConfiguration.StartPosition = .earliest
    ) -> KafkaTopicReaderConfiguration {
        var configuration = KafkaTopicReaderConfiguration(bootstrapServers: brokers, topic: topic, startPosition: startPosition)
        configuration.clientID = clientID
        configuration.security = security
        return configuration
    }

    public func admin(clientID: String) -> KafkaAdminConfiguration {
        var configuration = KafkaAdminConfiguration(bootstrapServers: brokers)
        configuration.clientID = clientID
        configuration.security = security
        return configuration
    }

    /// The brokers and the effective security properties, secrets redacted: what services log at start.
    public var description: String {
        "brokers=\(brokers.joined(separator: ",")) \(security.redactedDescription)"
    }
}

extension ServiceEnvironment {
    /// The variables of the Kafka security settings, by the librdkafka property each one sets; used
    /// to name the variable at fault when librdkafka rejects a property.
    static let kafkaVariableOfProperty: [String: String] = [
        "security.protocol": "VANE_KAFKA_SECURITY_PROTOCOL",
        "sasl.mechanisms": "VANE_KAFKA_SASL_MECHANISM",
        "sasl.oauthbearer.method": "VANE_KAFKA_SASL_MECHANISM",
        "sasl.username": "VANE_KAFKA_SASL_USERNAME",
        "sasl.password": "VANE_KAFKA_SASL_PASSWORD",
        "sasl.oauthbearer.token.endpoint.url": "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
        "sasl.oauthbearer.client.id": "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "sasl.oauthbearer.client.secret": "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET",
        "sasl.oauthbearer.scope": "VANE_KAFKA_SASL_OAUTHBEARER_SCOPE",
        "sasl.oauthbearer.extensions": "VANE_KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
        "ssl.ca.location": "VANE_KAFKA_SSL_CA_LOCATION",
        "ssl.certificate.location": "VANE_KAFKA_SSL_CERTIFICATE_LOCATION",
        "ssl.key.location": "VANE_KAFKA_SSL_KEY_LOCATION",
        "ssl.key.password": "VANE_KAFKA_SSL_KEY_PASSWORD",
        "ssl.endpoint.identification.algorithm": "VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION",
    ]

    /// `VANE_KAFKA_BROKERS` and the Kafka security settings (documented in docs/deployment.md):
    ///
    /// - `VANE_KAFKA_SECURITY_PROTOCOL`: `plaintext` (default), `ssl`, `sasl_plaintext`, `sasl_ssl`;
    /// - `VANE_KAFKA_SASL_MECHANISM`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`, with
    ///   `VANE_KAFKA_SASL_USERNAME` and `VANE_KAFKA_SASL_PASSWORD`, or (OAUTHBEARER)
    ///   `VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL`, `…_CLIENT_ID`, `…_CLIENT_SECRET`,
    ///   optional `…_SCOPE` and `…_EXTENSIONS`;
    /// - `VANE_KAFKA_SSL_CA_LOCATION`, `VANE_KAFKA_SSL_CERTIFICATE_LOCATION`,
    ///   `VANE_KAFKA_SSL_KEY_LOCATION`, `VANE_KAFKA_SSL_KEY_PASSWORD`,
    ///   `VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION` (`https`, the default, or `none`);
    /// - secrets (`…_USERNAME`, `…_PASSWORD`, `…_CLIENT_SECRET`, `…_KEY_PASSWORD`) also from a file
    ///   named by the same variable with `_FILE` appended;
    /// - any other librdkafka property from `VANE_KAFKA_PROPERTIES_FILE` (`name=value` lines), then
    ///   from `VANE_KAFKA_PROPERTY_<name>` (dots written as underscores), applied last.
    ///
    /// Inconsistent settings (a SASL or TLS variable the protocol does not use, a missing credential,
    /// a file that does not exist) are reported as problems naming the variable; consistent ones are
    /// then checked by librdkafka itself (``KafkaSecurity/validate()``) without contacting a broker.
    public mutating func kafkaSettings() -> KafkaSettings {
        let brokers = kafkaBrokers()
        let security = kafkaSecurity()
        return KafkaSettings(brokers: brokers, security: security)
    }

    private mutating func kafkaSecurity() -> KafkaSecurity {
        let problemsBefore = problemCount
        let protocolText = string("VANE_KAFKA_SECURITY_PROTOCOL", default: "plaintext").lowercased()
        let securityProtocol = KafkaSecurity.SecurityProtocol(rawValue: protocolText)
        if securityProtocol == nil {
            report("VANE_KAFKA_SECURITY_PROTOCOL", "must be one of plaintext, ssl, sasl_plaintext, sasl_ssl, got \"\(protocolText)\"")
        }
        let chosen = securityProtocol ?? .plaintext
        var security = KafkaSecurity(protocol: chosen)
        security.sasl = kafkaSASL(protocol: chosen, valid: securityProtocol != nil)
        security.tls = kafkaTLS(protocol: chosen, valid: securityProtocol != nil)
        security.additionalProperties = kafkaPassThrough()
        // librdkafka's own check only makes sense for settings that passed ours.
        guard problemCount == problemsBefore else { return security }
        do {
            try security.validate()
        } catch {
            let variable = kafkaVariable(blamedBy: error.message, passThrough: security.additionalProperties)
            let hint =
                variable == "VANE_KAFKA_SSL_KEY_LOCATION" && security.tls.keyPassword != nil
                ? " (a wrong VANE_KAFKA_SSL_KEY_PASSWORD, or a key that does not match the certificate)" : ""
            report(variable, "rejected by librdkafka: \(error.message)\(hint)")
        }
        return security
    }

    private static let saslVariables = [
        "VANE_KAFKA_SASL_MECHANISM", "VANE_KAFKA_SASL_USERNAME", "VANE_KAFKA_SASL_PASSWORD",
        "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "VANE_KAFKA_SASL_OAUTHBEARER_SCOPE",
        "VANE_KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
    ]
    private static let passwordVariables = ["VANE_KAFKA_SASL_USERNAME", "VANE_KAFKA_SASL_PASSWORD"]
    private static let oidcVariables = [
        "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID",
        "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "VANE_KAFKA_SASL_OAUTHBEARER_SCOPE",
        "VANE_KAFKA_SASL_OAUTHBEARER_EXTENSIONS",
    ]
    private static let tlsVariables = [
        "VANE_KAFKA_SSL_CA_LOCATION", "VANE_KAFKA_SSL_CERTIFICATE_LOCATION", "VANE_KAFKA_SSL_KEY_LOCATION",
        "VANE_KAFKA_SSL_KEY_PASSWORD", "VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION",
    ]

    /// Whether `name` or its `_FILE` variant is set.
    private func isSetOrFile(_ name: String) -> Bool { isSet(name) || isSet(name + "_FILE") }

    /// Reports every variable of `names` that is set, as unused by `reason`.
    private mutating func reportUnused(_ names: [String], because reason: String) {
        for name in names where isSetOrFile(name) {
            report(isSet(name) ? name : name + "_FILE", "is set, but \(reason)")
        }
    }

    private mutating func kafkaSASL(protocol securityProtocol: KafkaSecurity.SecurityProtocol, valid: Bool) -> KafkaSecurity.SASL? {
        guard securityProtocol.usesSASL else {
            if valid {
                reportUnused(
                    Self.saslVariables,
                    because: "VANE_KAFKA_SECURITY_PROTOCOL=\(securityProtocol.rawValue) does not use SASL (use sasl_ssl)")
            }
            return nil
        }
        guard let mechanismText = optionalString("VANE_KAFKA_SASL_MECHANISM") else {
            report("VANE_KAFKA_SASL_MECHANISM", "is required with VANE_KAFKA_SECURITY_PROTOCOL=\(securityProtocol.rawValue)"
                + " (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)")
            return nil
        }
        guard let mechanism = KafkaSecurity.SASLMechanism(rawValue: mechanismText.uppercased()) else {
            report("VANE_KAFKA_SASL_MECHANISM", "must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, got \"\(mechanismText)\"")
            return nil
        }
        if mechanism == .oauthBearer {
            reportUnused(Self.passwordVariables, because: "OAUTHBEARER takes the VANE_KAFKA_SASL_OAUTHBEARER_* settings")
            let url = requiredString("VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL", hint: "the identity provider's token endpoint")
            if !url.isEmpty, !Self.isAcceptableTokenEndpoint(url) {
                report("VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL",
                       "must be an https:// URL (http:// only on a loopback host), got \"\(url)\"")
            }
            let clientID = requiredString("VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID", hint: "the OAuth client id")
            let clientSecret = requiredSecret("VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", hint: "the OAuth client secret")
            let oidc = KafkaSecurity.OIDC(
                tokenEndpointURL: url, clientID: clientID, clientSecret: clientSecret,
                scope: optionalString("VANE_KAFKA_SASL_OAUTHBEARER_SCOPE"),
                extensions: optionalString("VANE_KAFKA_SASL_OAUTHBEARER_EXTENSIONS"))
            return KafkaSecurity.SASL(mechanism: mechanism, credentials: .oidc(oidc))
        }
        reportUnused(Self.oidcVariables, because: "VANE_KAFKA_SASL_MECHANISM=\(mechanism.rawValue) takes a username and password")
        let username = requiredSecret("VANE_KAFKA_SASL_USERNAME", hint: "the SASL user")
        let password = requiredSecret("VANE_KAFKA_SASL_PASSWORD", hint: "the SASL password")
        return KafkaSecurity.SASL(mechanism: mechanism, credentials: .password(username: username, password: password))
    }

    private mutating func requiredSecret(_ name: String, hint: String) -> String {
        if let value = secret(name) { return value }
        if !isSet(name + "_FILE") { report(name, "is required (\(hint)); or set \(name)_FILE to a file holding it") }
        return ""
    }

    private static func isAcceptableTokenEndpoint(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else { return false }
        switch url.scheme?.lowercased() {
        case "https": return true
        case "http": return host == "localhost" || host == "::1" || host.hasPrefix("127.")
        default: return false
        }
    }

    private mutating func kafkaTLS(protocol securityProtocol: KafkaSecurity.SecurityProtocol, valid: Bool) -> KafkaSecurity.TLS {
        guard securityProtocol.usesTLS else {
            if valid {
                reportUnused(
                    Self.tlsVariables,
                    because: "VANE_KAFKA_SECURITY_PROTOCOL=\(securityProtocol.rawValue) does not use TLS (use ssl or sasl_ssl)")
            }
            return KafkaSecurity.TLS()
        }
        var tls = KafkaSecurity.TLS()
        if let ca = optionalString("VANE_KAFKA_SSL_CA_LOCATION"), ca == "probe" {
            tls.caLocation = ca  // librdkafka searches the usual CA bundle paths
        } else {
            tls.caLocation = existingPath("VANE_KAFKA_SSL_CA_LOCATION", directoryAllowed: true)
        }
        tls.certificateLocation = existingPath("VANE_KAFKA_SSL_CERTIFICATE_LOCATION")
        tls.keyLocation = existingPath("VANE_KAFKA_SSL_KEY_LOCATION")
        tls.keyPassword = secret("VANE_KAFKA_SSL_KEY_PASSWORD")
        if (tls.certificateLocation == nil) != (tls.keyLocation == nil) {
            let missing = tls.certificateLocation == nil ? "VANE_KAFKA_SSL_CERTIFICATE_LOCATION" : "VANE_KAFKA_SSL_KEY_LOCATION"
            let given = tls.keyLocation == nil ? "VANE_KAFKA_SSL_CERTIFICATE_LOCATION" : "VANE_KAFKA_SSL_KEY_LOCATION"
            report(missing, "is required with \(given) (a client certificate and its key go together)")
        }
        if tls.keyPassword != nil && tls.keyLocation == nil {
            report(isSet("VANE_KAFKA_SSL_KEY_PASSWORD") ? "VANE_KAFKA_SSL_KEY_PASSWORD" : "VANE_KAFKA_SSL_KEY_PASSWORD_FILE",
                   "is set, but there is no VANE_KAFKA_SSL_KEY_LOCATION")
        }
        switch string("VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION", default: "https").lowercased() {
        case "https": tls.verifiesHostname = true
        case "none": tls.verifiesHostname = false
        case let other: report("VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION", "must be https or none, got \"\(other)\"")
        }
        return tls
    }

    /// `VANE_KAFKA_PROPERTIES_FILE`, then `VANE_KAFKA_PROPERTY_<name>` (which win).
    private mutating func kafkaPassThrough() -> [String: String] {
        var properties: [String: String] = [:]
        if let path = existingPath("VANE_KAFKA_PROPERTIES_FILE") {
            if let text = (FileManager.default.contents(atPath: path)).flatMap({ String(data: $0, encoding: .utf8) }) {
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                    if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("!") { continue }
                    let equals = trimmed.firstIndex(of: "=") ?? trimmed.startIndex
                    let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
                    guard !name.isEmpty else {
                        report("VANE_KAFKA_PROPERTIES_FILE", "line \(number + 1): expected name=value")
                        continue
                    }
                    properties[name] = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                }
            } else if !hasProblems(withPrefix: "VANE_KAFKA_PROPERTIES_FILE") {
                report("VANE_KAFKA_PROPERTIES_FILE", "cannot read \"\(path)\" as UTF-8 text")
            }
        }
        for (suffix, value) in values(withPrefix: "VANE_KAFKA_PROPERTY_").sorted(by: { $0.key < $1.key }) {
            let name = suffix.lowercased().replacingOccurrences(of: "_", with: ".")
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." }) else {
                report("VANE_KAFKA_PROPERTY_\(suffix)", "is not a librdkafka property name")
                continue
            }
            properties[name] = value
        }
        for name in properties.keys.sorted() {
            if let reason = KafkaSecurity.reservedProperties[name] {
                let named = Self.kafkaVariableOfProperty[name].map { "; use \($0)" } ?? ""
                report(passThroughVariable(for: name), "\(name) may not be set here (\(reason)\(named))")
            }
        }
        return properties
    }

    /// The pass-through variable that set `property`: its `VANE_KAFKA_PROPERTY_` variable if any, else the file.
    private func passThroughVariable(for property: String) -> String {
        values(withPrefix: "VANE_KAFKA_PROPERTY_").keys
            .first { $0.lowercased().replacingOccurrences(of: "_", with: ".") == property }
            .map { "VANE_KAFKA_PROPERTY_\($0)" } ?? "VANE_KAFKA_PROPERTIES_FILE"
    }

    /// The variable behind the property a librdkafka message names: a pass-through property first
    /// (they are applied last), then a named setting's; the protocol when none is named.
    private func kafkaVariable(blamedBy message: String, passThrough: [String: String]) -> String {
        for name in passThrough.keys.sorted(by: { $0.count > $1.count }) where message.contains(name) {
            return passThroughVariable(for: name)
        }
        let lead = message.prefix { $0 != "=" && $0 != ":" && $0 != " " }
        if let named = Self.kafkaVariableOfProperty[String(lead)] { return named }
        for (property, variable) in Self.kafkaVariableOfProperty.sorted(by: { $0.key < $1.key }) where message.contains(property) {
            return variable
        }
        return "VANE_KAFKA_SECURITY_PROTOCOL"
    }
}
