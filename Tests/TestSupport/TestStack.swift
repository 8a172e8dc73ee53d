import Foundation

/// PostgreSQL + `vanectl dev-kafka` + a running `management-api`, for integration tests of the
/// services downstream of it. Each stack has its own database, broker and config topic.
public final class TestStack: Sendable {
    public let databaseURL: String
    public let kafka: DevKafka
    public let managementAPI: ServiceProcess
    public let adminToken: String
    public let configTopic: String

    /// `VANE_KAFKA_BROKERS` for services of this stack.
    public var kafkaBrokers: String { kafka.bootstrapServers }

    private init(databaseURL: String, kafka: DevKafka, managementAPI: ServiceProcess, adminToken: String, configTopic: String) {
        self.databaseURL = databaseURL
        self.kafka = kafka
        self.managementAPI = managementAPI
        self.adminToken = adminToken
        self.configTopic = configTopic
    }

    /// Starts a stack and waits until management-api is ready.
    public static func start(brokers: Int = 1, environment: [String: String] = [:]) async throws -> TestStack {
        let databaseURL = try await PostgresServer.start().createDatabase(prefix: "stack")
        let configTopic = "vane.config"
        let kafka = try await DevKafka.start(brokers: brokers, topics: ["\(configTopic):3", "vane.events.raw:3"])
        let adminToken = "test-admin-\(UUID().uuidString.lowercased())"
        var variables = [
            "VANE_DATABASE_URL": databaseURL, "VANE_KAFKA_BROKERS": kafka.bootstrapServers, "VANE_ADMIN_TOKEN": adminToken,
            "VANE_CONFIG_TOPIC": configTopic, "VANE_LOG_LEVEL": "info", "VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS": "5",
        ]
        for (key, value) in environment { variables[key] = value }
        let api = try ServiceProcess("management-api", environment: variables)
        try await api.waitUntilReady()
        return TestStack(databaseURL: databaseURL, kafka: kafka, managementAPI: api, adminToken: adminToken, configTopic: configTopic)
    }

    /// A management API call as the bootstrap admin.
    public func api(_ method: String, _ path: String, json: String? = nil) async throws -> TestHTTP.Response {
        try await TestHTTP.json(method, "\(managementAPI.baseURL)/api/v1\(path)", token: adminToken, json: json)
    }

    /// Stops management-api and the broker.
    public func stop() async {
        await managementAPI.stop()
        _ = await kafka.stop()
    }
}
