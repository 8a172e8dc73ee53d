/// How a client encrypts and authenticates its connections to the brokers: librdkafka's
/// `security.protocol`, SASL and TLS settings, plus raw properties for anything else.
///
/// Every configuration type (``KafkaProducerConfiguration``, ``KafkaConsumerConfiguration``,
/// ``KafkaTopicReaderConfiguration``, ``KafkaAdminConfiguration``) has a `security` value. Its
/// properties are applied after the client's own ones; ``additionalProperties`` come last of all.
///
/// ```swift
/// var security = KafkaSecurity(protocol: .saslSSL)
/// security.sasl = .init(mechanism: .scramSHA512, credentials: .password(username: "vane", password: secret))
/// security.tls.caLocation = "/etc/kafka/ca.pem"
/// var producer = KafkaProducerConfiguration(bootstrapServers: brokers)
/// producer.security = security
/// ```
public struct KafkaSecurity: Sendable, Hashable {
    /// librdkafka's `security.protocol`.
    public enum SecurityProtocol: String, Sendable, Hashable, CaseIterable {
        /// No encryption, no authentication.
        case plaintext
        /// TLS; the client authenticates with a certificate when one is configured (mutual TLS).
        case ssl
        /// SASL authentication without encryption.
        case saslPlaintext = "sasl_plaintext"
        /// SASL authentication inside TLS.
        case saslSSL = "sasl_ssl"

        /// Whether connections are encrypted with TLS.
        public var usesTLS: Bool { self == .ssl || self == .saslSSL }
        /// Whether the client authenticates with SASL.
        public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }
    }

    /// librdkafka's `sasl.mechanisms` (one mechanism).
    public enum SASLMechanism: String, Sendable, Hashable, CaseIterable {
        /// Username and password in clear (inside TLS): Confluent Cloud API keys.
        case plain = "PLAIN"
        /// Salted challenge-response (RFC 7804): Amazon MSK, Strimzi `scram-sha-512`.
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
        /// OAuth 2 bearer tokens, fetched from an OIDC token endpoint (client credentials grant).
        case oauthBearer = "OAUTHBEARER"

        /// The `builtin.features` entry librdkafka needs for this mechanism.
        public var requiredFeature: String {
            switch self {
            case .plain: "sasl_plain"
            case .scramSHA256, .scramSHA512: "sasl_scram"
            case .oauthBearer: "sasl_oauthbearer"
            }
        }
    }

    /// OAUTHBEARER with tokens from an OpenID Connect token endpoint (`sasl.oauthbearer.method=oidc`).
    public struct OIDC: Sendable, Hashable {
        /// `sasl.oauthbearer.token.endpoint.url`.
        public var tokenEndpointURL: String
        /// `sasl.oauthbearer.client.id`.
        public var clientID: String
        /// `sasl.oauthbearer.client.secret` (never logged).
        public var clientSecret: String
        /// `sasl.oauthbearer.scope`, if the identity provider needs one.
        public var scope: String?
        /// `sasl.oauthbearer.extensions`: `key=value[,key=value…]` sent to the broker (Confluent
        /// Cloud wants `logicalCluster=lkc-…,identityPoolId=pool-…`).
        public var extensions: String?

        public init(tokenEndpointURL: String, clientID: String, clientSecret: String, scope: String? = nil, extensions: String? = nil) {
            self.tokenEndpointURL = tokenEndpointURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope
            self.extensions = extensions
        }
    }

    /// What the client proves its identity with.
    public enum SASLCredentials: Sendable, Hashable {
        /// `sasl.username` / `sasl.password`, for PLAIN and SCRAM.
        case password(username: String, password: String)
        /// Tokens from an OIDC token endpoint, for OAUTHBEARER.
        case oidc(OIDC)
    }

    /// A SASL mechanism and its credentials.
    public struct SASL: Sendable, Hashable {
        public var mechanism: SASLMechanism
        public var credentials: SASLCredentials

        public init(mechanism: SASLMechanism, credentials: SASLCredentials) {
            self.mechanism = mechanism
            self.credentials = credentials
        }
    }

    /// TLS settings, used when ``SecurityProtocol/usesTLS``.
    public struct TLS: Sendable, Hashable {
        /// `ssl.ca.location`: a PEM file (or directory) of the CAs that sign the brokers'
        /// certificates. nil: the system's trusted CAs (Debian's `ca-certificates`), which is right
        /// for services with public certificates (Amazon MSK, Confluent Cloud).
        public var caLocation: String?
        /// `ssl.certificate.location`: the client's certificate (PEM), for mutual TLS.
        public var certificateLocation: String?
        /// `ssl.key.location`: the client's private key (PEM), for mutual TLS.
        public var keyLocation: String?
        /// `ssl.key.password`: the passphrase of an encrypted private key (never logged).
        public var keyPassword: String?
        /// Whether the broker's certificate must name the host connected to
        /// (`ssl.endpoint.identification.algorithm=https`). On by default; turning it off lets any
        /// certificate signed by a trusted CA impersonate any broker.
        public var verifiesHostname: Bool = true

        public init(
            caLocation: String? = nil, certificateLocation: String? = nil, keyLocation: String? = nil,
            keyPassword: String? = nil, verifiesHostname: Bool = true
        ) {
            self.caLocation = caLocation
            self.certificateLocation = certificateLocation
            self.keyLocation = keyLocation
            self.keyPassword = keyPassword
            self.verifiesHostname = verifiesHostname
        }
    }

    /// `security.protocol`.
    public var securityProtocol: SecurityProtocol
    /// Required when the protocol uses SASL, ignored otherwise.
    public var sasl: SASL?
    /// Used when the protocol uses TLS.
    public var tls: TLS
    /// Any other librdkafka properties (CONFIGURATION.md), applied after the named settings and
    /// after the client's own properties. Names that the named settings or KafkaKit's delivery
    /// guarantees own are refused by ``validate()`` (see ``reservedProperties``).
    public var additionalProperties: [String: String]

    /// Plaintext, no authentication: librdkafka's default.
    public static let plaintext = KafkaSecurity(protocol: .plaintext)

    public init(
        protocol securityProtocol: SecurityProtocol, sasl: SASL? = nil, tls: TLS = TLS(), additionalProperties: [String: String] = [:]
    ) {
        self.securityProtocol = securityProtocol
        self.sasl = sasl
        self.tls = tls
        self.additionalProperties = additionalProperties
    }

    /// The properties of the named settings (without ``additionalProperties``).
    public var namedProperties: [String: String] {
        var properties = ["security.protocol": securityProtocol.rawValue]
        if securityProtocol.usesSASL, let sasl {
            properties["sasl.mechanisms"] = sasl.mechanism.rawValue
            switch sasl.credentials {
            case .password(let username, let password):
                properties["sasl.username"] = username
                properties["sasl.password"] = password
            case .oidc(let oidc):
                properties["sasl.oauthbearer.method"] = "oidc"
                properties["sasl.oauthbearer.token.endpoint.url"] = oidc.tokenEndpointURL
                properties["sasl.oauthbearer.client.id"] = oidc.clientID
                properties["sasl.oauthbearer.client.secret"] = oidc.clientSecret
                if let scope = oidc.scope { properties["sasl.oauthbearer.scope"] = scope }
                if let extensions = oidc.extensions { properties["sasl.oauthbearer.extensions"] = extensions }
            }
        }
        if securityProtocol.usesTLS {
            properties["ssl.endpoint.identification.algorithm"] = tls.verifiesHostname ? "https" : "none"
            properties["enable.ssl.certificate.verification"] = "true"
            if let ca = tls.caLocation { properties["ssl.ca.location"] = ca }
            if let certificate = tls.certificateLocation { properties["ssl.certificate.location"] = certificate }
            if let key = tls.keyLocation { properties["ssl.key.location"] = key }
            if let password = tls.keyPassword { properties["ssl.key.password"] = password }
        }
        return properties
    }

    /// The `builtin.features` librdkafka must have for these settings.
    public var requiredFeatures: Set<String> {
        var features: Set<String> = []
        if securityProtocol.usesTLS { features.insert("ssl") }
        if securityProtocol.usesSASL, let sasl { features.insert(sasl.mechanism.requiredFeature) }
        return features
    }

    /// Properties that ``additionalProperties`` may not set: those of the named settings (set them
    /// there) and those KafkaKit's clients set for their delivery guarantees.
    public static let reservedProperties: [String: String] = {
        var reserved: [String: String] = [:]
        for name in [
            "security.protocol", "sasl.mechanisms", "sasl.mechanism", "sasl.username", "sasl.password",
            "sasl.oauthbearer.method", "sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.client.id",
            "sasl.oauthbearer.client.secret", "sasl.oauthbearer.scope", "sasl.oauthbearer.extensions",
            "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
            "ssl.endpoint.identification.algorithm",
        ] {
            reserved[name] = "a named security setting"
        }
        for name in [
            "bootstrap.servers", "metadata.broker.list", "group.id", "enable.auto.commit", "enable.auto.offset.store",
            "enable.idempotence", "acks", "request.required.acks", "allow.auto.create.topics",
        ] {
            reserved[name] = "set by Vane for its delivery guarantees"
        }
        return reserved
    }()

    /// Whether a property's value is a secret: never logged, never put into an error message.
    /// Covers librdkafka's own sensitive properties and anything named like a password or secret.
    public static func isSensitive(_ property: String) -> Bool {
        let name = property.lowercased()
        return name.contains("password") || name.contains("secret") || name.hasSuffix(".pem")
            || name == "sasl.oauthbearer.config" || name.contains("jaas") || name.contains("token.value")
    }

    /// `properties` with every sensitive value replaced by `[redacted]`, for logs.
    public static func redacted(_ properties: [String: String]) -> [String: String] {
        var copy = properties
        for (name, _) in properties where isSensitive(name) { copy[name] = "[redacted]" }
        return copy
    }

    /// The effective security properties (named settings, then ``additionalProperties``) with
    /// secrets redacted, as `name=value` pairs sorted by name: what a service logs at start.
    public var redactedDescription: String {
        var properties = namedProperties
        properties.merge(additionalProperties) { _, override in override }
        return Self.redacted(properties).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The `builtin.features` of the librdkafka this process runs with.
    public static var builtinFeatures: Set<String> { RDKafkaConfig.builtinFeatures }

    /// Whether this librdkafka supports OAUTHBEARER with an OIDC token endpoint (it needs libcurl
    /// at build time; Debian 12's librdkafka 2.0.2 was built without it).
    public static var supportsOIDC: Bool { RDKafkaConfig.supportsOIDC }

    /// Checks the settings the way librdkafka will use them, without contacting any broker:
    /// reserved names in ``additionalProperties``, missing `builtin.features`, then every property
    /// through `rd_kafka_conf_set` and a client created (and destroyed at once) with no brokers,
    /// which loads the CA, the client certificate and the key, and checks the SASL configuration.
    ///
    /// - Throws: ``KafkaError/Code/invalidConfiguration``; the message starts with the property at
    ///   fault where librdkafka names one. Secret values never appear in it.
    public func validate() throws(KafkaError) {
        for name in additionalProperties.keys.sorted() {
            if let reason = Self.reservedProperties[name] {
                throw KafkaError(code: .invalidConfiguration, message: "\(name): may not be overridden (\(reason))")
            }
        }
        if securityProtocol.usesSASL && sasl == nil {
            throw KafkaError(code: .invalidConfiguration, message: "sasl.mechanisms: \(securityProtocol.rawValue) needs a SASL mechanism")
        }
        if case .oidc = sasl?.credentials, securityProtocol.usesSASL, !Self.supportsOIDC {
            throw KafkaError(
                code: .invalidConfiguration,
                message: "sasl.oauthbearer.method=oidc: not supported by this librdkafka (\(RDKafkaConfig.versionString)):"
                    + " OAuth/OIDC depends on libcurl and OpenSSL which were not available at build time")
        }
        let missing = requiredFeatures.subtracting(Self.builtinFeatures)
        if !missing.isEmpty {
            throw KafkaError(
                code: .invalidConfiguration,
                message: "builtin.features: librdkafka \(RDKafkaConfig.versionString) lacks \(missing.sorted().joined(separator: ", "))"
                    + " (it has \(Self.builtinFeatures.sorted().joined(separator: ",")))")
        }
        var properties = namedProperties
        properties.merge(additionalProperties) { _, override in override }
        try RDKafkaConfig.validateByCreatingClient(properties)
    }
}

/// Merges a client's properties the same way for every configuration type: the client's own, then
/// the security settings, then the client's additional properties, then the security pass-through.
func composeProperties(_ own: [String: String], security: KafkaSecurity, additional: [String: String]) -> [String: String] {
    var properties = own
    properties.merge(security.namedProperties) { _, override in override }
    properties.merge(additional) { _, override in override }
    properties.merge(security.additionalProperties) { _, override in override }
    return properties
}
