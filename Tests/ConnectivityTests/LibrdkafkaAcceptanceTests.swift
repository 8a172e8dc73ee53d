import Foundation
import KafkaKit
import Logging
import ServiceKit
import Testing
import TestSupport

/// Every security configuration Vane offers, handed to the real librdkafka: it must accept the
/// properties, have the `builtin.features` they need, and build each client type with them.
@Suite("librdkafka accepts the security configurations")
struct LibrdkafkaAcceptanceTests {
    @Test("Debian's librdkafka has TLS and every SASL mechanism Vane offers")
    func builtinFeatures() {
        let features = KafkaSecurity.builtinFeatures
        for needed in ["ssl", "sasl_plain", "sasl_scram", "sasl_oauthbearer"] {
            #expect(features.contains(needed), "builtin.features: \(features.sorted())")
        }
    }

    @Test("each protocol and mechanism is accepted, with the features it reports needing")
    func everyCombination() throws {
        let folder = try temporaryFolder()
        let ca = try TestCertificateAuthority.make(in: folder, name: "ca")
        let client = try ca.issue("client", commonName: "vane", subjectAlternativeNames: [], keyPassword: "pw-1")
        var checked = 0
        for securityProtocol in KafkaSecurity.SecurityProtocol.allCases {
            let mechanisms: [KafkaSecurity.SASLMechanism?] = securityProtocol.usesSASL ? KafkaSecurity.SASLMechanism.allCases : [nil]
            for mechanism in mechanisms {
                var security = KafkaSecurity(protocol: securityProtocol)
                if let mechanism {
                    let credentials: KafkaSecurity.SASLCredentials =
                        mechanism == .oauthBearer
                        ? .oidc(.init(tokenEndpointURL: "https://idp.example/token", clientID: "c", clientSecret: "s"))
                        : .password(username: "u", password: "p")
                    security.sasl = .init(mechanism: mechanism, credentials: credentials)
                }
                if securityProtocol.usesTLS {
                    security.tls = .init(
                        caLocation: ca.certificate.path, certificateLocation: client.certificate.path,
                        keyLocation: client.key.path, keyPassword: "pw-1")
                }
                var expected: Set<String> = securityProtocol.usesTLS ? ["ssl"] : []
                if let mechanism { expected.insert(mechanism.requiredFeature) }
                #expect(security.requiredFeatures == expected)
                #expect(security.requiredFeatures.isSubset(of: KafkaSecurity.builtinFeatures))

                let label = "\(securityProtocol.rawValue) \(mechanism?.rawValue ?? "-")"
                if mechanism == .oauthBearer && !KafkaSecurity.supportsOIDC {
                    #expect(throws: KafkaError.self, "\(label): OIDC needs a librdkafka built with libcurl") { try security.validate() }
                    continue
                }
                try security.validate()
                // The four client types are created with the settings (no broker is contacted
                // before a request; 127.0.0.1:1 refuses at once).
                let settings = KafkaSettings(brokers: ["127.0.0.1:1"], security: security)
                // Quiet: these clients' connection attempts to 127.0.0.1:1 fail by design.
                var logger = TestLogger.make("acceptance")
                logger.logLevel = .critical
                _ = try KafkaProducer(configuration: settings.producer(clientID: "p"), logger: logger)
                _ = try KafkaAdmin(configuration: settings.admin(clientID: "a"), logger: logger)
                _ = try KafkaTopicReader(configuration: settings.topicReader(clientID: "r", topic: "t"), logger: logger)
                var consumer = settings.consumer(clientID: "c", groupID: "g", topics: ["t"])
                // Eager assignment: a cooperative-sticky member that never got an assignment is left
                // allocated on librdkafka 2.0.2 (issue 4312), and this one never reaches a broker.
                consumer.assignmentStrategy = .range
                _ = try KafkaConsumer(configuration: consumer, logger: logger)
                checked += 1
            }
        }
        #expect(checked >= 6)
    }

    @Test("librdkafka refuses a CA file that is not a certificate, and a wrong key passphrase")
    func badMaterial() throws {
        let folder = try temporaryFolder()
        let ca = try TestCertificateAuthority.make(in: folder, name: "ca")
        let client = try ca.issue("client", commonName: "vane", subjectAlternativeNames: [], keyPassword: "right")
        let garbage = folder.appendingPathComponent("garbage.pem")
        try "not a certificate\n".write(to: garbage, atomically: true, encoding: .utf8)

        var badCA = KafkaSecurity(protocol: .ssl)
        badCA.tls.caLocation = garbage.path
        let caError = #expect(throws: KafkaError.self) { try badCA.validate() }
        #expect(caError?.message.contains("ssl.ca.location") == true, "\(String(describing: caError))")

        var badPassphrase = KafkaSecurity(protocol: .ssl)
        badPassphrase.tls = .init(
            caLocation: ca.certificate.path, certificateLocation: client.certificate.path, keyLocation: client.key.path,
            keyPassword: "not-the-passphrase-91")
        let keyError = #expect(throws: KafkaError.self) { try badPassphrase.validate() }
        #expect(keyError?.message.contains("ssl.key") == true, "\(String(describing: keyError))")
        #expect(keyError?.message.contains("not-the-passphrase-91") == false)
    }
}
