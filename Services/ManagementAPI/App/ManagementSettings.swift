import PostgresSupport
import Logging
import ServiceKit

/// management-api's configuration, from the environment.
struct ManagementSettings: Sendable {
    var http: HTTPSettings
    var database: DatabaseSettings
    var databaseMaxConnections: Int
    /// How long an API request may take before it is answered 503 (`VANE_DATABASE_REQUEST_TIMEOUT_SECONDS`).
    var databaseRequestTimeout: Duration
    var kafka: KafkaSettings
    var configTopic: String
    var configTopicPartitions: Int32
    var configTopicReplicationFactor: Int32
    var kafkaMessageTimeout: Duration
    var adminToken: String?
    var logLevel: Logger.Level
    /// Days without evaluations (or with a single variation served) after which a flag is listed as stale.
    var staleDays: Int
    /// Where the dashboard's files are (`VANE_DASHBOARD_DIR`); nil: next to the executable (see ``DashboardFiles``).
    var dashboardFolder: String?

    init(environment variables: [String: String]) throws {
        var environment = ServiceEnvironment(variables)
        http = HTTPSettings(from: &environment, defaultPort: 8080)
        database = environment.databaseSettings()
        databaseMaxConnections = environment.integer("VANE_DATABASE_MAX_CONNECTIONS", default: 20, range: 2...500)
        databaseRequestTimeout = environment.seconds("VANE_DATABASE_REQUEST_TIMEOUT_SECONDS", default: .seconds(10))
        if databaseRequestTimeout < .milliseconds(100) {
            environment.report("VANE_DATABASE_REQUEST_TIMEOUT_SECONDS", "must be at least 0.1")
        }
        kafka = environment.kafkaSettings()
        configTopic = environment.string("VANE_CONFIG_TOPIC", default: "vane.config")
        configTopicPartitions = Int32(environment.integer("VANE_CONFIG_TOPIC_PARTITIONS", default: 6, range: 1...1000))
        configTopicReplicationFactor = Int32(environment.integer("VANE_CONFIG_TOPIC_REPLICATION_FACTOR", default: -1, range: -1...10))
        kafkaMessageTimeout = environment.seconds("VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS", default: .seconds(30))
        adminToken = environment.optionalString("VANE_ADMIN_TOKEN")
        logLevel = environment.logLevel()
        staleDays = environment.integer("VANE_STALE_DAYS", default: 7, range: 1...3650)
        dashboardFolder = environment.optionalString("VANE_DASHBOARD_DIR")
        try environment.validate()
    }

    /// The effective configuration, secrets left out, for the start-up log.
    var logMetadata: Logger.Metadata {
        [
            "http": "\(http)", "database": "\(database)", "databaseRequestTimeout": "\(databaseRequestTimeout)", "kafka": "\(kafka)",
            "configTopic": "\(configTopic)", "configTopicPartitions": "\(configTopicPartitions)",
            "adminToken": "\(adminToken == nil ? "unset" : "set")", "logLevel": "\(logLevel)",
            "staleDays": "\(staleDays)", "dashboardFolder": "\(dashboardFolder ?? "next to the executable")",
        ]
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
