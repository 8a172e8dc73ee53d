import Foundation
@testable import KafkaKit
import ServiceKit
import Testing
import TestSupport

/// The Kafka security settings: from environment variables to librdkafka properties, with the
/// problems each wrong setting reports and the secrets kept out of logs and messages.
@Suite("Kafka security settings")
struct KafkaSettingsTests {
    static let brokers = ["VANE_KAFKA_BROKERS": "b-1.example:9096,b-2.example:9096"]

    /// Reads the settings; the problems' text, or nil when there are none.
    func read(_ variables: [String: String]) -> (KafkaSettings, String?) {
        var environment = ServiceEnvironment(Self.brokers.merging(variables) { _, new in new })
        let settings = environment.kafkaSettings()
        do {
            try environment.validate()
            return (settings, nil)
        } catch {
            return (settings, error.description)
        }
    }

    func problems(_ variables: [String: String]) -> String {
        read(variables).1 ?? "no problems"
    }

    @Test("unset means plaintext, as before")
    func plaintextDefault() throws {
        let (settings, problems) = read([:])
        #expect(problems == nil)
        #expect(settings.brokers == ["b-1.example:9096", "b-2.example:9096"])
        #expect(settings.security.namedProperties == ["security.protocol": "plaintext"])
        #expect(settings.security.requiredFeatures.isEmpty)
    }

    @Test("SCRAM over TLS (Amazon MSK) maps to librdkafka's properties, password redacted")
    func scramOverTLS() throws {
        let folder = try temporaryFolder()
        let ca = try TestCertificateAuthority.make(in: folder, name: "ca")
        let (settings, problems) = read([
            "VANE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "VANE_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "VANE_KAFKA_SASL_USERNAME": "vane", "VANE_KAFKA_SASL_PASSWORD": "s3cr3t-pa55",
            "VANE_KAFKA_SSL_CA_LOCATION": ca.certificate.path,
        ])
        #expect(problems == nil)
        #expect(
            settings.security.namedProperties == [
                "security.protocol": "sasl_ssl", "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "vane",
                "sasl.password": "s3cr3t-pa55", "ssl.ca.location": ca.certificate.path,
                "ssl.endpoint.identification.algorithm": "https", "enable.ssl.certificate.verification": "true",
            ])
        #expect(settings.security.requiredFeatures == ["ssl", "sasl_scram"])
        let logged = "\(settings)"
        #expect(!logged.contains("s3cr3t-pa55"))
        #expect(logged.contains("sasl.password=[redacted]"))
        #expect(logged.contains("sasl.username=vane"))
        #expect(logged.contains("brokers=b-1.example:9096,b-2.example:9096"))

        // Every client configuration carries the settings.
        let producer = try settings.producer(clientID: "p").librdkafkaProperties()
        let consumer = settings.consumer(clientID: "c", groupID: "g", topics: ["t"]).librdkafkaProperties()
        let reader = settings.topicReader(clientID: "r", topic: "t").librdkafkaProperties()
        let admin = settings.admin(clientID: "a").librdkafkaProperties()
        for properties in [producer, consumer, reader, admin] {
            #expect(properties["security.protocol"] == "sasl_ssl")
            #expect(properties["sasl.password"] == "s3cr3t-pa55")
            #expect(properties["bootstrap.servers"] == "b-1.example:9096,b-2.example:9096")
        }
        #expect(producer["enable.idempotence"] == "true" && consumer["group.id"] == "g")
    }

    @Test("PLAIN over TLS with the system's CAs (Confluent Cloud); secrets from files")
    func plainFromFiles() throws {
        let folder = try temporaryFolder()
        let user = folder.appendingPathComponent("user")
        let password = folder.appendingPathComponent("password")
        try "ABCDEFKEY\n".write(to: user, atomically: true, encoding: .utf8)
        try "api-secret-value\r\n".write(to: password, atomically: true, encoding: .utf8)
        let (settings, problems) = read([
            "VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "PLAIN",
            "VANE_KAFKA_SASL_USERNAME_FILE": user.path, "VANE_KAFKA_SASL_PASSWORD_FILE": password.path,
        ])
        #expect(problems == nil)
        #expect(settings.security.namedProperties["sasl.username"] == "ABCDEFKEY")
        #expect(settings.security.namedProperties["sasl.password"] == "api-secret-value")
        #expect(settings.security.namedProperties["ssl.ca.location"] == nil)  // system CAs
        #expect(!"\(settings)".contains("api-secret-value"))
    }

    @Test("mutual TLS (Strimzi) with an encrypted key; endpoint identification can be turned off")
    func mutualTLS() throws {
        let folder = try temporaryFolder()
        let ca = try TestCertificateAuthority.make(in: folder, name: "ca")
        let client = try ca.issue("client", commonName: "vane", subjectAlternativeNames: [], keyPassword: "key-pass-9")
        let (settings, problems) = read([
            "VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_SSL_CA_LOCATION": ca.certificate.path,
            "VANE_KAFKA_SSL_CERTIFICATE_LOCATION": client.certificate.path, "VANE_KAFKA_SSL_KEY_LOCATION": client.key.path,
            "VANE_KAFKA_SSL_KEY_PASSWORD": "key-pass-9", "VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION": "none",
        ])
        #expect(problems == nil)
        #expect(settings.security.namedProperties["ssl.certificate.location"] == client.certificate.path)
        #expect(settings.security.namedProperties["ssl.key.location"] == client.key.path)
        #expect(settings.security.namedProperties["ssl.key.password"] == "key-pass-9")
        #expect(settings.security.namedProperties["ssl.endpoint.identification.algorithm"] == "none")
        #expect(!"\(settings)".contains("key-pass-9"))

        // librdkafka itself loads the key: a wrong passphrase fails the start, without echoing it.
        let wrong = self.problems([
            "VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_SSL_CA_LOCATION": ca.certificate.path,
            "VANE_KAFKA_SSL_CERTIFICATE_LOCATION": client.certificate.path, "VANE_KAFKA_SSL_KEY_LOCATION": client.key.path,
            "VANE_KAFKA_SSL_KEY_PASSWORD": "not-the-pass",
        ])
        #expect(wrong.contains("VANE_KAFKA_SSL_KEY_"))
        #expect(wrong.contains("rejected by librdkafka"))
        #expect(!wrong.contains("not-the-pass"))
    }

    @Test("each wrong setting is a problem naming its variable")
    func problemsNameTheVariable() throws {
        let folder = try temporaryFolder()
        let cases: [([String: String], String)] = [
            (["VANE_KAFKA_SECURITY_PROTOCOL": "tls"], "VANE_KAFKA_SECURITY_PROTOCOL: must be one of"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl"], "VANE_KAFKA_SASL_MECHANISM: is required"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "GSSAPI"],
             "VANE_KAFKA_SASL_MECHANISM: must be one of"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "PLAIN", "VANE_KAFKA_SASL_USERNAME": "u"],
             "VANE_KAFKA_SASL_PASSWORD: is required"),
            // Credentials without a SASL protocol would be silently unused: refused.
            (["VANE_KAFKA_SASL_MECHANISM": "PLAIN", "VANE_KAFKA_SASL_USERNAME": "u", "VANE_KAFKA_SASL_PASSWORD": "p"],
             "VANE_KAFKA_SASL_MECHANISM: is set, but VANE_KAFKA_SECURITY_PROTOCOL=plaintext does not use SASL"),
            (["VANE_KAFKA_SSL_CA_LOCATION": "/etc/ssl/certs/ca-certificates.crt"],
             "VANE_KAFKA_SSL_CA_LOCATION: is set, but VANE_KAFKA_SECURITY_PROTOCOL=plaintext does not use TLS"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "VANE_KAFKA_SASL_MECHANISM": "PLAIN", "VANE_KAFKA_SASL_USERNAME": "u",
              "VANE_KAFKA_SASL_PASSWORD": "p", "VANE_KAFKA_SSL_CA_LOCATION": "/x"],
             "VANE_KAFKA_SSL_CA_LOCATION: is set, but VANE_KAFKA_SECURITY_PROTOCOL=sasl_plaintext does not use TLS"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_SSL_CA_LOCATION": "/no/such/ca.pem"],
             "VANE_KAFKA_SSL_CA_LOCATION: \"/no/such/ca.pem\" does not exist"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/hostname"],
             "VANE_KAFKA_SSL_KEY_LOCATION: is required with VANE_KAFKA_SSL_CERTIFICATE_LOCATION"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION": "off"],
             "VANE_KAFKA_SSL_ENDPOINT_IDENTIFICATION: must be https or none"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "PLAIN", "VANE_KAFKA_SASL_USERNAME": "u",
              "VANE_KAFKA_SASL_PASSWORD": "p", "VANE_KAFKA_SASL_PASSWORD_FILE": "/etc/hostname"],
             "VANE_KAFKA_SASL_PASSWORD_FILE: set VANE_KAFKA_SASL_PASSWORD or VANE_KAFKA_SASL_PASSWORD_FILE, not both"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "PLAIN", "VANE_KAFKA_SASL_USERNAME": "u",
              "VANE_KAFKA_SASL_PASSWORD_FILE": folder.appendingPathComponent("missing").path],
             "VANE_KAFKA_SASL_PASSWORD_FILE: cannot read"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
              "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL": "http://idp.example/token",
              "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "vane", "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "x"],
             "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: must be an https:// URL"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
              "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL": "https://idp.example/token"],
             "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID: is required"),
            (["VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256", "VANE_KAFKA_SASL_USERNAME": "u",
              "VANE_KAFKA_SASL_PASSWORD": "p", "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "c"],
             "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID: is set, but VANE_KAFKA_SASL_MECHANISM=SCRAM-SHA-256 takes a username and password"),
            (["VANE_KAFKA_PROPERTY_sasl_password": "p"], "VANE_KAFKA_PROPERTY_sasl_password: sasl.password may not be set here"),
            (["VANE_KAFKA_PROPERTY_ENABLE_AUTO_COMMIT": "true"],
             "VANE_KAFKA_PROPERTY_ENABLE_AUTO_COMMIT: enable.auto.commit may not be set here"),
            (["VANE_KAFKA_PROPERTY_no_such_thing": "1"], "VANE_KAFKA_PROPERTY_no_such_thing: rejected by librdkafka: no.such.thing=1"),
            (["VANE_KAFKA_PROPERTY_socket_keepalive_enable": "perhaps"],
             "VANE_KAFKA_PROPERTY_socket_keepalive_enable: rejected by librdkafka"),
        ]
        for (variables, expected) in cases {
            let text = problems(variables)
            #expect(text.contains(expected), "\(variables): \(text)")
        }
    }

    @Test("a wrong secret never appears in a problem")
    func secretsStayOutOfProblems() throws {
        let text = problems([
            "VANE_KAFKA_SECURITY_PROTOCOL": "ssl", "VANE_KAFKA_PROPERTY_ssl_keystore_password": "hunter2-keystore",
            "VANE_KAFKA_PROPERTY_ssl_keystore_location": "/nope.p12",
        ])
        #expect(text.contains("VANE_KAFKA_PROPERTY_ssl_keystore_location: rejected by librdkafka:"), "\(text)")
        #expect(!text.contains("hunter2-keystore"))
    }

    @Test("OAUTHBEARER with an OIDC endpoint: mapped, and refused at start where librdkafka lacks OIDC")
    func oauthBearer() throws {
        let variables = [
            "VANE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "VANE_KAFKA_SASL_MECHANISM": "OAUTHBEARER",
            "VANE_KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL": "https://idp.example/oauth2/token",
            "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_ID": "vane-client", "VANE_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "oidc-secret-1",
            "VANE_KAFKA_SASL_OAUTHBEARER_SCOPE": "kafka",
            "VANE_KAFKA_SASL_OAUTHBEARER_EXTENSIONS": "logicalCluster=lkc-1,identityPoolId=pool-2",
        ]
        let (settings, problems) = read(variables)
        #expect(
            settings.security.namedProperties == [
                "security.protocol": "sasl_ssl", "sasl.mechanisms": "OAUTHBEARER", "sasl.oauthbearer.method": "oidc",
                "sasl.oauthbearer.token.endpoint.url": "https://idp.example/oauth2/token", "sasl.oauthbearer.client.id": "vane-client",
                "sasl.oauthbearer.client.secret": "oidc-secret-1", "sasl.oauthbearer.scope": "kafka",
                "sasl.oauthbearer.extensions": "logicalCluster=lkc-1,identityPoolId=pool-2",
                "ssl.endpoint.identification.algorithm": "https", "enable.ssl.certificate.verification": "true",
            ])
        #expect(!"\(settings)".contains("oidc-secret-1"))
        if KafkaSecurity.supportsOIDC {
            #expect(problems == nil)
        } else {
            // Debian 12's librdkafka was built without libcurl: say so at start, naming the mechanism.
            #expect(
                problems?.contains("VANE_KAFKA_SASL_MECHANISM: rejected by librdkafka: sasl.oauthbearer.method=oidc") == true,
                "\(problems ?? "")")
            #expect(problems?.contains("libcurl") == true)
            #expect(problems?.contains("oidc-secret-1") == false)
        }
    }

    @Test("pass-through: the file, then VANE_KAFKA_PROPERTY_*, applied after everything else")
    func passThrough() throws {
        let folder = try temporaryFolder()
        let file = folder.appendingPathComponent("client.properties")
        try """
            # tuning
            socket.keepalive.enable = true
            fetch.wait.max.ms=250
            ssl.keystore.password=from-file-secret

            """.write(to: file, atomically: true, encoding: .utf8)
        let (settings, problems) = read([
            "VANE_KAFKA_PROPERTIES_FILE": file.path, "VANE_KAFKA_PROPERTY_fetch_wait_max_ms": "300",
            "VANE_KAFKA_PROPERTY_CLIENT_RACK": "use1-az1",
        ])
        // ssl.keystore.password without a keystore is accepted by librdkafka's conf_set.
        #expect(problems == nil)
        #expect(
            settings.security.additionalProperties == [
                "socket.keepalive.enable": "true", "fetch.wait.max.ms": "300", "client.rack": "use1-az1",
                "ssl.keystore.password": "from-file-secret",
            ])
        #expect(!"\(settings)".contains("from-file-secret"))
        #expect("\(settings)".contains("ssl.keystore.password=[redacted]"))
        // The operator's pass-through wins over the client's own tuning (ConfigFeed sets fetch.wait.max.ms).
        var reader = settings.topicReader(clientID: "r", topic: "t")
        reader.additionalProperties["fetch.wait.max.ms"] = "20"
        #expect(reader.librdkafkaProperties()["fetch.wait.max.ms"] == "300")

        try "just words\n".write(to: file, atomically: true, encoding: .utf8)
        let malformed = self.problems(["VANE_KAFKA_PROPERTIES_FILE": file.path])
        #expect(malformed.contains("VANE_KAFKA_PROPERTIES_FILE: line 1: expected name=value"))
    }

    @Test("librdkafka's error for a bad property never carries a secret value")
    func configErrorsRedactSecrets() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.security.additionalProperties["sasl.oauthbearer.client.secret"] = "top-secret-42"
        configuration.security.additionalProperties["ssl.keystore.password"] = "top-secret-43"
        configuration.additionalProperties["no.such.property"] = "1"
        do {
            _ = try KafkaProducer(configuration: configuration, logger: TestLogger.make("redaction"))
            Issue.record("expected an error")
        } catch {
            #expect(!error.message.contains("top-secret"))
        }
        #expect(KafkaSecurity.isSensitive("sasl.password") && KafkaSecurity.isSensitive("ssl.key.pem"))
        #expect(!KafkaSecurity.isSensitive("sasl.username") && !KafkaSecurity.isSensitive("ssl.ca.location"))
    }
}

/// A fresh folder under the temporary directory.
func temporaryFolder(_ name: String = #function) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("vane-conn-\(name.prefix { $0.isLetter })-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}
