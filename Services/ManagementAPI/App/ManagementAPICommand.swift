import ArgumentParser
import Foundation
import KafkaKit
import Logging
import PostgresNIO
import PostgresSupport
import ServiceKit
import ServiceLifecycle

/// `management-api`: the management plane of Vane.
@main
struct ManagementAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "management-api",
        abstract: "Vane's management API: projects, environments, flags, segments, tokens, audit.",
        discussion: "Configured through environment variables; see the README.",
        subcommands: [Serve.self, Migrate.self, Republish.self],
        defaultSubcommand: Serve.self)
}

/// Loads settings and a logger, or explains what is wrong with the configuration.
private func loadSettings() throws -> (ManagementSettings, Logger) {
    do {
        let settings = try ManagementSettings(environment: ProcessInfo.processInfo.environment)
        return (settings, ServiceLogging.makeLogger(label: "management-api", level: settings.logLevel))
    } catch {
        FileHandle.standardError.write(Data("management-api: \(error)\n".utf8))
        throw ExitCode(78)  // EX_CONFIG
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the API (the default).")

    func run() async throws {
        let (settings, logger) = try loadSettings()
        logger.info("starting management-api", metadata: settings.logMetadata)
        try await settings.database.checkAtStart(logger: logger)
        let application = ManagementApplication(settings: settings, logger: logger)
        try await ServiceRunner.run([application.makeApplication(try application.makeParts())], logger: logger)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply database migrations and exit.")

    func run() async throws {
        let (settings, logger) = try loadSettings()
        let client = PostgresClient(configuration: settings.database.clientConfiguration(maximumConnections: 4), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            try await Migrations.apply(client: client, logger: logger)
            group.cancelAll()
        }
        logger.info("migrations applied")
    }
}

struct Republish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Queue the full current state for the config topic and publish it, then exit.")

    func run() async throws {
        let (settings, logger) = try loadSettings()
        let parts = try ManagementApplication(settings: settings, logger: logger).makeParts()
        let (client, store, producer, topic, publisher) = (parts.postgres, parts.store, parts.producer, parts.topic, parts.publisher)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            group.addTask { try await producer.run() }
            try await Migrations.apply(client: client, logger: logger)
            let count = try await store.republish()
            let state = try await topic.ensure()
            while true {
                try await publisher.drain(partitionCount: state.partitionCount)
                let rows = try await client.query("SELECT count(*) FROM outbox WHERE sent_at IS NULL", logger: logger)
                var remaining: Int64 = 0
                for try await value in rows.decode(Int64.self) { remaining = value }
                if remaining == 0 { break }
                try await Task.sleep(for: .seconds(1))
            }
            logger.info("republished", metadata: ["records": "\(count)"])
            group.cancelAll()
        }
    }
}
