/// Settings for ``KafkaAdmin``.
public struct KafkaAdminConfiguration: Sendable {
    /// Initial brokers to contact, as `host:port` strings.
    public var bootstrapServers: [String]
    /// The client id brokers log and use for quotas.
    public var clientID: String = "vane-admin"
    /// How long one admin operation (metadata, watermarks, topic creation) may take.
    public var requestTimeout: Duration = .seconds(30)
    /// What ``KafkaAdmin/createTopic(_:)`` does when the cluster reports no controller, so the
    /// `CreateTopics` request cannot be routed at all.
    ///
    /// Real clusters always have a controller. librdkafka's mock cluster, which backs
    /// `vanectl dev-kafka`, has none and does not implement `CreateTopics`. With this flag on,
    /// the admin then asks the broker to auto-create the topic through a metadata request:
    /// the topic gets the broker's default partition count (4 on the mock cluster) and none
    /// of the requested configs. Leave it off against real clusters (it is ignored there anyway,
    /// because they have a controller); turn it on in development setups.
    public var autoCreateWithoutController: Bool = false
    /// Encryption and authentication (TLS, SASL); plaintext by default. Applied after the
    /// properties above and before ``additionalProperties``.
    public var security: KafkaSecurity = .plaintext
    /// Raw librdkafka properties, applied after everything above except
    /// ``KafkaSecurity/additionalProperties``.
    public var additionalProperties: [String: String] = [:]

    /// Creates a configuration with defaults for everything but the brokers.
    public init(bootstrapServers: [String]) {
        self.bootstrapServers = bootstrapServers
    }

    func librdkafkaProperties() -> [String: String] {
        let properties: [String: String] = [
            "bootstrap.servers": self.bootstrapServers.joined(separator: ","),
            "client.id": self.clientID,
            // Metadata lookups must never create topics as a side effect; the explicit fallback
            // above uses a separate request that asks for creation.
            "allow.auto.create.topics": "false",
        ]
        return composeProperties(properties, security: self.security, additional: self.additionalProperties)
    }
}
